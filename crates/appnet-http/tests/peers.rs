//! Interop: our static server answering curl, python's http.client and raw pipelined requests,
//! refusing request-smuggling framing over a real socket, and answering like nginx serving the
//! same files.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use appnet_http::server::Site;
use appnet_testkit::{python3, require_peer};

mod common;

/// A site with a few files, served by us on a free port.
struct Ours {
    addr: SocketAddr,
    root: tempfile::TempDir,
    _server: common::Running,
}

fn site_files(root: &Path) {
    std::fs::write(root.join("index.html"), "<h1>home</h1>\n").unwrap();
    std::fs::write(root.join("hello.txt"), "hello, appnet\n").unwrap();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.join("data.bin"), data).unwrap();
    std::fs::create_dir(root.join("docs")).unwrap();
    std::fs::write(root.join("docs/한국어.txt"), "안녕하세요\n").unwrap();
    std::fs::write(root.join("style.css"), "body { color: black }\n").unwrap();
}

fn start_ours() -> Ours {
    let root = tempfile::tempdir().unwrap();
    site_files(root.path());
    let server = common::serve_site(Site::new(root.path()).unwrap(), None);
    Ours {
        addr: server.addr,
        root,
        _server: server,
    }
}

fn curl(args: &[&str]) -> Output {
    Command::new(require_peer("curl"))
        .args(["-s", "--max-time", "5"])
        .args(args)
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn curl_gets_files_heads_and_listings() {
    let ours = start_ours();
    let base = format!("http://{}", ours.addr);
    assert_eq!(
        text(&curl(&[&format!("{base}/hello.txt")])),
        "hello, appnet\n"
    );
    assert_eq!(
        text(&curl(&[&format!("{base}/")])),
        "<h1>home</h1>\n",
        "the index file"
    );
    let head = text(&curl(&["-I", &format!("{base}/style.css")]));
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("Content-Type: text/css") && head.contains("Content-Length: 22"),
        "{head}"
    );
    let listing = text(&curl(&[&format!("{base}/docs/")]));
    assert!(
        listing.contains("%ED%95%9C%EA%B5%AD%EC%96%B4.txt"),
        "{listing}"
    );
    assert_eq!(
        text(&curl(&[&format!(
            "{base}/docs/%ED%95%9C%EA%B5%AD%EC%96%B4.txt"
        )])),
        "안녕하세요\n"
    );
    let redirect = text(&curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{redirect_url}",
        &format!("{base}/docs"),
    ]));
    assert_eq!(redirect, format!("301 {base}/docs/"));
    let missing = text(&curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("{base}/nothere"),
    ]));
    assert_eq!(missing, "404");
}

#[test]
fn curl_speaks_http_1_0_and_reuses_1_1_connections() {
    let ours = start_ours();
    let url = format!("http://{}/hello.txt", ours.addr);
    let old = text(&curl(&["--http1.0", "-i", &url]));
    assert!(
        old.starts_with("HTTP/1.1 200 OK\r\n") && old.contains("Connection: close"),
        "{old}"
    );
    let null = "/dev/null";
    let reused = text(&curl(&[
        "-o",
        null,
        "-o",
        null,
        "-o",
        null,
        "-w",
        "%{num_connects} ",
        &url,
        &url,
        &url,
    ]));
    assert_eq!(reused, "1 0 0 ", "three requests, one connection");
}

#[test]
fn curl_ranges_single_multiple_and_unsatisfiable() {
    let ours = start_ours();
    let url = format!("http://{}/data.bin", ours.addr);
    let data = std::fs::read(ours.root.path().join("data.bin")).unwrap();
    let part = curl(&["-r", "1000-1999", &url]);
    assert_eq!(part.stdout, data[1000..2000]);
    let suffix = curl(&["-r", "-100", &url]);
    assert_eq!(suffix.stdout, data[data.len() - 100..]);
    let multi = curl(&["-i", "-r", "0-9,50-59", &url]);
    let body = String::from_utf8_lossy(&multi.stdout);
    assert!(
        body.contains("HTTP/1.1 206") && body.contains("multipart/byteranges; boundary="),
        "{body}"
    );
    assert!(
        body.contains("Content-Range: bytes 0-9/100000")
            && body.contains("Content-Range: bytes 50-59/100000")
    );
    let beyond = text(&curl(&["-i", "-r", "200000-", &url]));
    assert!(
        beyond.starts_with("HTTP/1.1 416") && beyond.contains("Content-Range: bytes */100000"),
        "{beyond}"
    );
}

