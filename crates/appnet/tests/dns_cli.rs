//! End-to-end tests of `appnet dns serve` and `appnet dig` as users run them: zone errors with
//! file and line, reload on SIGHUP, dig's output side by side with BIND's dig, `--explain`,
//! `--json`, and `+trace` through the mini Internet of `appnet up`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use appnet_testkit::{Appnet, SIGHUP, require_peer, up_config};

const APPNET: &str = env!("CARGO_BIN_EXE_appnet");

const ZONE: &str = "$ORIGIN cli.test.
$TTL 600
@     IN SOA ns hostmaster ( 1 3600 600 86400 60 )
@     IN NS  ns
ns    IN A   127.0.0.1
www   IN A   192.0.2.10
@     IN MX  5 mail
mail  IN A   192.0.2.25
";

fn run(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .expect("run a program")
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

struct ZoneDir {
    _dir: tempfile::TempDir,
    zone: PathBuf,
}

fn zone_dir(contents: &str) -> ZoneDir {
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join("cli.test.zone");
    std::fs::write(&zone, contents).unwrap();
    ZoneDir { _dir: dir, zone }
}

/// Starts `appnet dns serve` on a free port; returns it with "IP" and "PORT".
fn serve(zone: &Path) -> (Appnet, String, String) {
    let server = Appnet::spawn(
        APPNET,
        &[
            "dns",
            "serve",
            "--zone",
            zone.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let lines = server.wait_for_line("service(s) running", Duration::from_secs(10));
    let addr = lines
        .iter()
        .find(|line| line.starts_with("dns authoritative") && line.contains(" udp+tcp "))
        .and_then(|line| {
            line.split_whitespace()
                .find(|word| word.starts_with("127.0.0.1:"))
        })
        .unwrap_or_else(|| panic!("no address in {lines:?}"))
        .to_owned();
    let (ip, port) = addr.split_once(':').unwrap();
    (server, ip.to_owned(), port.to_owned())
}

/// The records of dig's ANSWER SECTION, whitespace-normalised, sorted.
fn answer_section(output: &str) -> Vec<String> {
    let mut lines: Vec<String> = output
        .lines()
        .skip_while(|line| !line.starts_with(";; ANSWER SECTION:"))
        .skip(1)
        .take_while(|line| !line.is_empty())
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    lines.sort();
    lines
}

#[test]
fn a_bad_zone_file_is_named_with_its_line() {
    let dir = zone_dir(&ZONE.replace("192.0.2.10", "192.0.2"));
    let out = run(
        APPNET,
        &[
            "dns",
            "serve",
            "--zone",
            dir.zone.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    assert!(!out.status.success());
    let message = text(&out);
    assert!(message.contains("cli.test.zone:6:"), "{message}");
}

#[test]
fn appnet_dig_and_bind_dig_see_the_same_answers() {
    let dir = zone_dir(ZONE);
    let (_server, ip, port) = serve(&dir.zone);
    for (name, qtype) in [
        ("www.cli.test", "A"),
        ("cli.test", "MX"),
        ("cli.test", "SOA"),
    ] {
        let at = format!("@{ip}");
        let ours = text(&run(APPNET, &["dig", &at, "-p", &port, name, qtype]));
        let theirs = text(&run(require_peer("dig"), &[&at, "-p", &port, name, qtype]));
        assert!(!answer_section(&ours).is_empty(), "{ours}");
        assert_eq!(
            answer_section(&ours),
            answer_section(&theirs),
            "ours:\n{ours}\ndig:\n{theirs}"
        );
        assert!(
            ours.contains("status: NOERROR") && ours.contains("flags: qr aa rd;"),
            "{ours}"
        );
    }
    let short = text(&run(
        APPNET,
        &[
            "dig",
            &format!("@{ip}"),
            "-p",
            &port,
            "www.cli.test",
            "+short",
        ],
    ));
    assert_eq!(short.trim(), "192.0.2.10");
    let nx = run(
        APPNET,
        &[
            "dig",
            &format!("@{ip}"),
            "-p",
            &port,
            "nothere.cli.test",
            "+tcp",
        ],
    );
    assert!(
        text(&nx).contains("status: NXDOMAIN") && text(&nx).contains("(TCP)"),
        "{}",
        text(&nx)
    );
}

#[test]
fn dig_explains_every_byte_and_speaks_json() {
    let dir = zone_dir(ZONE);
    let (_server, ip, port) = serve(&dir.zone);
    let at = format!("@{ip}");
    let explained = text(&run(
        APPNET,
        &["dig", &at, "-p", &port, "cli.test", "MX", "--explain"],
    ));
    for needle in ["RESPONSE, byte by byte", "ID", "QR", "pointer"] {
        assert!(
            explained.contains(needle),
            "--explain lacks {needle:?}:\n{explained}"
        );
    }
    let json = run(
        APPNET,
        &["dig", &at, "-p", &port, "cli.test", "MX", "--json"],
    );
    let value: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("--json prints JSON");
    assert_eq!(value["status"], "NOERROR");
    assert_eq!(value["answer"][0]["type"], "MX");
    assert_eq!(value["answer"][0]["data"], "5 mail.cli.test.");
}

#[test]
fn sighup_reloads_and_a_bad_reload_keeps_the_old_zone() {
    let dir = zone_dir(ZONE);
    let (server, ip, port) = serve(&dir.zone);
    let ask = |name: &str| {
        text(&run(
            APPNET,
            &["dig", &format!("@{ip}"), "-p", &port, name, "+short"],
        ))
    };
    assert_eq!(ask("new.cli.test").trim(), "");

    std::fs::write(
        &dir.zone,
        format!(
            "{}new IN A 192.0.2.77\n",
            ZONE.replace(" 1 3600", " 2 3600")
        ),
    )
    .unwrap();
    server.signal(SIGHUP);
    server.wait_for_line("serving cli.test. (serial 2)", Duration::from_secs(10));
    assert_eq!(ask("new.cli.test").trim(), "192.0.2.77");

    std::fs::write(&dir.zone, format!("{ZONE}broken IN MX not-a-number\n")).unwrap();
    server.signal(SIGHUP);
    let lines = server.wait_for_line("reload failed", Duration::from_secs(10));
    assert!(
        lines.last().unwrap().contains("cli.test.zone:9:"),
        "{lines:?}"
    );
    assert_eq!(
        ask("new.cli.test").trim(),
        "192.0.2.77",
        "the old zone still answers"
    );
}

#[test]
fn dig_trace_walks_root_tld_and_authoritative_in_the_mini_internet() {
    let config = std::env::temp_dir().join(format!("appnet-dns-cli-{}.toml", std::process::id()));
    std::fs::write(&config, up_config()).unwrap();
    let config = config.to_str().unwrap();
    let up = Appnet::spawn(APPNET, &["--config", config, "up"]);
    let table = up.wait_for_line("service(s) running", Duration::from_secs(10));
    let port = table
        .iter()
        .find(|line| line.starts_with("dns root") && line.contains(" udp+tcp "))
        .and_then(|line| {
            line.split_whitespace()
                .find_map(|word| word.strip_prefix("127.0.0.2:"))
        })
        .unwrap_or_else(|| panic!("no root server in {table:?}"))
        .to_owned();

    let started = Instant::now();
    let walk = text(&run(
        APPNET,
        &["--config", config, "dig", "+trace", "www.alpha.example"],
    ));
    assert!(started.elapsed() < Duration::from_secs(10));
    let steps: Vec<&str> = walk
        .lines()
        .filter(|line| line.starts_with(";; Received"))
        .collect();
    assert_eq!(steps.len(), 3, "root, TLD, authoritative:\n{walk}");
    assert!(
        steps[0].contains("127.0.0.2")
            && steps[1].contains("127.0.0.3")
            && steps[2].contains("127.0.0.4"),
        "{walk}"
    );
    assert!(
        walk.contains("www.alpha.example.\t300\tIN\tA\t127.0.0.1"),
        "{walk}"
    );

    // BIND's dig agrees with what the authoritative server says.
    let mx = text(&run(
        require_peer("dig"),
        &["@127.0.0.4", "-p", &port, "beta.example", "MX", "+norec"],
    ));
    assert!(mx.contains("10 mail.beta.example."), "{mx}");
}

/// `appnet up` on free ports; returns it, its config path, the mini Internet's name-server port and
/// the resolver's address.
fn mini_internet(extra_config: &str) -> (Appnet, PathBuf, String, String) {
    let config = std::env::temp_dir().join(format!(
        "appnet-dns-cli-{}-{}.toml",
        std::process::id(),
        extra_config.len()
    ));
    std::fs::write(&config, format!("{}{extra_config}", up_config())).unwrap();
    let up = Appnet::spawn(APPNET, &["--config", config.to_str().unwrap(), "up"]);
    let table = up.wait_for_line("service(s) running", Duration::from_secs(10));
    let column = |service: &str, prefix: &str| {
        table
            .iter()
            .skip_while(|line| !line.starts_with("SERVICE"))
            .find(|line| line.starts_with(service))
            .and_then(|line| {
                line.split_whitespace()
                    .find_map(|word| word.strip_prefix(prefix))
            })
            .unwrap_or_else(|| panic!("no {service} in {table:?}"))
            .to_owned()
    };
    let port = column("dns root", "127.0.0.2:");
    let resolver = format!("127.0.0.1:{}", column("dns resolver", "127.0.0.1:"));
    (up, config, port, resolver)
}

#[test]
fn the_resolver_answers_dig_through_the_mini_internet() {
    let (_up, _config, _port, resolver) = mini_internet("");
    let (ip, port) = resolver.split_once(':').unwrap();
    let at = format!("@{ip}");
    let dig = |args: &[&str]| {
        let mut argv = vec![format!("@{ip}"), "-p".into(), port.into(), "+time=3".into()];
        argv.extend(args.iter().map(|arg| arg.to_string()));
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        text(&run(require_peer("dig"), &argv))
    };
    let www = dig(&["web.alpha.example", "A"]);
    assert!(
        www.contains("flags: qr rd ra;") && www.contains("status: NOERROR"),
        "{www}"
    );
    assert!(
        www.contains("CNAME\twww.alpha.example.") && www.contains("A\t127.0.0.1"),
        "{www}"
    );
    let mx = dig(&["beta.example", "MX"]);
    assert!(mx.contains("10 mail.beta.example."), "{mx}");
    let nx = dig(&["nothere.alpha.example", "A"]);
    assert!(
        nx.contains("status: NXDOMAIN") && nx.contains("SOA"),
        "{nx}"
    );
    // drill (ldns) reads the resolver's answers too, over UDP and TCP.
    for transport in [&[][..], &["-t"][..]] {
        let mut argv: Vec<&str> = transport.to_vec();
        argv.extend(["-p", port, "www.beta.example", &at, "A"]);
        let drilled = text(&run(require_peer("drill"), &argv));
        assert!(
            drilled.contains("rcode: NOERROR") && drilled.contains("127.0.0.1"),
            "{drilled}"
        );
    }
    // A second ask comes from the cache: the TTL has started counting down or stayed, never grown.
    let again = dig(&["beta.example", "MX", "+noall", "+answer"]);
    let ttl: u32 = again
        .split_whitespace()
        .nth(1)
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{again}"));
    assert!(ttl <= 300, "{again}");
}

#[test]
fn the_resolver_refuses_clients_outside_its_acl() {
    let (_up, _config, _port, resolver) = mini_internet("allow = [\"192.0.2.0/24\"]\n");
    let (ip, port) = resolver.split_once(':').unwrap();
    let out = text(&run(
        require_peer("dig"),
        &[
            &format!("@{ip}"),
            "-p",
            port,
            "www.alpha.example",
            "+time=3",
        ],
    ));
    assert!(
        out.contains("status: REFUSED"),
        "never an open resolver:\n{out}"
    );
}

/// Unbound sends queries for delegated zones to port 53 only, so every zone of the mini Internet
/// gets a stub naming its server and port; Unbound still starts at our root and reads its referrals.
fn unbound_stubs(mini_port: &str) -> String {
    [
        (".", "127.0.0.2"),
        ("example.", "127.0.0.3"),
        ("alpha.example.", "127.0.0.4"),
        ("beta.example.", "127.0.0.4"),
    ]
    .iter()
    .map(|(zone, ip)| {
        format!("stub-zone:\n  name: \"{zone}\"\n  stub-addr: {ip}@{mini_port}\n  stub-prime: no\n")
    })
    .collect()
}

#[test]
fn unbound_resolves_through_our_name_servers_and_agrees_with_our_resolver() {
    let (_up, _config, mini_port, resolver) = mini_internet("");
    let dir = tempfile::tempdir().unwrap();
    let unbound_port = appnet_testkit::free_port_on(&["127.0.0.1".parse().unwrap()]);
    let conf = format!(
        "server:\n  interface: 127.0.0.1\n  port: {unbound_port}\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"{dir}\"\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n  access-control: 127.0.0.0/8 allow\n  do-not-query-localhost: no\n  module-config: \"iterator\"\n  qname-minimisation: no\n{stubs}remote-control:\n  control-enable: no\n",
        stubs = unbound_stubs(&mini_port),
        dir = dir.path().display()
    );
    std::fs::write(dir.path().join("unbound.conf"), conf).unwrap();
    let mut unbound = Command::new(require_peer("unbound"))
        .args(["-d", "-c"])
        .arg(dir.path().join("unbound.conf"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (ip, port) = resolver.split_once(':').unwrap();
    let port_text = unbound_port.to_string();
    for (name, qtype) in [
        ("www.alpha.example", "A"),
        ("alpha.example", "MX"),
        ("web.beta.example", "A"),
        ("beta.example", "TXT"),
    ] {
        let deadline = Instant::now() + Duration::from_secs(10);
        let theirs = loop {
            let out = text(&run(
                require_peer("dig"),
                &[
                    "@127.0.0.1",
                    "-p",
                    &port_text,
                    name,
                    qtype,
                    "+time=2",
                    "+tries=1",
                ],
            ));
            if out.contains("status: NOERROR") || Instant::now() > deadline {
                break out;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let ours = text(&run(
            require_peer("dig"),
            &[&format!("@{ip}"), "-p", port, name, qtype],
        ));
        let strip_ttl = |lines: Vec<String>| -> Vec<String> {
            lines
                .iter()
                .map(|l| {
                    l.split(' ')
                        .enumerate()
                        .filter(|(i, _)| *i != 1)
                        .map(|(_, w)| w)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect()
        };
        assert!(!answer_section(&theirs).is_empty(), "unbound:\n{theirs}");
        assert_eq!(
            strip_ttl(answer_section(&ours)),
            strip_ttl(answer_section(&theirs)),
            "ours:\n{ours}\nunbound:\n{theirs}"
        );
    }
    let _ = unbound.kill();
    let _ = unbound.wait();
}
