//! End-to-end tests of `appnet http serve` as users run it: the served files, HTTPS with appnet's
//! own certificate, and ten thousand idle clients that must not cost the server its memory or
//! keep others waiting.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use appnet_testkit::{Appnet, require_peer};

const APPNET: &str = env!("CARGO_BIN_EXE_appnet");

/// `appnet http serve` on free ports; returns it with the addresses from its table.
fn serve(root: &std::path::Path, extra: &[&str]) -> (Appnet, Vec<String>) {
    let mut args = vec![
        "http",
        "serve",
        "--root",
        root.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--access-log",
        "off",
    ];
    args.extend(extra);
    let server = Appnet::spawn(APPNET, &args);
    let lines = server.wait_for_line("service(s) running", Duration::from_secs(10));
    let addresses = lines
        .iter()
        .filter(|line| line.starts_with("http"))
        .filter_map(|line| {
            line.split_whitespace()
                .find(|word| word.starts_with("127.0.0.1:"))
        })
        .map(String::from)
        .collect();
    (server, addresses)
}

fn resident_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap()
}

#[test]
fn https_with_appnets_own_certificate() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("hello.txt"), "hello over tls\n").unwrap();
    let (server, addresses) = serve(root.path(), &["--tls-listen", "127.0.0.1:0"]);
    assert_eq!(addresses.len(), 2, "http and https rows");
    let ca = appnet_core::tls::default_dir().join("ca.pem");
    let out = Command::new(require_peer("curl"))
        .args([
            "-s",
            "--cacert",
            ca.to_str().unwrap(),
            &format!("https://{}/hello.txt", addresses[1]),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello over tls\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(server);
}

#[test]
fn ten_thousand_idle_connections_neither_exhaust_memory_nor_stall_others() {
    const IDLE: usize = 10_000;
    // The client side of every connection lives in this process, the server side in the child,
    // which inherits the limit.
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on this process with a valid struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
    assert!(
        limit.rlim_cur >= IDLE as u64 + 500,
        "the descriptor limit {} is too low for this test",
        limit.rlim_cur
    );
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("hello.txt"), "hello\n").unwrap();
    let (server, addresses) = serve(root.path(), &[]);
    let addr = addresses[0].clone();
    let before = resident_kib(server.pid());
    let idle: Vec<TcpStream> = (0..IDLE)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    // Half of them start a request and stop mid-way, as slow clients do.
    for stream in idle.iter().step_by(2) {
        (&*stream)
            .write_all(b"GET /hello.txt HTTP/1.1\r\nHo")
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(1000));
    let started = Instant::now();
    let mut client = TcpStream::connect(&addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    client
        .write_all(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    client.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    let waited = started.elapsed();
    let grown_mib = resident_kib(server.pid()).saturating_sub(before) / 1024;
    assert!(
        waited < Duration::from_secs(1),
        "a new client waited {waited:?}"
    );
    // About 8 KiB each in a debug build; the bound leaves room, and still catches a read
    // buffer held per idle connection (16 KiB each would be 160 MiB).
    assert!(
        grown_mib < 150,
        "{IDLE} idle connections grew the server by {grown_mib} MiB"
    );
    eprintln!(
        "{IDLE} idle connections: server grew {grown_mib} MiB; a new client was answered in {waited:?}"
    );
    drop(idle);
}
