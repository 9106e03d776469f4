//! Our FTP server driven by clients we did not write: curl, lftp and python's ftplib, over
//! clear text and explicit TLS (RFC 4217), passive and active, with every byte compared.

mod common;

use std::process::Command;

use appnet_testkit::{pseudo_random, python3, require_peer};
use common::{Lab, PASSWORD, USER, run_ok, run_peer, tree};

fn curl(lab: &Lab) -> Command {
    let mut command = Command::new(require_peer("curl"));
    command
        .args(["--silent", "--show-error", "--fail", "--max-time", "50"])
        .args(["--user", &format!("{USER}:{PASSWORD}")])
        .current_dir(lab.dir.path());
    command
}

#[test]
fn curl_lists_gets_puts_and_resumes_both_ways() {
    let lab = Lab::start(|_| {});
    let big = pseudo_random(3 << 20, 7);
    lab.put_file("data/big.bin", &big);
    lab.put_file("data/안녕.txt", "한국어\n".as_bytes());

    let listing = run_ok(curl(&lab).arg(lab.url("/data/")));
    assert!(
        listing.contains(" big.bin") && listing.contains(" 안녕.txt"),
        "{listing}"
    );
    let names = run_ok(curl(&lab).arg("--list-only").arg(lab.url("/data/")));
    assert_eq!(names.lines().collect::<Vec<_>>(), ["big.bin", "안녕.txt"]);

    // Download, and resume a download cut in half (REST + RETR).
    let local = lab.client_dir("client").join("big.bin");
    run_ok(
        curl(&lab)
            .arg("-o")
            .arg(&local)
            .arg(lab.url("/data/big.bin")),
    );
    assert!(std::fs::read(&local).unwrap() == big);
    std::fs::write(&local, &big[..big.len() / 2]).unwrap();
    run_ok(
        curl(&lab)
            .args(["-C", "-", "-o"])
            .arg(&local)
            .arg(lab.url("/data/big.bin")),
    );
    assert!(
        std::fs::read(&local).unwrap() == big,
        "resumed download differs"
    );
    let korean = run_ok(curl(&lab).arg(lab.url("/data/%EC%95%88%EB%85%95.txt")));
    assert_eq!(korean, "한국어\n");

    // Upload (STOR, into a directory curl makes), and resume an upload cut short (APPE).
    run_ok(
        curl(&lab)
            .args(["--ftp-create-dirs", "-T"])
            .arg(&local)
            .arg(lab.url("/up/new/big.bin")),
    );
    let stored = lab.root().join("up/new/big.bin");
    assert!(std::fs::read(&stored).unwrap() == big);
    std::fs::write(&stored, &big[..1_000_000]).unwrap();
    run_ok(
        curl(&lab)
            .args(["-C", "-", "-T"])
            .arg(&local)
            .arg(lab.url("/up/new/big.bin")),
    );
    assert!(
        std::fs::read(&stored).unwrap() == big,
        "resumed upload differs"
    );

    // Active mode (EPRT), both directions.
    let active = lab.client_dir("client").join("active.bin");
    run_ok(
        curl(&lab)
            .args(["-P", "-", "-o"])
            .arg(&active)
            .arg(lab.url("/data/big.bin")),
    );
    assert!(std::fs::read(&active).unwrap() == big);
    run_ok(
        curl(&lab)
            .args(["-P", "-", "-T"])
            .arg(&active)
            .arg(lab.url("/up/active.bin")),
    );
    assert!(std::fs::read(lab.root().join("up/active.bin")).unwrap() == big);

    // DELE through a quote command; the listing no longer shows it.
    run_ok(
        curl(&lab)
            .args(["-Q", "DELE up/active.bin"])
            .arg(lab.url("/")),
    );
    assert!(!lab.root().join("up/active.bin").exists());
}