#[test]
fn curl_conditional_requests_get_304_and_412() {
    let ours = start_ours();
    let url = format!("http://{}/hello.txt", ours.addr);
    let head = text(&curl(&["-I", &url]));
    let etag = head
        .lines()
        .find_map(|line| line.strip_prefix("ETag: "))
        .unwrap_or_else(|| panic!("no ETag in {head}"))
        .trim()
        .to_owned();
    let not_modified = text(&curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        &format!("If-None-Match: {etag}"),
        &url,
    ]));
    assert_eq!(not_modified, "304");
    let since = text(&curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-z",
        "Tue, 01 Jan 2999 00:00:00 GMT",
        &url,
    ]));
    assert_eq!(since, "304", "not modified since a date in the future");
    let failed = text(&curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "If-Match: \"other\"",
        &url,
    ]));
    assert_eq!(failed, "412");
}

#[test]
fn path_escapes_are_refused() {
    let ours = start_ours();
    let outside = ours
        .root
        .path()
        .parent()
        .unwrap()
        .join(format!("appnet-secret-{}", std::process::id()));
    std::fs::write(&outside, "secret").unwrap();
    std::os::unix::fs::symlink(&outside, ours.root.path().join("link")).unwrap();
    let base = format!("http://{}", ours.addr);
    for path in [
        "/../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/docs/..%2f..%2fetc%2fpasswd",
        "/link",
    ] {
        let out = curl(&[
            "--path-as-is",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{base}{path}"),
        ]);
        let status = text(&out);
        assert!(status == "400" || status == "404", "{path} gave {status}");
    }
    let _ = std::fs::remove_file(outside);
}

const PYTHON_CLIENT: &str = r#"
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
for path in ["/hello.txt", "/data.bin", "/nothere", "/hello.txt"]:
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    print(path, r.status, len(body) if r.status == 200 else "-", r.getheader("Content-Type"))
c.request("HEAD", "/data.bin")
r = c.getresponse()
print("HEAD", r.status, r.getheader("Content-Length"), len(r.read()))
"#;

