//! Interop: our HTTP/1.1 client against our static server, nginx (plain and TLS) and python's
//! http.server, and against small scripted servers that misbehave on purpose: closing idle
//! keep-alive connections, never answering, redirecting forever.

use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use appnet_core::trace::{Direction, Tracer};
use appnet_http::client::{Client, ClientConfig, ClientError, Request, Url};
use appnet_http::proto::Method;
use appnet_http::server::Site;
use appnet_testkit::{python3, require_peer};

mod common;

const DATA_LEN: usize = 100_000;
const BIG_LEN: usize = 3 * 1024 * 1024 + 17;

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

fn client() -> Client {
    client_with(ClientConfig::default())
}

fn client_with(config: ClientConfig) -> Client {
    Client::new(config).unwrap()
}

fn following() -> Client {
    client_with(ClientConfig {
        follow_redirects: true,
        ..ClientConfig::default()
    })
}

fn site_files(root: &Path) {
    std::fs::write(root.join("index.html"), "<h1>home</h1>\n").unwrap();
    std::fs::write(root.join("hello.txt"), "hello, appnet\n").unwrap();
    std::fs::write(root.join("data.bin"), pattern(DATA_LEN)).unwrap();
    std::fs::write(root.join("big.bin"), pattern(BIG_LEN)).unwrap();
    std::fs::create_dir(root.join("docs")).unwrap();
    std::fs::write(root.join("docs/index.html"), "<h1>docs</h1>\n").unwrap();
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

// ---- our static server, in-process (as tests/peers.rs starts it) ----

struct Ours {
    addr: SocketAddr,
    _root: tempfile::TempDir,
    _server: common::Running,
}

fn start_ours() -> Ours {
    start_ours_with(None)
}

/// Our server, as HTTPS when `tls` is given.
fn start_ours_with(tls: Option<Arc<rustls::ServerConfig>>) -> Ours {
    let root = tempfile::tempdir().unwrap();
    site_files(root.path());
    let server = common::serve_site(Site::new(root.path()).unwrap(), tls);
    Ours {
        addr: server.addr,
        _root: root,
        _server: server,
    }
}

// ---- nginx (as tests/peers.rs starts it), optionally with TLS ----

struct Nginx {
    child: Child,
    addr: SocketAddr,
    _root: tempfile::TempDir,
    _work: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx serving the test site on a free port; with `tls_dir`, over TLS with the certificate
/// `TlsMaterial::load_or_generate` left there.
fn start_nginx(tls_dir: Option<&Path>) -> Nginx {
    let root = tempfile::tempdir().unwrap();
    site_files(root.path());
    let work = tempfile::tempdir().unwrap();
    let port = appnet_testkit::free_port_on(&["127.0.0.1".parse().unwrap()]);
    let w = work.path().display();
    let listen = match tls_dir {
        None => format!("listen 127.0.0.1:{port};"),
        Some(dir) => format!(
            "listen 127.0.0.1:{port} ssl; ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;",
            d = dir.display()
        ),
    };
    let conf = format!(
        "daemon off; master_process off; worker_processes 1; pid {w}/nginx.pid; error_log {w}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{ access_log off; include /etc/nginx/mime.types; default_type application/octet-stream;\n\
         client_body_temp_path {w}/b; proxy_temp_path {w}/p; fastcgi_temp_path {w}/f; uwsgi_temp_path {w}/u; scgi_temp_path {w}/s;\n\
         server {{ {listen} root {}; autoindex on; }} }}\n",
        root.path().display()
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
    wait_listening(addr);
    Nginx {
        child,
        addr,
        _root: root,
        _work: work,
    }
}

fn wait_listening(addr: SocketAddr) {
    for _ in 0..100 {
        if TcpStream::connect(addr).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on {addr}");
}

/// Both servers, each with a name for assertion messages.
fn both() -> (Ours, Nginx) {
    (start_ours(), start_nginx(None))
}

fn servers(pair: &(Ours, Nginx)) -> [(&'static str, SocketAddr); 2] {
    [("ours", pair.0.addr), ("nginx", pair.1.addr)]
}

// ---- scripted servers that misbehave on purpose ----

/// A loopback server that runs `script(n, stream)` for the n-th accepted connection (from 0),
/// each in a thread of its own, and counts connections.
struct Scripted {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

fn scripted(script: impl Fn(usize, TcpStream) + Send + Sync + 'static) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let script = Arc::new(script);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let script = script.clone();
            std::thread::spawn(move || script(n, stream));
        }
    });
    Scripted { addr, accepted }
}

/// Reads one request head (and a Content-Length body); `None` at EOF.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(head)
}

fn respond(stream: &mut TcpStream, body: &str) {
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

// ---- the tests ----

#[test]
fn gets_files_byte_exact() {
    let pair = both();
    for (name, addr) in servers(&pair) {
        block_on(async {
            let client = client();
            let hello = client.get(&url(addr, "/hello.txt")).await.unwrap();
            assert_eq!(hello.status, 200, "{name}");
            assert_eq!(hello.body, b"hello, appnet\n", "{name}");
            let data = client.get(&url(addr, "/data.bin")).await.unwrap();
            assert_eq!(data.body, pattern(DATA_LEN), "{name}");
            assert_eq!(
                data.headers.content_length().unwrap(),
                Some(DATA_LEN as u64)
            );
            let missing = client.get(&url(addr, "/nothere")).await.unwrap();
            assert_eq!(missing.status, 404, "{name}");
        });
    }
}

#[test]
fn large_bodies_stream_in_chunks() {
    let pair = both();
    for (name, addr) in servers(&pair) {
        block_on(async {
            let client = client();
            let mut stream = client
                .start(Request::get(&url(addr, "/big.bin")).unwrap())
                .await
                .unwrap();
            assert_eq!(stream.content_length(), Some(BIG_LEN as u64), "{name}");
            let mut got = Vec::new();
            let mut chunks = 0;
            while let Some(chunk) = stream.chunk().await.unwrap() {
                assert!(chunk.len() <= 256 * 1024);
                got.extend_from_slice(&chunk);
                chunks += 1;
            }
            assert!(chunks > 10, "{name}: {chunks} chunks");
            assert!(got == pattern(BIG_LEN), "{name}: body differs");
            let mut counted = 0;
            let streamed = client
                .send_streaming(Request::get(&url(addr, "/big.bin")).unwrap(), |chunk| {
                    counted += chunk.len()
                })
                .await
                .unwrap();
            assert_eq!((streamed.status, counted), (200, BIG_LEN), "{name}");
            assert!(streamed.body.is_empty());
            assert_eq!(client.stats().connections_opened, 1, "{name}");
        });
    }
}

#[test]
fn keep_alive_reuses_one_connection() {
    let pair = both();
    for (name, addr) in servers(&pair) {
        block_on(async {
            let client = client();
            for path in ["/hello.txt", "/data.bin", "/nothere", "/hello.txt"] {
                client.get(&url(addr, path)).await.unwrap();
            }
            let stats = client.stats();
            assert_eq!(stats.connections_opened, 1, "{name}: {stats:?}");
            assert_eq!((stats.requests, stats.reused), (4, 3), "{name}: {stats:?}");
            assert_eq!(stats.idle, 1, "{name}");
        });
    }
    let no_pool = client_with(ClientConfig {
        max_idle_per_host: 0,
        ..ClientConfig::default()
    });
    block_on(async {
        no_pool.get(&url(pair.0.addr, "/")).await.unwrap();
        no_pool.get(&url(pair.0.addr, "/")).await.unwrap();
    });
    assert_eq!(no_pool.stats().connections_opened, 2);
}

#[test]
fn concurrent_requests_open_parallel_connections() {
    let ours = start_ours();
    block_on(async {
        let client = client();
        let (data, hello) = (url(ours.addr, "/data.bin"), url(ours.addr, "/hello.txt"));
        let (a, b) = tokio::join!(client.get(&data), client.get(&hello));
        assert_eq!(a.unwrap().body.len(), DATA_LEN);
        assert_eq!(b.unwrap().body, b"hello, appnet\n");
        assert_eq!(client.stats().connections_opened, 2);
        assert_eq!(client.stats().idle, 2);
        client.get(&url(ours.addr, "/hello.txt")).await.unwrap();
        assert_eq!(client.stats().connections_opened, 2);
    });
}

#[test]
fn ranges_are_checked() {
    let pair = both();
    let data = pattern(DATA_LEN);
    for (name, addr) in servers(&pair) {
        block_on(async {
            let client = client();
            let target = url(addr, "/data.bin");
            let part = client.get_range(&target, 1000, Some(1999)).await.unwrap();
            assert_eq!(part.status, 206, "{name}");
            assert_eq!(part.body, data[1000..2000], "{name}");
            let tail = client.get_range(&target, 99_990, None).await.unwrap();
            assert_eq!(tail.body, data[99_990..], "{name}");
            let clamped = client
                .get_range(&target, 99_900, Some(500_000))
                .await
                .unwrap();
            assert_eq!(clamped.body, data[99_900..], "{name}");
            let beyond = client.get_range(&target, 200_000, None).await.unwrap();
            assert_eq!(beyond.status, 416, "{name}");
            assert_eq!(client.stats().connections_opened, 1, "{name}");
        });
    }
}

#[test]
fn a_server_ignoring_range_or_lying_about_it_is_caught() {
    let server = scripted(|_, stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut stream = stream;
        let mut served = 0;
        while read_request(&mut reader).is_some() {
            let response = match served {
                0 => "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
                _ => {
                    "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 5-7/10\r\nContent-Length: 3\r\n\r\nabc"
                }
            };
            let _ = stream.write_all(response.as_bytes());
            served += 1;
        }
    });
    block_on(async {
        let client = client();
        let target = url(server.addr, "/f");
        assert!(matches!(
            client.get_range(&target, 0, Some(2)).await,
            Err(ClientError::RangeIgnored { status: 200 })
        ));
        assert!(matches!(
            client.get_range(&target, 0, Some(2)).await,
            Err(ClientError::RangeMismatch { .. })
        ));
        assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn etags_give_304_and_head_gives_no_body() {
    let pair = both();
    for (name, addr) in servers(&pair) {
        block_on(async {
            let client = client();
            let target = url(addr, "/data.bin");
            let head = client.head(&target).await.unwrap();
            assert_eq!(head.status, 200, "{name}");
            assert!(head.body.is_empty(), "{name}");
            assert_eq!(head.headers.get("content-length"), Some("100000"), "{name}");
            let etag = head.headers.get("etag").expect("an ETag").to_owned();
            let request = Request::get(&target)
                .unwrap()
                .header("If-None-Match", etag.as_bytes());
            let not_modified = client.send(request).await.unwrap();
            assert_eq!(not_modified.status, 304, "{name}");
            assert!(not_modified.body.is_empty());
            let again = client.get(&target).await.unwrap();
            assert_eq!(again.body.len(), DATA_LEN, "{name}");
            assert_eq!(client.stats().connections_opened, 1, "{name}");
        });
    }
}

#[test]
fn directory_redirects_are_followed_when_asked() {
    let pair = both();
    for (name, addr) in servers(&pair) {
        block_on(async {
            let moved = client().get(&url(addr, "/docs")).await.unwrap();
            assert_eq!(moved.status, 301, "{name}");
            let location = moved.headers.get("location").unwrap_or_default();
            assert!(location.ends_with("/docs/"), "{name}: {location}");
            let client = following();
            let followed = client.get(&url(addr, "/docs")).await.unwrap();
            assert_eq!(followed.status, 200, "{name}");
            assert_eq!(followed.body, b"<h1>docs</h1>\n", "{name}");
            assert_eq!(followed.redirects, 1);
            assert_eq!(followed.url.to_string(), url(addr, "/docs/"));
            assert_eq!(
                client.stats().connections_opened,
                1,
                "{name}: drained and reused"
            );
        });
    }
}

#[test]
fn redirect_limits_methods_and_downgrades() {
    let server = scripted(|_, stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut stream = stream;
        while let Some(head) = read_request(&mut reader) {
            let line = head.lines().next().unwrap_or_default().to_owned();
            let response = if line.starts_with("GET /loop") {
                "HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n".to_owned()
            } else if line.starts_with("POST /form") {
                "HTTP/1.1 303 See Other\r\nLocation: done?x=1\r\nContent-Length: 0\r\n\r\n"
                    .to_owned()
            } else if line.starts_with("POST /keep") {
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: /kept\r\nContent-Length: 0\r\n\r\n"
                    .to_owned()
            } else if line.starts_with("GET /down") {
                "HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n"
                    .to_owned()
            } else {
                let body = line.clone();
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
            };
            let _ = stream.write_all(response.as_bytes());
        }
    });
    block_on(async {
        let client = client_with(ClientConfig {
            follow_redirects: true,
            max_redirects: 3,
            ..ClientConfig::default()
        });
        assert!(matches!(
            client.get(&url(server.addr, "/loop")).await,
            Err(ClientError::TooManyRedirects { max: 3 })
        ));
        let form = Request::new(
            Method::Post,
            Url::parse(&url(server.addr, "/form")).unwrap(),
        )
        .body("a=1");
        let done = client.send(form).await.unwrap();
        assert_eq!(done.body, b"GET /done?x=1 HTTP/1.1");
        let keep = Request::new(
            Method::Post,
            Url::parse(&url(server.addr, "/keep")).unwrap(),
        )
        .body("a=1");
        let kept = client.send(keep).await.unwrap();
        assert_eq!(kept.body, b"POST /kept HTTP/1.1");
        assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
    });
    // An https origin redirecting to http is refused before any request goes out; checked
    // with the sans-IO rule, since this scripted server does not speak TLS.
    let secure = Request::get("https://127.0.0.1/down").unwrap();
    let mut location = appnet_http::proto::Headers::new();
    location.append("Location", "http://127.0.0.1/");
    assert!(matches!(
        appnet_http::client::redirect::next_request(&secure, 301, &location),
        Err(ClientError::RedirectDowngrade { .. })
    ));
}

#[test]
fn chunked_responses_from_python() {
    let script = r#"
import http.server
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Trailer", "X-Checksum")
        self.end_headers()
        for part in [b"Wiki", b"pedia ", b"in ", b"chunks" * 5000]:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        self.wfile.write(b"0\r\nX-Checksum: 42\r\n\r\n")
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;
    let mut child = Command::new(python3())
        .args(["-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut port = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port.trim().parse::<u16>().unwrap()));
    let outcome = std::panic::catch_unwind(|| {
        block_on(async {
            let client = client();
            for _ in 0..2 {
                let response = client.get(&url(addr, "/")).await.unwrap();
                let expected = format!("Wikipedia in {}", "chunks".repeat(5000));
                assert!(response.body == expected.as_bytes());
                assert_eq!(response.trailers.get("x-checksum"), Some("42"));
                assert!(!response.headers.contains("content-length"));
            }
            assert_eq!(client.stats().connections_opened, 1);
        });
    });
    let _ = child.kill();
    let _ = child.wait();
    outcome.unwrap();
}

/// RFC 9112 §9.3.1: the server closes a kept-alive connection just as the next request goes
/// out; an idempotent request is sent again on a fresh connection, a POST is not.
#[test]
fn a_request_on_a_connection_closed_while_idle_is_retried_once() {
    let server = scripted(|n, stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut stream = stream;
        let mut served = 0;
        while read_request(&mut reader).is_some() {
            if n % 2 == 0 && served == 1 {
                // The second request on every other connection: close without answering.
                return;
            }
            respond(&mut stream, &format!("connection {n}"));
            served += 1;
        }
    });
    block_on(async {
        let getter = client();
        let first = getter.get(&url(server.addr, "/a")).await.unwrap();
        assert_eq!(first.body, b"connection 0");
        let second = getter.get(&url(server.addr, "/b")).await.unwrap();
        assert_eq!(second.body, b"connection 1");
        let stats = getter.stats();
        assert_eq!(
            (stats.connections_opened, stats.retries),
            (2, 1),
            "{stats:?}"
        );
        assert_eq!(server.accepted.load(Ordering::SeqCst), 2);

        let poster = client();
        poster.get(&url(server.addr, "/c")).await.unwrap();
        let post = Request::new(Method::Post, Url::parse(&url(server.addr, "/d")).unwrap())
            .body("once only");
        assert!(matches!(
            poster.send(post).await,
            Err(ClientError::EmptyReply { .. })
        ));
        assert_eq!(poster.stats().retries, 0);
    });
}

/// A server that closes idle connections soon after answering: the client notices before
/// reusing one and connects afresh.
#[test]
fn idle_connections_closed_by_the_server_are_not_reused() {
    let server = scripted(|n, stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut stream = stream;
        if read_request(&mut reader).is_some() {
            respond(&mut stream, &format!("connection {n}"));
        }
        let _ = stream.shutdown(std::net::Shutdown::Both);
    });
    block_on(async {
        let client = client();
        assert_eq!(
            client.get(&url(server.addr, "/")).await.unwrap().body,
            b"connection 0"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            client.get(&url(server.addr, "/")).await.unwrap().body,
            b"connection 1"
        );
        let stats = client.stats();
        assert_eq!(
            (stats.connections_opened, stats.retries),
            (2, 0),
            "{stats:?}"
        );
    });
}

#[test]
fn a_silent_server_times_out() {
    let server = scripted(|_, stream| {
        let mut reader = BufReader::new(stream);
        while read_request(&mut reader).is_some() {}
    });
    let client = client_with(ClientConfig {
        read_timeout: Duration::from_millis(300),
        ..ClientConfig::default()
    });
    let started = Instant::now();
    let outcome = block_on(client.get(&url(server.addr, "/")));
    assert!(
        matches!(outcome, Err(ClientError::ReadTimeout { .. })),
        "{outcome:?}"
    );
    assert!(outcome.unwrap_err().is_timeout());
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// A listener whose accept queue is full drops SYNs (Linux), so connecting hangs.
#[test]
fn a_connect_that_hangs_times_out() {
    block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(0).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut fillers = Vec::new();
        for _ in 0..4 {
            if let Ok(Ok(stream)) = tokio::time::timeout(
                Duration::from_millis(200),
                tokio::net::TcpStream::connect(addr),
            )
            .await
            {
                fillers.push(stream);
            }
        }
        let client = client_with(ClientConfig {
            connect_timeout: Duration::from_millis(300),
            ..ClientConfig::default()
        });
        let started = Instant::now();
        let outcome = client.get(&url(addr, "/")).await;
        assert!(
            matches!(outcome, Err(ClientError::ConnectTimeout { .. })),
            "{outcome:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
        drop(listener);
    });
}

#[test]
fn connection_refused_and_empty_replies() {
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let outcome = block_on(client().get(&url(closed, "/")));
    assert!(
        matches!(outcome, Err(ClientError::Connect { .. })),
        "{outcome:?}"
    );
    let rude = scripted(|_, stream| drop(stream));
    let outcome = block_on(client().get(&url(rude.addr, "/")));
    assert!(
        matches!(
            outcome,
            Err(ClientError::EmptyReply { .. } | ClientError::Receive { .. })
        ),
        "{outcome:?}"
    );
    let garbage = scripted(|_, mut stream| {
        let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.2\r\n\r\n");
    });
    let outcome = block_on(client().get(&url(garbage.addr, "/")));
    assert!(
        matches!(outcome, Err(ClientError::Protocol { .. })),
        "{outcome:?}"
    );
}

#[test]
fn localhost_names_resolve_through_the_system() {
    let ours = start_ours();
    let target = format!("http://localhost:{}/hello.txt", ours.addr.port());
    let response = block_on(client().get(&target)).unwrap();
    assert_eq!(response.body, b"hello, appnet\n");
}

#[test]
fn https_against_nginx_with_appnets_ca() {
    let tls_dir = tempfile::tempdir().unwrap();
    let material = appnet_core::tls::TlsMaterial::load_or_generate(
        tls_dir.path(),
        &["localhost", "127.0.0.1"],
    )
    .unwrap();
    let nginx = start_nginx(Some(tls_dir.path()));
    block_on(async {
        let client = client_with(ClientConfig {
            ca_pem: Some(material.ca_pem().as_bytes().to_vec()),
            ..ClientConfig::default()
        });
        for host in ["127.0.0.1", "localhost"] {
            let target = format!("https://{host}:{}/data.bin", nginx.addr.port());
            let response = client.get(&target).await.unwrap();
            assert_eq!(response.status, 200);
            assert_eq!(response.body, pattern(DATA_LEN));
        }
        let part = client
            .get_range(
                &format!("https://127.0.0.1:{}/big.bin", nginx.addr.port()),
                10,
                Some(19),
            )
            .await
            .unwrap();
        assert_eq!(part.body, pattern(20)[10..]);
        let stats = client.stats();
        assert_eq!(stats.connections_opened, 2, "one per origin: {stats:?}");

        let stranger = appnet_core::tls::TlsMaterial::generate(&["localhost"]).unwrap();
        let distrusting = client_with(ClientConfig {
            ca_pem: Some(stranger.ca_pem().as_bytes().to_vec()),
            ..ClientConfig::default()
        });
        let refused = distrusting
            .get(&format!("https://127.0.0.1:{}/", nginx.addr.port()))
            .await;
        assert!(
            matches!(refused, Err(ClientError::Tls { .. })),
            "{refused:?}"
        );
    });
    assert!(matches!(
        Client::new(ClientConfig {
            ca_pem: Some(b"junk".to_vec()),
            ..ClientConfig::default()
        }),
        Err(ClientError::TlsConfig(_))
    ));
}

#[test]
fn request_and_response_heads_are_traced() {
    let ours = start_ours();
    let tracer = Tracer::new(64, false);
    let mut events = tracer.subscribe().unwrap();
    block_on(async {
        let client = client().with_tracer(tracer.clone());
        client.get(&url(ours.addr, "/hello.txt")).await.unwrap();
    });
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push((event.direction, event.protocol, event.summary.clone()));
    }
    assert_eq!(
        seen,
        [
            (
                Direction::Sent,
                "http",
                "GET /hello.txt HTTP/1.1".to_owned()
            ),
            (Direction::Received, "http", "HTTP/1.1 200 OK".to_owned()),
        ]
    );
}

#[test]
fn https_against_our_server() {
    let material = appnet_core::tls::TlsMaterial::generate(&["localhost", "127.0.0.1"]).unwrap();
    let ours = start_ours_with(Some(material.server_config().unwrap()));
    block_on(async {
        let client = client_with(ClientConfig {
            ca_pem: Some(material.ca_pem().as_bytes().to_vec()),
            follow_redirects: true,
            ..ClientConfig::default()
        });
        let base = format!("https://localhost:{}", ours.addr.port());
        let data = client.get(&format!("{base}/data.bin")).await.unwrap();
        assert_eq!(data.body, pattern(DATA_LEN));
        let docs = client.get(&format!("{base}/docs")).await.unwrap();
        assert_eq!((docs.status, docs.redirects), (200, 1));
        assert_eq!(docs.url.to_string(), format!("{base}/docs/"));
        assert_eq!(client.stats().connections_opened, 1);
    });
}