#[test]
fn curl_requires_and_gets_tls_with_ssl_reqd() {
    let lab = Lab::start(|_| {});
    let file = pseudo_random(200_000, 3);
    lab.put_file("f.bin", &file);
    let tls = |lab: &Lab| {
        let mut command = curl(lab);
        command.arg("--ssl-reqd").arg("--cacert").arg(lab.ca());
        command
    };
    let listing = run_ok(tls(&lab).arg(lab.url("/")));
    assert!(listing.contains(" f.bin"), "{listing}");
    let local = lab.client_dir("c").join("f.bin");
    run_ok(tls(&lab).arg("-o").arg(&local).arg(lab.url("/f.bin")));
    assert!(std::fs::read(&local).unwrap() == file);
    run_ok(tls(&lab).arg("-T").arg(&local).arg(lab.url("/copy.bin")));
    assert!(std::fs::read(lab.root().join("copy.bin")).unwrap() == file);
    // Debian's curl 7.88 does not start TLS on an active data connection (curl issue
    // 10666), so active FTPS is covered by ftplib below instead.

    // A server without a certificate refuses AUTH; --ssl-reqd then fails rather than
    // sending the password in clear.
    let plain = Lab::start_with_tls(false, |_| {});
    let refused = run_peer(tls(&plain).arg(plain.url("/")));
    assert!(!refused.status.success());
}

#[test]
fn lftp_mirrors_a_tree_both_ways_over_tls() {
    let lab = Lab::start(|_| {});
    lab.put_file("site/index.html", b"<h1>hello</h1>\n");
    lab.put_file("site/img/logo.bin", &pseudo_random(500_000, 11));
    lab.put_file("site/한국어/문서.txt", "내용\n".as_bytes());
    lab.put_file("site/empty", b"");
    let down = lab.client_dir("down");
    let script = format!(
        "set ssl:ca-file {ca}; set ftp:ssl-force true; set ftp:ssl-protect-data true; \
         set net:max-retries 1; set net:timeout 20; \
         open -u {USER},{PASSWORD} ftp://{addr}; \
         mirror site {down}/site; \
         mirror -R {down}/site uploaded",
        ca = lab.ca().display(),
        addr = lab.addr,
        down = down.display(),
    );
    run_ok(Command::new(require_peer("lftp")).args(["-c", &script]));
    let original = tree(&lab.root().join("site"));
    assert_eq!(original.len(), 6, "{original:?}");
    assert_eq!(tree(&down.join("site")), original, "mirror down differs");
    assert_eq!(
        tree(&lab.root().join("uploaded")),
        original,
        "mirror up differs"
    );
}

#[test]
fn lftp_goes_on_in_clear_when_the_server_has_no_tls() {
    // lftp sends FEAT and AUTH TLS before USER: without a certificate the AUTH is refused
    // cleanly and, TLS not being forced, lftp logs in without it.
    let lab = Lab::start_with_tls(false, |_| {});
    lab.put_file("a.txt", b"plain\n");
    let script = format!(
        "set net:max-retries 1; set net:timeout 20; open -u {USER},{PASSWORD} ftp://{}; cat a.txt",
        lab.addr
    );
    let out = run_ok(Command::new(require_peer("lftp")).args(["-c", &script]));
    assert_eq!(out, "plain\n");
}

/// The ftplib script: every command it has, passive and active, clear and TLS.
const FTPLIB_SCRIPT: &str = r#"
import ftplib, hashlib, io, ssl, sys
host, port, user, password, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
big = bytes((i * 7919) % 251 for i in range(2_000_000))