#[test]
fn python_http_client_keeps_one_connection_for_many_requests() {
    let ours = start_ours();
    let out = Command::new(python3())
        .args(["-c", PYTHON_CLIENT, &ours.addr.port().to_string()])
        .output()
        .unwrap();
    let printed = text(&out);
    assert_eq!(
        printed,
        "/hello.txt 200 14 text/plain; charset=utf-8\n/data.bin 200 100000 application/octet-stream\n\
         /nothere 404 - text/html; charset=utf-8\n/hello.txt 200 14 text/plain; charset=utf-8\nHEAD 200 100000 0\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sends `request` on a fresh connection and reads until the server closes or 2 s pass.
fn raw_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let ours = start_ours();
    let request =
        b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD /data.bin HTTP/1.1\r\nHost: x\r\n\r\n\
                    GET /nothere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let answers = raw_exchange(ours.addr, request);
    let statuses: Vec<&str> = answers
        .lines()
        .filter(|line| line.starts_with("HTTP/1.1 "))
        .collect();
    assert_eq!(
        statuses,
        [
            "HTTP/1.1 200 OK",
            "HTTP/1.1 200 OK",
            "HTTP/1.1 404 Not Found"
        ],
        "{answers}"
    );
    assert!(answers.contains("hello, appnet\n"));
}

#[test]
fn smuggling_framings_get_400_and_close() {
    let ours = start_ours();
    let cases: [&[u8]; 5] = [
        b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
        b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
        b"GET /hello.txt HTTP/1.1\r\nHost : x\r\n\r\n",
        b"GET /hello.txt HTTP/1.1\r\n\r\n",
    ];
    for request in cases {
        let answer = raw_exchange(ours.addr, request);
        assert!(
            answer.starts_with("HTTP/1.1 400 "),
            "{:?} got {answer}",
            String::from_utf8_lossy(request)
        );
        assert_eq!(
            answer.matches("HTTP/1.1 ").count(),
            1,
            "nothing after the error: {answer}"
        );
    }
    let unknown_coding = raw_exchange(
        ours.addr,
        b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    );
    assert!(
        unknown_coding.starts_with("HTTP/1.1 501 ") || unknown_coding.starts_with("HTTP/1.1 400 "),
        "{unknown_coding}"
    );
}

/// nginx serving `root` on a free port, from a temp dir (see PEERS.md).
struct Nginx {
    child: Child,
    addr: SocketAddr,
    _work: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_nginx(root: &Path) -> Nginx {
    let work = tempfile::tempdir().unwrap();
    let port = appnet_testkit::free_port_on(&["127.0.0.1".parse().unwrap()]);
    let w = work.path().display();
    let conf = format!(
        "daemon off; master_process off; worker_processes 1; pid {w}/nginx.pid; error_log {w}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{ access_log off; include /etc/nginx/mime.types; default_type application/octet-stream;\n\
         client_body_temp_path {w}/b; proxy_temp_path {w}/p; fastcgi_temp_path {w}/f; uwsgi_temp_path {w}/u; scgi_temp_path {w}/s;\n\
         server {{ listen 127.0.0.1:{port}; root {}; autoindex on; }} }}\n",
        root.display()
    );
    std::fs::write(work.path().join("nginx.conf"), conf).unwrap();
    let child = Command::new(require_peer("nginx"))
        .args(["-c"])
        .arg(work.path().join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    for _ in 0..100 {
        if TcpStream::connect(addr).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Nginx {
        child,
        addr,
        _work: work,
    }
}

/// Status, the framing and validator fields, and the body of one request.
fn observe(
    addr: SocketAddr,
    args: &[&str],
    path: &str,
) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut argv: Vec<&str> = vec!["-i", "--path-as-is"];
    argv.extend(args);
    let url = format!("http://{addr}{path}");
    argv.push(&url);
    let out = curl(&argv);
    let split = out
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(out.stdout.len(), |at| at + 4);
    let (head, body) = out.stdout.split_at(split);
    let head = String::from_utf8_lossy(head);
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap_or_default()
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    // Accept-Ranges is left out: advisory, and nginx sends it with 200 only.
    let keep = [
        "content-length",
        "content-range",
        "etag",
        "last-modified",
        "location",
    ];
    let mut fields: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(": "))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
        .filter(|(name, _)| keep.contains(&name.as_str()))
        .map(|(name, value)| match name.as_str() {
            // Both redirect to the slashed path; nginx writes an absolute URL with its own port.
            "location" => (
                name,
                value
                    .rsplit_once(&addr.port().to_string())
                    .map_or(value.clone(), |(_, p)| p.to_owned()),
            ),
            _ => (name, value),
        })
        .collect();
    fields.sort();
    (status, fields, body.to_vec())
}

#[test]
fn we_answer_like_nginx_for_the_same_files() {
    let ours = start_ours();
    let nginx = start_nginx(ours.root.path());
    let (_, fields, _) = observe(ours.addr, &["-I"], "/hello.txt");
    let modified = format!(
        "If-Modified-Since: {}",
        field(&fields, "last-modified").unwrap()
    );
    // nginx's default `if_modified_since exact` answers 304 only for the exact date, where
    // RFC 9110 §13.1.3 (and we) answer 304 for any date not before Last-Modified: compare the
    // exact date, on which both agree.
    let cases: &[(&[&str], &str)] = &[
        (&["-H", &modified], "/hello.txt"),
        (&[], "/hello.txt"),
        (&[], "/data.bin"),
        (&["-I"], "/data.bin"),
        (&["-r", "0-99"], "/data.bin"),
        (&["-r", "99990-"], "/data.bin"),
        (&["-r", "-10"], "/data.bin"),
        (&["-r", "100000-"], "/data.bin"),
        (&["-H", "If-Match: \"nope\""], "/hello.txt"),
        (&[], "/"),
        (&[], "/nothere"),
        (&[], "/docs/%ED%95%9C%EA%B5%AD%EC%96%B4.txt"),
    ];
    for (args, path) in cases {
        let (our_status, our_fields, our_body) = observe(ours.addr, args, path);
        let (their_status, their_fields, their_body) = observe(nginx.addr, args, path);
        assert_eq!(our_status, their_status, "{args:?} {path}");
        match our_status.as_str() {
            // Error bodies are each server's own page; a 416 must agree on what it reports.
            "416" => assert_eq!(
                field(&our_fields, "content-range"),
                field(&their_fields, "content-range")
            ),
            status if status.starts_with('2') || status == "304" => {
                assert_eq!(our_fields, their_fields, "{args:?} {path}");
                assert_eq!(our_body, their_body, "{args:?} {path}");
            }
            _ => {}
        }
    }
    // Where a redirect sends the client.
    let (our_status, our_fields, _) = observe(ours.addr, &[], "/docs");
    let (their_status, their_fields, _) = observe(nginx.addr, &[], "/docs");
    assert_eq!(
        (our_status, field(&our_fields, "location")),
        (their_status, field(&their_fields, "location"))
    );
}

fn field(fields: &[(String, String)], name: &str) -> Option<String> {
    fields
        .iter()
        .find(|(field, _)| field == name)
        .map(|(_, value)| value.clone())
}

#[test]
fn curl_fetches_over_https_trusting_our_local_ca() {
    let root = tempfile::tempdir().unwrap();
    site_files(root.path());
    let tls_dir = tempfile::tempdir().unwrap();
    let material = appnet_core::tls::TlsMaterial::load_or_generate(
        tls_dir.path(),
        &["localhost", "127.0.0.1"],
    )
    .unwrap();
    let server = common::serve_site(
        Site::new(root.path()).unwrap(),
        Some(material.server_config().unwrap()),
    );
    let addr = server.addr;
    let ca = tls_dir.path().join("ca.pem");
    let ca = ca.to_str().unwrap();
    let data = std::fs::read(root.path().join("data.bin")).unwrap();
    let whole = curl(&[
        "--cacert",
        ca,
        &format!("https://localhost:{}/data.bin", addr.port()),
    ]);
    assert_eq!(
        whole.stdout,
        data,
        "{}",
        String::from_utf8_lossy(&whole.stderr)
    );
    let part = curl(&[
        "--cacert",
        ca,
        "-r",
        "10-19",
        &format!("https://127.0.0.1:{}/data.bin", addr.port()),
    ]);
    assert_eq!(part.stdout, data[10..20]);
    let untrusted = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("https://127.0.0.1:{}/", addr.port()),
    ]);
    assert_eq!(
        text(&untrusted),
        "000",
        "without our CA the certificate is not trusted"
    );
}

