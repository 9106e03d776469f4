//! End-to-end tests of `appnet get` as users run it, against `appnet http serve`: bodies to a
//! file and to stdout byte-exact, `-I`, `-i`, `-r`, `-L`, `-v`, and curl's exit codes (22 with
//! `-f`, 7 for a closed port, 28 for a server that never answers), and https trusting appnet's
//! local CA by default.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use appnet_testkit::Appnet;

const APPNET: &str = env!("CARGO_BIN_EXE_appnet");
const DATA_LEN: usize = 100_000;

fn data() -> Vec<u8> {
    (0..DATA_LEN).map(|i| (i % 251) as u8).collect()
}

/// A site on disk and `appnet http serve` serving it; `base` is `http://127.0.0.1:PORT`.
struct Served {
    _server: Appnet,
    root: tempfile::TempDir,
    base: String,
    /// `https://127.0.0.1:PORT` when served with TLS too.
    secure: Option<String>,
}

fn serve(tls: bool) -> Served {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("hello.txt"), "hello, appnet\n").unwrap();
    std::fs::write(root.path().join("data.bin"), data()).unwrap();
    std::fs::create_dir(root.path().join("docs")).unwrap();
    std::fs::write(root.path().join("docs/index.html"), "<h1>docs</h1>\n").unwrap();
    let dir = root.path().to_str().unwrap();
    let mut args = vec![
        "http",
        "serve",
        "--root",
        dir,
        "--listen",
        "127.0.0.1:0",
        "--access-log",
        "off",
    ];
    if tls {
        args.extend(["--tls-listen", "127.0.0.1:0"]);
    }
    let server = Appnet::spawn(APPNET, &args);
    let lines = server.wait_for_line("service(s) running", Duration::from_secs(10));
    let address = |service: &str| {
        lines
            .iter()
            .find(|line| line.starts_with(service))
            .and_then(|line| {
                line.split_whitespace()
                    .find(|word| word.starts_with("127.0.0.1:"))
            })
            .map(str::to_owned)
    };
    let base = format!(
        "http://{}",
        address("http web origin").unwrap_or_else(|| panic!("no address in {lines:?}"))
    );
    let secure = address("https web origin").map(|addr| format!("https://{addr}"));
    Served {
        _server: server,
        root,
        base,
        secure,
    }
}

fn get(args: &[&str]) -> Output {
    Command::new(APPNET)
        .arg("get")
        .args(args)
        .output()
        .expect("run appnet get")
}

fn code(output: &Output) -> Option<i32> {
    output.status.code()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn writes_the_body_to_a_file_byte_exact() {
    let served = serve(false);
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("got.bin");
    let url = format!("{}/data.bin", served.base);
    let output = get(&["-o", file.to_str().unwrap(), &url]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
    assert!(std::fs::read(&file).unwrap() == data(), "the file differs");
    assert_eq!(
        std::fs::read(served.root.path().join("data.bin")).unwrap(),
        std::fs::read(&file).unwrap()
    );
}

#[test]
fn writes_the_body_to_stdout() {
    let served = serve(false);
    let output = get(&[&format!("{}/hello.txt", served.base)]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    assert_eq!(output.stdout, b"hello, appnet\n");
    let without_scheme = served.base.trim_start_matches("http://").to_owned() + "/hello.txt";
    assert_eq!(get(&[&without_scheme]).stdout, b"hello, appnet\n");
}

#[test]
fn head_and_include_print_the_response_head() {
    let served = serve(false);
    let url = format!("{}/data.bin", served.base);
    let head = get(&["-I", &url]);
    assert_eq!(code(&head), Some(0));
    let text = String::from_utf8_lossy(&head.stdout);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Content-Length: 100000\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\n"), "{text}");
    let included = get(&["-i", &format!("{}/hello.txt", served.base)]);
    let text = String::from_utf8_lossy(&included.stdout);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nhello, appnet\n"), "{text}");
}

#[test]
fn ranges_give_the_bytes_asked_for() {
    let served = serve(false);
    let url = format!("{}/data.bin", served.base);
    let first = get(&["-r", "0-9", &url]);
    assert_eq!(code(&first), Some(0), "{}", stderr(&first));
    assert_eq!(first.stdout, data()[..10]);
    let tail = get(&["-r", "99990-", &url]);
    assert_eq!(tail.stdout, data()[99_990..]);
}

#[test]
fn redirects_are_followed_with_location() {
    let served = serve(false);
    let url = format!("{}/docs", served.base);
    let stay = get(&["-i", &url]);
    assert!(
        String::from_utf8_lossy(&stay.stdout).starts_with("HTTP/1.1 301 "),
        "{}",
        String::from_utf8_lossy(&stay.stdout)
    );
    let follow = get(&["-L", &url]);
    assert_eq!(code(&follow), Some(0));
    assert_eq!(follow.stdout, b"<h1>docs</h1>\n");
    let limited = get(&["-L", "--max-redirs", "0", &url]);
    assert_eq!(code(&limited), Some(47), "{}", stderr(&limited));
}

#[test]
fn verbose_shows_both_heads_on_stderr() {
    let served = serve(false);
    let output = get(&["-v", &format!("{}/hello.txt", served.base)]);
    let err = stderr(&output);
    assert!(err.contains("> GET /hello.txt HTTP/1.1\n"), "{err}");
    assert!(err.contains("> Host: 127.0.0.1:"), "{err}");
    assert!(err.contains("< HTTP/1.1 200 OK\n"), "{err}");
    assert_eq!(output.stdout, b"hello, appnet\n");
}

#[test]
fn fail_gives_22_on_404() {
    let served = serve(false);
    let url = format!("{}/nothere", served.base);
    let plain = get(&[&url]);
    assert_eq!(code(&plain), Some(0));
    assert!(String::from_utf8_lossy(&plain.stdout).contains("404"));
    let failed = get(&["-f", &url]);
    assert_eq!(code(&failed), Some(22), "{}", stderr(&failed));
    assert!(failed.stdout.is_empty());
    assert!(stderr(&failed).contains("404"));
    let silent = get(&["-fs", &url]);
    assert_eq!(code(&silent), Some(22));
    assert!(stderr(&silent).is_empty());
}

#[test]
fn closed_ports_give_7_and_silent_servers_28() {
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let refused = get(&[&format!("http://{closed}/")]);
    assert_eq!(code(&refused), Some(7), "{}", stderr(&refused));
    // Accepted by the kernel, never answered.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let started = Instant::now();
    let timed_out = get(&[
        "--max-time",
        "1",
        &format!("http://{}/", silent.local_addr().unwrap()),
    ]);
    assert_eq!(code(&timed_out), Some(28), "{}", stderr(&timed_out));
    assert!(started.elapsed() < Duration::from_secs(5));
    let bad_url = get(&["http://127.0.0.1:99999/"]);
    assert_eq!(code(&bad_url), Some(3));
}

#[test]
fn https_trusts_appnets_local_ca_by_default() {
    let served = serve(true);
    let secure = served.secure.clone().expect("an https row in the table");
    let output = get(&[&format!("{secure}/hello.txt")]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    assert_eq!(output.stdout, b"hello, appnet\n");
    let junk = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(junk.path(), "not a certificate").unwrap();
    let bad_ca = get(&["--cacert", path(junk.path()), &format!("{secure}/")]);
    assert_eq!(code(&bad_ca), Some(77), "{}", stderr(&bad_ca));
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}
