//! End-to-end tests of the appnet binary as users run it: `up`, `config print`, `udp serve|send|ping`
//! and `--trace`, against clients and servers we did not write where the command talks to one.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use appnet_testkit::{Appnet, SIGINT, SIGTERM, python3, require_peer, up_config};

const APPNET: &str = env!("CARGO_BIN_EXE_appnet");

fn appnet(args: &[&str]) -> Output {
    Command::new(APPNET)
        .args(args)
        .output()
        .expect("run appnet")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes `contents` to a fresh config file and returns its path.
fn config_file(name: &str, contents: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("appnet-test-{}-{name}.toml", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

/// Starts `appnet udp serve` on a free port and returns it with the address from its table.
fn udp_server(extra: &[&str]) -> (Appnet, String) {
    let mut args = extra.to_vec();
    args.extend(["udp", "serve", "--listen", "127.0.0.1:0"]);
    let server = Appnet::spawn(APPNET, &args);
    let lines = server.wait_for_line("udp upper-case echo", Duration::from_secs(10));
    let row = lines.last().unwrap();
    let addr = row
        .split_whitespace()
        .find(|w| w.starts_with("127.0.0.1:"))
        .expect("address column")
        .to_owned();
    (server, addr)
}

#[test]
fn help_lists_the_commands() {
    let out = appnet(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for word in ["up", "config", "udp", "--trace"] {
        assert!(help.contains(word), "help lacks {word}: {help}");
    }
}

#[test]
fn config_print_shows_the_defaults_and_overrides() {
    let out = appnet(&["config", "print"]);
    assert!(out.status.success());
    let printed = text(&out.stdout);
    assert!(
        printed.contains("[udp]") && printed.contains("listen = \"127.0.0.1:12000\""),
        "{printed}"
    );

    let path = config_file("override", "[udp]\nretries = 9\n");
    let out = appnet(&["--config", path.to_str().unwrap(), "config", "print"]);
    assert!(text(&out.stdout).contains("retries = 9"));
    // The printed config is itself a valid config file.
    let round = config_file("round", &text(&out.stdout));
    assert!(
        appnet(&["--config", round.to_str().unwrap(), "config", "print"])
            .status
            .success()
    );
}

#[test]
fn a_bad_config_names_file_line_and_key_and_exits_2() {
    let path = config_file(
        "bad",
        "[up]\n\n[udp]\nlisten = \"127.0.0.1:12000\"\ntimout = 3\n",
    );
    let out = appnet(&["--config", path.to_str().unwrap(), "config", "print"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{}:5: key `udp.timout`", path.display())),
        "{err}"
    );

    let out = appnet(&["--config", "/nonexistent/appnet.toml", "up"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/appnet.toml"));
}

#[test]
fn udp_serve_answers_korean_text_from_python() {
    let (_server, addr) = udp_server(&[]);
    let (host, port) = addr.rsplit_once(':').unwrap();
    let program = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto("안녕 appnet".encode(), (sys.argv[1], int(sys.argv[2])))
print(s.recvfrom(70000)[0].decode())
"#;
    let out = Command::new(python3())
        .args(["-c", program, host, port])
        .output()
        .unwrap();
    assert_eq!(
        text(&out.stdout).trim(),
        "안녕 APPNET",
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn udp_serve_answers_netcat() {
    let nc = require_peer("nc");
    let (_server, addr) = udp_server(&[]);
    let (host, port) = addr.rsplit_once(':').unwrap();
    let out = Command::new("sh")
        .args([
            "-c",
            &format!("printf 'hello nc' | {} -u -w1 {host} {port}", nc.display()),
        ])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "HELLO NC");
}

#[test]
fn udp_send_prints_reply_and_rtt_and_trace() {
    let (_server, addr) = udp_server(&[]);
    let out = appnet(&["--trace", "udp", "send", &addr, "hello 세계"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("HELLO 세계"));
    assert!(
        lines
            .next()
            .unwrap()
            .contains(&format!("bytes from {addr}, rtt "))
    );
    let trace = text(&out.stderr);
    assert!(
        trace.contains(&format!("→ {addr}  C: \"hello 세계\"")),
        "{trace}"
    );
    assert!(
        trace.contains(&format!("{addr} → ")) && trace.contains("S: \"HELLO 세계\""),
        "{trace}"
    );
}

#[test]
fn json_trace_has_one_object_per_message() {
    let (_server, addr) = udp_server(&[]);
    let out = appnet(&["--trace=json", "--trace-bytes", "udp", "send", &addr, "hi"]);
    assert!(out.status.success());
    let events: Vec<serde_json::Value> = text(&out.stderr)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each trace line is JSON"))
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(
        (events[0]["from"].as_str(), events[0]["raw_hex"].as_str()),
        (Some("client"), Some("6869"))
    );
    assert_eq!(
        (events[1]["from"].as_str(), events[1]["raw_hex"].as_str()),
        (Some("server"), Some("4849"))
    );
    assert_eq!(events[1]["peer"].as_str(), Some(addr.as_str()));
}

#[test]
fn the_server_traces_what_it_hears() {
    let (server, addr) = udp_server(&["--trace"]);
    assert!(appnet(&["udp", "send", &addr, "watch me"]).status.success());
    let heard = server.wait_for_stderr_line("C: \"watch me\" (8 bytes)", Duration::from_secs(5));
    assert!(
        heard.last().unwrap().contains(&format!("→ {addr}")),
        "{heard:?}"
    );
    server.wait_for_stderr_line("S: \"WATCH ME\" (8 bytes)", Duration::from_secs(5));
}

#[test]
fn udp_send_exits_1_when_nobody_answers() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let out = appnet(&[
        "udp",
        "send",
        &addr,
        "hello?",
        "--timeout",
        "0.1",
        "--retries",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no reply"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn udp_ping_reports_like_ping() {
    let (_server, addr) = udp_server(&[]);
    let out = appnet(&["udp", "ping", &addr, "-c", "3", "-i", "0.05"]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout
            .matches(&format!("64 bytes from {addr}: seq="))
            .count(),
        3,
        "{stdout}"
    );
    assert!(
        stdout.contains("3 packets transmitted, 3 received, 0% packet loss"),
        "{stdout}"
    );
    assert!(stdout.contains("rtt min/avg/max/mdev = "));
}

#[test]
fn up_starts_every_service_and_stops_within_two_seconds() {
    for signal in [SIGINT, SIGTERM] {
        let path = config_file("up", &up_config());
        let mut up = Appnet::spawn(APPNET, &["--config", path.to_str().unwrap(), "up"]);
        let table = up.wait_for_line("service(s) running", Duration::from_secs(10));
        assert!(table.iter().any(|l| l.starts_with("SERVICE")), "{table:?}");
        let row = table
            .iter()
            .find(|l| l.starts_with("udp upper-case echo"))
            .expect("udp row");
        let addr = row
            .split_whitespace()
            .find(|w| w.starts_with("127.0.0.1:"))
            .unwrap();
        assert!(appnet(&["udp", "send", addr, "up?"]).status.success());
        let web = table
            .iter()
            .find(|l| l.starts_with("http web origin"))
            .and_then(|row| row.split_whitespace().find(|w| w.starts_with("127.0.0.1:")))
            .expect("http row");
        let page = Command::new(require_peer("curl"))
            .args(["-s", &format!("http://{web}/")])
            .output()
            .unwrap();
        assert!(
            text(&page.stdout).contains("appnet web origin"),
            "{}",
            text(&page.stdout)
        );

        let asked = Instant::now();
        up.signal(signal);
        assert_eq!(
            up.wait_exit(Duration::from_secs(2)),
            Some(0),
            "signal {signal}"
        );
        assert!(asked.elapsed() < Duration::from_secs(2));
        assert!(
            up.rest_of_output(Duration::from_secs(1))
                .iter()
                .any(|l| l.contains("stopped"))
        );
    }
}

#[test]
fn up_reports_a_busy_port_clearly() {
    let busy = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let path = config_file(
        "busy",
        &format!("[udp]\nlisten = \"{}\"\n", busy.local_addr().unwrap()),
    );
    let out = appnet(&["--config", path.to_str().unwrap(), "up"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot listen on"),
        "{}",
        text(&out.stderr)
    );
}