#[test]
fn text_is_compressed_for_clients_that_ask() {
    let ours = start_ours();
    let text_file = "line of text for compression\n".repeat(100);
    std::fs::write(ours.root.path().join("long.txt"), &text_file).unwrap();
    let url = format!("http://{}/long.txt", ours.addr);
    let gzip = curl(&["-i", "-H", "Accept-Encoding: gzip", &url]);
    let head = String::from_utf8_lossy(&gzip.stdout);
    assert!(
        head.contains("Content-Encoding: gzip") && head.contains("Vary: Accept-Encoding"),
        "{head}"
    );
    assert!(
        head.contains("ETag: W/\""),
        "a compressed body has a weak ETag: {head}"
    );
    let decoded = curl(&["--compressed", &url]);
    assert_eq!(
        String::from_utf8_lossy(&decoded.stdout),
        text_file,
        "curl decodes what we encoded"
    );
    let plain = curl(&["-i", &url]);
    assert!(
        !String::from_utf8_lossy(&plain.stdout).contains("Content-Encoding"),
        "no coding unless asked"
    );
    let binary = curl(&[
        "-i",
        "-H",
        "Accept-Encoding: gzip",
        &format!("http://{}/data.bin", ours.addr),
    ]);
    assert!(
        !String::from_utf8_lossy(&binary.stdout[..200]).contains("Content-Encoding"),
        "binary stays as it is"
    );
}

#[test]
fn curl_uploads_chunked_to_the_echo_endpoint() {
    let ours = start_ours();
    let url = format!("http://{}/_appnet/echo", ours.addr);
    let upload: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("upload.bin");
    std::fs::write(&file, &upload).unwrap();
    let data = format!("@{}", file.display());
    // -H "Transfer-Encoding: chunked" makes curl send the body chunked; Expect: 100-continue too.
    let chunked = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &data,
        &url,
    ]);
    assert_eq!(
        chunked.stdout, upload,
        "the chunked body comes back as sent"
    );
    let plain = curl(&["-X", "PUT", "--data-binary", "hello", &url]);
    assert_eq!(text(&plain), "hello");
    let big = vec![b'x'; 2 * 1024 * 1024];
    std::fs::write(&file, &big).unwrap();
    let refused = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--data-binary",
        &data,
        &url,
    ]);
    assert_eq!(text(&refused), "413");
    let not_files = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--data-binary",
        "x",
        &format!("http://{}/hello.txt", ours.addr),
    ]);
    assert_eq!(text(&not_files), "405", "POST to a file is not allowed");
}

#[test]
fn virtual_hosts_serve_their_own_roots() {
    let main_root = tempfile::tempdir().unwrap();
    std::fs::write(main_root.path().join("who.txt"), "main\n").unwrap();
    let other_root = tempfile::tempdir().unwrap();
    std::fs::write(other_root.path().join("who.txt"), "other\n").unwrap();
    let site = Site::new(main_root.path())
        .unwrap()
        .with_virtual_host("Other.Example", other_root.path())
        .unwrap();
    let server = common::serve_site(site, None);
    let addr = server.addr;
    let url = format!("http://{addr}/who.txt");
    assert_eq!(text(&curl(&[&url])), "main\n");
    assert_eq!(
        text(&curl(&["-H", "Host: other.example:8080", &url])),
        "other\n",
        "case and port ignored"
    );
    assert_eq!(
        text(&curl(&["-H", "Host: unknown.example", &url])),
        "main\n",
        "unknown hosts get the default"
    );
}