def exercise(ftp, label):
    for passive in (True, False):
        ftp.set_pasv(passive)
        name = f"{label}-{'pasv' if passive else 'port'}.bin"
        ftp.storbinary(f"STOR {name}", io.BytesIO(big))
        got = bytearray()
        ftp.retrbinary(f"RETR {name}", got.extend)
        assert bytes(got) == big, (label, passive, len(got))
        assert ftp.size(name) == len(big)
        facts = dict(ftp.mlsd())
        assert facts[name]["type"] == "file" and facts[name]["size"] == str(len(big)), facts[name]
        assert name in ftp.nlst()
        # REST: the second half only.
        half = bytearray()
        ftp.retrbinary(f"RETR {name}", half.extend, rest=len(big) // 2)
        assert bytes(half) == big[len(big) // 2:]
    ftp.set_pasv(True)
    ftp.mkd(f"{label}-dir")
    ftp.cwd(f"{label}-dir")
    assert ftp.pwd() == f"/{label}-dir", ftp.pwd()
    # TYPE A: lines stored with storlines end in LF on disk and come back as lines.
    ftp.storlines("STOR notes.txt", io.BytesIO(b"one\ntwo\n"))
    lines = []
    ftp.retrlines("RETR notes.txt", lines.append)
    assert lines == ["one", "two"], lines
    ftp.rename("notes.txt", "renamed.txt")
    assert ftp.sendcmd("MDTM renamed.txt").startswith("213 ")
    ftp.delete("renamed.txt")
    ftp.cwd("..")
    ftp.rmd(f"{label}-dir")
    # ABOR in the middle of a download: 426 for the transfer, then 226 for the ABOR (or,
    # if the last bytes were already on their way, 226 for the transfer and 225). ftplib
    # reads only the first of the two.
    conn = ftp.transfercmd(f"RETR {label}-pasv.bin")
    conn.recv(1024)
    first = ftp.abort()
    conn.close()
    second = ftp.getresp()
    assert (first[:3], second[:3]) in (("426", "226"), ("226", "225")), (first, second)
    assert ftp.voidcmd("NOOP").startswith("200")

ftp = ftplib.FTP()
ftp.connect(host, port, timeout=20)
assert "UTF8" in ftp.sendcmd("FEAT")
ftp.login(user, password)
exercise(ftp, "clear")
ftp.quit()

context = ssl.create_default_context(cafile=ca)
tls = ftplib.FTP_TLS(context=context)
tls.connect(host, port, timeout=20)
tls.login(user, password)
tls.prot_p()
exercise(tls, "tls")
tls.quit()
print("ok")
"#;

#[test]
fn python_ftplib_passive_active_mlsd_and_ftp_tls() {
    let lab = Lab::start(|_| {});
    let out = run_ok(
        Command::new(python3())
            .args([
                "-c",
                FTPLIB_SCRIPT,
                "127.0.0.1",
                &lab.addr.port().to_string(),
            ])
            .args([USER, PASSWORD])
            .arg(lab.ca()),
    );
    assert_eq!(out.trim(), "ok");
    for name in [
        "clear-pasv.bin",
        "clear-port.bin",
        "tls-pasv.bin",
        "tls-port.bin",
    ] {
        let stored = std::fs::metadata(lab.root().join(name)).unwrap();
        assert_eq!(stored.len(), 2_000_000, "{name}");
    }
}

#[test]
fn anonymous_users_read_and_write_only_when_allowed() {
    let script = r#"
import ftplib, io, sys
ftp = ftplib.FTP()
ftp.connect("127.0.0.1", int(sys.argv[1]), timeout=20)
ftp.login()
got = bytearray()
ftp.retrbinary("RETR pub/hello.txt", got.extend)
assert bytes(got) == b"hello\n"
try:
    ftp.storbinary("STOR pub/new.txt", io.BytesIO(b"x"))
    print("stored")
except ftplib.error_perm as err:
    print(str(err)[:3])
"#;
    let run = |lab: &Lab| {
        run_ok(Command::new(python3()).args(["-c", script, &lab.addr.port().to_string()]))
    };
    let read_only = Lab::start(|config| config.anonymous = true);
    read_only.put_file("pub/hello.txt", b"hello\n");
    assert_eq!(run(&read_only).trim(), "550");
    assert!(!read_only.root().join("pub/new.txt").exists());

    let writable = Lab::start(|config| {
        config.anonymous = true;
        config.anonymous_write = true;
    });
    writable.put_file("pub/hello.txt", b"hello\n");
    assert_eq!(run(&writable).trim(), "stored");

    let closed = Lab::start(|_| {});
    closed.put_file("pub/hello.txt", b"hello\n");
    let refused =
        run_peer(Command::new(python3()).args(["-c", script, &closed.addr.port().to_string()]));
    assert!(
        !refused.status.success(),
        "anonymous login must fail when not enabled"
    );
}
