//! End-to-end tests of the FTP client (`appnet ftp URL`, `ftp get|put|ls`) against a server
//! we did not write: a private vsftpd per test (see `ftp_peers/vsftpd.rs` for its recipe),
//! plain and with explicit TLS. Then the server as a user runs it: `appnet ftp serve` with our
//! client, uploads surviving `kill -9`, and the FTP site of `appnet up`. Every appnet run is
//! under a timeout that kills it, and each server is stopped when its test ends, pass or fail.

#[path = "ftp_peers/vsftpd.rs"]
mod vsftpd;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use appnet_testkit::{Appnet, free_port_on, pseudo_random, run_to_completion, up_config};
use vsftpd::Vsftpd;

const APPNET: &str = env!("CARGO_BIN_EXE_appnet");
/// How long one appnet run may take (debug build, shared machine).
const TIMEOUT: Duration = Duration::from_secs(60);

/// Runs appnet with `args` in `dir`, `stdin` piped in, to completion (killed after
/// [`TIMEOUT`]).
fn appnet_in(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    run_to_completion(
        Command::new(APPNET).args(args).current_dir(dir),
        stdin,
        TIMEOUT,
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs appnet and insists it succeeds; returns (stdout, stderr).
fn ok(dir: &Path, args: &[&str]) -> (String, String) {
    ok_with_input(dir, args, b"")
}

fn ok_with_input(dir: &Path, args: &[&str], stdin: &[u8]) -> (String, String) {
    let out = appnet_in(dir, args, stdin);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "appnet {args:?} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    (stdout, stderr)
}

/// A scratch directory for the client's side.
fn local_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a local directory")
}

fn put_file(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    // Anonymous vsftpd serves only world-readable files.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn ls_lists_a_directory_with_sizes_and_kinds() {
    let server = Vsftpd::start();
    put_file(&server.public().join("hello.txt"), b"hello\n");
    std::fs::create_dir(server.public().join("docs")).unwrap();
    let here = local_dir();
    let (listing, _) = ok(here.path(), &["ftp", "ls", &server.url("pub/")]);
    let line_of = |name: &str| {
        listing
            .lines()
            .find(|l| l.ends_with(&format!(" {name}")))
            .unwrap_or_else(|| panic!("no {name} in:\n{listing}"))
            .to_string()
    };
    let hello = line_of("hello.txt");
    assert!(hello.starts_with('-'), "{hello}");
    assert!(hello.split_whitespace().nth(1) == Some("6"), "{hello}");
    assert!(line_of("docs").starts_with('d'));
}

#[test]
fn get_downloads_byte_for_byte() {
    let server = Vsftpd::start();
    let data = pseudo_random(3 * 1024 * 1024 + 123, 7);
    put_file(&server.public().join("big.bin"), &data);
    let here = local_dir();
    ok(
        here.path(),
        &["ftp", "get", &server.url("pub/big.bin"), "-o", "copy.bin"],
    );
    assert!(std::fs::read(here.path().join("copy.bin")).unwrap() == data);
    // Without -o, the remote file's name, here.
    ok(here.path(), &["ftp", "get", &server.url("pub/big.bin")]);
    assert!(std::fs::read(here.path().join("big.bin")).unwrap() == data);
    // -o - writes to standard output.
    let out = appnet_in(
        here.path(),
        &["ftp", "get", &server.url("pub/big.bin"), "-o", "-"],
        b"",
    );
    assert!(out.status.success());
    assert!(out.stdout == data);
}

#[test]
fn get_continue_fetches_only_the_rest() {
    let server = Vsftpd::start();
    let data = pseudo_random(1024 * 1024, 11);
    put_file(&server.public().join("resume.bin"), &data);
    let here = local_dir();
    let half = data.len() / 2;
    std::fs::write(here.path().join("resume.bin"), &data[..half]).unwrap();
    let url = server.url("pub/resume.bin");
    let (_, trace) = ok(here.path(), &["--trace", "ftp", "get", "-C", &url]);
    assert!(trace.contains(&format!("C: REST {half}")), "{trace}");
    assert!(
        trace.contains(&format!(
            "data connection closed: {} bytes received",
            data.len() - half
        )),
        "{trace}"
    );
    assert!(std::fs::read(here.path().join("resume.bin")).unwrap() == data);
    // A complete file is left alone: no RETR at all.
    let (_, trace) = ok(here.path(), &["--trace", "ftp", "get", "--continue", &url]);
    assert!(!trace.contains("RETR"), "{trace}");
    assert!(trace.contains("already complete"), "{trace}");
}

#[test]
fn put_then_get_back() {
    let server = Vsftpd::start();
    let here = local_dir();
    let data = pseudo_random(2 * 1024 * 1024 + 5, 3);
    std::fs::write(here.path().join("up.bin"), &data).unwrap();
    // A URL ending in / is a directory: the file keeps its name.
    ok(
        here.path(),
        &["ftp", "put", "up.bin", &server.url("upload/")],
    );
    assert!(std::fs::read(server.uploads().join("up.bin")).unwrap() == data);
    ok(
        here.path(),
        &["ftp", "put", "up.bin", &server.url("upload/renamed.bin")],
    );
    ok(
        here.path(),
        &[
            "ftp",
            "get",
            &server.url("upload/renamed.bin"),
            "-o",
            "back.bin",
        ],
    );
    assert!(std::fs::read(here.path().join("back.bin")).unwrap() == data);
    // APPE adds to the end.
    std::fs::write(here.path().join("tail.txt"), b"tail").unwrap();
    ok(
        here.path(),
        &[
            "ftp",
            "put",
            "--append",
            "tail.txt",
            &server.url("upload/renamed.bin"),
        ],
    );
    let appended = std::fs::read(server.uploads().join("renamed.bin")).unwrap();
    assert!(appended.len() == data.len() + 4 && appended.ends_with(b"tail"));
}

#[test]
fn a_shell_script_makes_renames_and_removes() {
    let server = Vsftpd::start();
    let here = local_dir();
    std::fs::write(here.path().join("note.txt"), b"a note\n").unwrap();
    let script = "\
# comments and blank lines are skipped

cd upload
mkdir work
cd work
pwd
put note.txt
ls
rename note.txt \"a note.txt\"
get \"a note.txt\" fetched.txt
size \"a note.txt\"
mkdir gone
rmdir gone
quit
";
    let (stdout, stderr) = ok_with_input(here.path(), &["ftp", &server.url("")], script.as_bytes());
    let work = server.uploads().join("work");
    assert!(work.join("a note.txt").is_file(), "{stderr}");
    assert!(!work.join("note.txt").exists());
    assert!(!work.join("gone").exists());
    assert_eq!(
        std::fs::read(here.path().join("fetched.txt")).unwrap(),
        b"a note\n"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].ends_with("/upload/work"), "{stdout}");
    assert!(
        lines[1].starts_with('-') && lines[1].ends_with(" note.txt"),
        "{stdout}"
    );
    assert_eq!(lines[2], "7");

    // Now remove it all; a failing command does not stop the script but fails the exit.
    let script = "cd upload/work\nrm \"a note.txt\"\nrm missing.txt\ncd ..\nrmdir work\n";
    let out = appnet_in(here.path(), &["ftp", &server.url("")], script.as_bytes());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("rm: DELE missing.txt: 550"),
        "{}",
        text(&out.stderr)
    );
    assert!(!work.exists());
}

