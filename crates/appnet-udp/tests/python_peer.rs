//! Interop: our upper-case server answering python3's socket module, and our clients talking to a
//! python3 server. Neither python side is ours beyond a few lines of standard-library calls.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use appnet_core::lifecycle::Shutdown;
use appnet_core::trace::Tracer;
use appnet_testkit::python3;
use appnet_udp::client::{self, Patience, PingOptions, PingOutcome};
use appnet_udp::server;

/// Starts our server on an ephemeral loopback port; it stops when the returned token is cancelled.
async fn start_server() -> (SocketAddr, Shutdown) {
    let socket = server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = socket.local_addr().unwrap();
    let shutdown = Shutdown::new();
    tokio::spawn(server::serve(socket, Tracer::off(), shutdown.clone()));
    (addr, shutdown)
}

/// Runs a python3 program with the server's port as argv[1] and returns its stdout.
fn run_python(program: &str, port: u16) -> String {
    let output = Command::new(python3())
        .args(["-c", program, &port.to_string()])
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("python printed UTF-8")
}

const PYTHON_CLIENT: &str = r#"
import socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
def ask(data):
    s.sendto(data, ("127.0.0.1", port))
    reply, addr = s.recvfrom(70000)
    assert addr == ("127.0.0.1", port), addr
    return reply
print(ask("안녕하세요, appnet!".encode()).decode())
print(ask(b"\xff\xfe broken").decode())
big = ask(b"z" * 65507)
print(len(big), set(big) == {ord("Z")})
print(ask(b"").decode() == "")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_socket_client_gets_upper_case_replies() {
    let (addr, shutdown) = start_server().await;
    let port = addr.port();
    let stdout = tokio::task::spawn_blocking(move || run_python(PYTHON_CLIENT, port))
        .await
        .unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "안녕하세요, APPNET!");
    assert!(
        lines[1].starts_with("ERROR: datagram is not valid UTF-8"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "65507 True");
    assert_eq!(lines[3], "True");
    shutdown.cancel();
}

/// A python3 upper-case server that ignores every probe whose sequence number is divisible by 3,
/// to give our ping some loss to count. It serves until killed.
const PYTHON_SERVER: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
while True:
    data, addr = s.recvfrom(70000)
    words = data.split(b" ")
    if words[0] == b"ping" and int(words[1]) % 3 == 0:
        continue
    s.sendto(data.decode().upper().encode(), addr)
"#;

struct PythonServer(std::process::Child, SocketAddr);

impl PythonServer {
    fn start() -> PythonServer {
        use std::io::BufRead;
        let mut child = Command::new(python3())
            .args(["-c", PYTHON_SERVER])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3 server");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().parse().expect("python printed its port");
        PythonServer(child, SocketAddr::from(([127, 0, 0, 1], port)))
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn our_send_talks_to_a_python_server() {
    let peer = PythonServer::start();
    let patience = Patience {
        timeout: Duration::from_secs(2),
        retries: 2,
    };
    let exchange = client::send(peer.1, "hello 세계".as_bytes(), patience, &Tracer::off())
        .await
        .unwrap();
    assert_eq!(exchange.reply, "HELLO 세계".as_bytes());
    assert_eq!(exchange.attempts, 1);
}

#[tokio::test]
async fn our_ping_counts_the_probes_a_python_server_drops() {
    let peer = PythonServer::start();
    let options = PingOptions {
        count: 6,
        interval: Duration::from_millis(20),
        timeout: Duration::from_millis(300),
        size: 32,
    };
    let mut outcomes = Vec::new();
    let stats = client::ping(peer.1, options, &Tracer::off(), &Shutdown::new(), |o| {
        outcomes.push(o.clone())
    })
    .await
    .unwrap();
    assert_eq!((stats.transmitted, stats.received()), (6, 4));
    let timeouts: Vec<u32> = outcomes
        .iter()
        .filter_map(|o| match o {
            PingOutcome::Timeout { seq } => Some(*seq),
            PingOutcome::Reply { .. } => None,
        })
        .collect();
    assert_eq!(timeouts, [3, 6]);
    assert!((stats.loss_percent() - 100.0 / 3.0).abs() < 0.01);
}

#[tokio::test]
async fn send_retries_then_gives_up_on_silence() {
    // A bound socket that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let patience = Patience {
        timeout: Duration::from_millis(100),
        retries: 2,
    };
    let started = std::time::Instant::now();
    let err = client::send(
        silent.local_addr().unwrap(),
        b"anyone?",
        patience,
        &Tracer::off(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, client::SendError::NoReply { attempts: 3, .. }),
        "{err}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    let mut buf = [0u8; 16];
    silent.set_nonblocking(true).unwrap();
    let mut received = 0;
    while silent.recv(&mut buf).is_ok() {
        received += 1;
    }
    assert_eq!(received, 3, "each attempt is one datagram");
}