#[test]
fn active_mode_lets_the_server_connect() {
    let server = Vsftpd::start();
    let data = pseudo_random(512 * 1024, 5);
    put_file(&server.public().join("a.bin"), &data);
    let here = local_dir();
    let (_, trace) = ok(
        here.path(),
        &[
            "--trace",
            "ftp",
            "get",
            "--active",
            &server.url("pub/a.bin"),
            "-o",
            "a.bin",
        ],
    );
    assert!(trace.contains("C: EPRT |1|127.0.0.1|"), "{trace}");
    assert!(trace.contains("(active; the server connected)"), "{trace}");
    assert!(!trace.contains("C: EPSV"), "{trace}");
    assert!(std::fs::read(here.path().join("a.bin")).unwrap() == data);
    ok(
        here.path(),
        &["ftp", "put", "--active", "a.bin", &server.url("upload/")],
    );
    assert!(std::fs::read(server.uploads().join("a.bin")).unwrap() == data);
    let (listing, _) = ok(
        here.path(),
        &["ftp", "ls", "--active", &server.url("upload")],
    );
    assert!(listing.contains(" a.bin"), "{listing}");
}

#[test]
fn explicit_tls_encrypts_the_login_and_the_data() {
    let server = Vsftpd::start_tls();
    let ca = server.ca_file.clone().unwrap();
    let ca = ca.to_str().unwrap();
    let data = pseudo_random(1024 * 1024 + 17, 13);
    put_file(&server.public().join("secret.bin"), &data);
    let here = local_dir();
    let (_, trace) = ok(
        here.path(),
        &[
            "--trace",
            "ftp",
            "get",
            "--tls",
            "--cacert",
            ca,
            &server.url("pub/secret.bin"),
            "-o",
            "s.bin",
        ],
    );
    assert!(std::fs::read(here.path().join("s.bin")).unwrap() == data);
    // AUTH TLS before the user name; PBSZ and PROT P after the login (RFC 4217).
    let order = [
        "C: AUTH TLS",
        "S: 234",
        "TLS handshake done",
        "C: USER anonymous",
        "C: PBSZ 0",
        "C: PROT P",
        "C: RETR",
    ];
    let mut at = 0;
    for step in order {
        at += trace[at..]
            .find(step)
            .unwrap_or_else(|| panic!("{step:?} missing or out of order in:\n{trace}"));
    }
    // vsftpd's require_ssl_reuse: the data connection resumed the control session.
    assert!(
        trace.contains("the control connection's session resumed"),
        "{trace}"
    );

    ok(
        here.path(),
        &[
            "ftp",
            "put",
            "--tls",
            "--cacert",
            ca,
            "s.bin",
            &server.url("upload/"),
        ],
    );
    assert!(std::fs::read(server.uploads().join("s.bin")).unwrap() == data);
    let (listing, _) = ok(
        here.path(),
        &["ftp", "ls", "--tls", "--cacert", ca, &server.url("pub/")],
    );
    assert!(listing.contains(" secret.bin"), "{listing}");
    ok_with_input(
        here.path(),
        &["ftp", "--tls", "--cacert", ca, &server.url("upload/")],
        b"mkdir t\nrmdir t\n",
    );

    // This server refuses a login in the clear (curl's 67, login denied) ...
    let out = appnet_in(here.path(), &["ftp", "ls", &server.url("pub/")], b"");
    assert_eq!(out.status.code(), Some(67), "{}", text(&out.stderr));
    // ... and a CA that did not sign its certificate fails the handshake (35).
    let other = appnet_core::tls::TlsMaterial::generate(&["127.0.0.1"]).unwrap();
    std::fs::write(here.path().join("other.pem"), other.ca_pem()).unwrap();
    let out = appnet_in(
        here.path(),
        &[
            "ftp",
            "ls",
            "--tls",
            "--cacert",
            "other.pem",
            &server.url("pub/"),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(35), "{}", text(&out.stderr));
}

#[test]
fn tls_required_fails_against_a_server_without_it() {
    let server = Vsftpd::start();
    let here = local_dir();
    let material = appnet_core::tls::TlsMaterial::generate(&["127.0.0.1"]).unwrap();
    std::fs::write(here.path().join("ca.pem"), material.ca_pem()).unwrap();
    let out = appnet_in(
        here.path(),
        &[
            "--trace",
            "ftp",
            "ls",
            "--tls",
            "--cacert",
            "ca.pem",
            &server.url("pub/"),
        ],
        b"",
    );
    // curl's 64 (USE_SSL_FAILED), and no USER went out in the clear.
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("C: USER"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn korean_file_names_work_everywhere() {
    let server = Vsftpd::start();
    let dir = server.public().join("자료실");
    std::fs::create_dir(&dir).unwrap();
    put_file(&dir.join("보고서 2024.txt"), "한글 내용\n".as_bytes());
    let here = local_dir();
    let (listing, _) = ok(here.path(), &["ftp", "ls", &server.url("pub/자료실/")]);
    assert!(listing.contains(" 보고서 2024.txt"), "{listing}");
    // Percent-encoded, as a browser writes it, and raw.
    let encoded =
        server.url("pub/%EC%9E%90%EB%A3%8C%EC%8B%A4/%EB%B3%B4%EA%B3%A0%EC%84%9C%202024.txt");
    ok(here.path(), &["ftp", "get", &encoded]);
    assert_eq!(
        std::fs::read(here.path().join("보고서 2024.txt")).unwrap(),
        "한글 내용\n".as_bytes()
    );
    ok(
        here.path(),
        &[
            "ftp",
            "get",
            &server.url("pub/자료실/보고서 2024.txt"),
            "-o",
            "raw.txt",
        ],
    );
    assert_eq!(
        std::fs::read(here.path().join("raw.txt")).unwrap(),
        "한글 내용\n".as_bytes()
    );
    ok(
        here.path(),
        &["ftp", "put", "raw.txt", &server.url("upload/업로드.txt")],
    );
    assert!(server.uploads().join("업로드.txt").is_file());
    let (stdout, _) = ok_with_input(
        here.path(),
        &["ftp", &server.url("")],
        "cd pub/자료실\npwd\nget \"보고서 2024.txt\" 사본.txt\n".as_bytes(),
    );
    assert!(stdout.trim_end().ends_with("/pub/자료실"), "{stdout}");
    assert!(here.path().join("사본.txt").is_file());
}

#[test]
fn trace_shows_the_control_dialogue_and_data_connections() {
    let server = Vsftpd::start();
    put_file(&server.public().join("t.txt"), b"traced\n");
    let here = local_dir();
    let (_, trace) = ok(
        here.path(),
        &[
            "--trace",
            "--trace-bytes",
            "ftp",
            "get",
            &server.url("pub/t.txt"),
            "-o",
            "t.txt",
        ],
    );
    for expected in [
        "ftp  127.0.0.1:",
        "S: 220 (vsFTPd 3.0.3)",
        "C: USER anonymous",
        "S: 331 Please specify the password.",
        "C: PASS ****",
        "S: 230 Login successful.",
        "C: FEAT",
        "C: TYPE I",
        "C: SIZE pub/t.txt",
        "S: 213 7",
        "C: EPSV",
        "S: 229 Entering Extended Passive Mode (|||",
        "C: RETR pub/t.txt",
        "S: 150 Opening BINARY mode data connection for pub/t.txt (7 bytes).",
        "data connection opened (passive) for RETR pub/t.txt",
        "S: data connection closed: 7 bytes received",
        "S: 226 Transfer complete.",
        "C: QUIT",
        "S: 221 Goodbye.",
    ] {
        assert!(
            trace.contains(expected),
            "{expected:?} missing from:\n{trace}"
        );
    }
    assert!(trace.contains("ftp-data 127.0.0.1:"), "{trace}");
    // The anonymous password is in neither the summary nor the hex dump.
    assert!(!trace.contains("appnet@"), "{trace}");
}

#[test]
fn a_missing_file_fails_like_curl_and_leaves_nothing_behind() {
    let server = Vsftpd::start();
    let here = local_dir();
    let out = appnet_in(
        here.path(),
        &["ftp", "get", &server.url("pub/nothing.txt")],
        b"",
    );
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    assert!(!here.path().join("nothing.txt").exists());
    // Nor does it empty a file that was there.
    std::fs::write(here.path().join("keep.txt"), b"precious").unwrap();
    let out = appnet_in(
        here.path(),
        &[
            "ftp",
            "get",
            &server.url("pub/nothing.txt"),
            "-o",
            "keep.txt",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read(here.path().join("keep.txt")).unwrap(),
        b"precious"
    );
    let out = appnet_in(here.path(), &["ftp", "get", "ftp://127.0.0.1:1/x"], b"");
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    let out = appnet_in(here.path(), &["ftp", "get", "http://example/x"], b"");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
}

/// The vsftpd.conf the harness writes, printed for whoever wants the recipe (`--nocapture`).
#[test]
fn the_vsftpd_recipe_starts() {
    let server = Vsftpd::start_tls();
    let config: PathBuf = server.root.join("..").join("vsftpd.conf");
    assert!(config.exists());
    println!("{}", server.config);
    assert!(server.log().is_empty(), "{}", server.log());
}

// --- `appnet ftp serve` ---

/// `appnet ftp serve` over `root` on a free port with the account bob:pw; the server and
/// its address.
fn serve(root: &Path, extra: &[&str]) -> (Appnet, String) {
    let port = free_port_on(&["127.0.0.1".parse().unwrap()]).to_string();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        "ftp",
        "serve",
        "--root",
        root.to_str().unwrap(),
        "--listen",
        &listen,
    ];
    args.extend(["--user", "bob:pw"]);
    args.extend(extra);
    let server = Appnet::spawn(APPNET, &args);
    server.wait_for_line("service(s) running", TIMEOUT);
    (server, listen)
}

#[test]
fn our_client_and_our_server_in_every_mode() {
    let root = local_dir();
    let local = local_dir();
    let (_server, addr) = serve(root.path(), &[]);
    let data = pseudo_random(2 << 20, 21);
    put_file(&local.path().join("data.bin"), &data);
    let url = |path: &str| format!("ftp://bob:pw@{addr}/{path}");
    for (mode, flags) in [
        ("passive", vec![]),
        ("active", vec!["--active"]),
        ("tls", vec!["--tls"]),
        ("tls-active", vec!["--tls", "--active"]),
    ] {
        let name = format!("{mode}.bin");
        let mut put = vec!["ftp", "put", "data.bin"];
        let target = url(&name);
        put.push(&target);
        put.extend(&flags);
        ok(local.path(), &put);
        assert!(
            std::fs::read(root.path().join(&name)).unwrap() == data,
            "{mode} upload"
        );
        let copy = format!("copy-{mode}.bin");
        let mut get = vec!["ftp", "get", &target, "-o", &copy];
        get.extend(&flags);
        ok(local.path(), &get);
        assert!(
            std::fs::read(local.path().join(&copy)).unwrap() == data,
            "{mode} download"
        );
    }
    let (listing, _) = ok(local.path(), &["ftp", "ls", &url("")]);
    assert!(listing.contains("tls-active.bin"), "{listing}");
    let script = "mkdir \"새 폴더\"\ncd \"새 폴더\"\nput data.bin\nls\nrename data.bin moved.bin\nrm moved.bin\ncd ..\nrmdir \"새 폴더\"\nquit\n";
    let (out, _) = ok_with_input(local.path(), &["ftp", &url("")], script.as_bytes());
    assert!(out.contains("data.bin"), "{out}");
    assert!(!root.path().join("새 폴더").exists());
}

#[test]
fn acknowledged_uploads_survive_kill_9_and_a_cut_one_leaves_nothing() {
    let root = local_dir();
    let local = local_dir();
    let (server, addr) = serve(root.path(), &[]);
    let files: Vec<Vec<u8>> = (0..10)
        .map(|n| pseudo_random(100_000 + n * 1000, n as u64 + 1))
        .collect();
    for (n, contents) in files.iter().enumerate() {
        let name = format!("f{n}.bin");
        put_file(&local.path().join(&name), contents);
        ok(
            local.path(),
            &["ftp", "put", &name, &format!("ftp://bob:pw@{addr}/{name}")],
        );
    }
    // An upload half sent when the server dies: it was never acknowledged.
    let mut control = std::net::TcpStream::connect(&addr).unwrap();
    control.set_read_timeout(Some(TIMEOUT)).unwrap();
    let reply = |control: &mut std::net::TcpStream, line: &str| {
        control.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        let mut buf = [0u8; 512];
        let n = control.read(&mut buf).unwrap();
        text(&buf[..n])
    };
    let mut greeting = [0u8; 512];
    let _ = control.read(&mut greeting).unwrap();
    reply(&mut control, "USER bob");
    assert!(reply(&mut control, "PASS pw").starts_with("230"));
    let epsv = reply(&mut control, "EPSV");
    let port: u16 = epsv
        .split("|||")
        .nth(1)
        .unwrap()
        .split('|')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut upload = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert!(reply(&mut control, "STOR half.bin").starts_with("150"));
    upload.write_all(&pseudo_random(1 << 20, 99)).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    server.signal(libc::SIGKILL);
    drop(server);
    let (_server, addr) = serve(root.path(), &["--anonymous"]);
    for (n, contents) in files.iter().enumerate() {
        let stored = std::fs::read(root.path().join(format!("f{n}.bin"))).unwrap();
        assert!(stored == *contents, "f{n}.bin differs after kill -9");
    }
    assert!(
        !root.path().join("half.bin").exists(),
        "a cut upload has no final name"
    );
    let (listing, _) = ok(local.path(), &["ftp", "ls", &format!("ftp://{addr}/")]);
    assert!(
        !listing.contains("half") && !listing.contains("appnet-upload"),
        "{listing}"
    );
}

#[test]
fn up_runs_an_ftp_site_anyone_can_read_and_alice_can_write() {
    let config_text = up_config();
    let local = local_dir();
    let config = local.path().join("up.toml");
    std::fs::write(&config, &config_text).unwrap();
    let up = Appnet::spawn(APPNET, &["--config", config.to_str().unwrap(), "up"]);
    let lines = up.wait_for_line("service(s) running", TIMEOUT);
    let row = lines
        .iter()
        .find(|line| line.starts_with("ftp "))
        .unwrap_or_else(|| panic!("no ftp row in {lines:#?}"));
    let addr = row
        .split_whitespace()
        .find(|word| word.parse::<std::net::SocketAddr>().is_ok())
        .unwrap()
        .to_string();
    let (readme, _) = ok(
        local.path(),
        &["ftp", "get", &format!("ftp://{addr}/README.txt"), "-o", "-"],
    );
    assert!(readme.contains("mini Internet"), "{readme}");
    let (korean, _) = ok(local.path(), &["ftp", "ls", &format!("ftp://{addr}/pub/")]);
    assert!(korean.contains("안녕하세요.txt"), "{korean}");
    put_file(&local.path().join("note.txt"), b"from alice\n");
    let refused = appnet_in(
        local.path(),
        &["ftp", "put", "note.txt", &format!("ftp://{addr}/incoming/")],
        b"",
    );
    assert!(!refused.status.success(), "anonymous users may not upload");
    ok(
        local.path(),
        &[
            "ftp",
            "put",
            "note.txt",
            &format!("ftp://alice:alice@{addr}/incoming/"),
        ],
    );
    let (back, _) = ok(
        local.path(),
        &[
            "ftp",
            "get",
            &format!("ftp://{addr}/incoming/note.txt"),
            "-o",
            "-",
        ],
    );
    assert_eq!(back, "from alice\n");
}
