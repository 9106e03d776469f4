//! Bad input and hostile clients against our FTP server: nothing before login, oversized and
//! malformed lines, paths that try to leave the root, FTP bounce (RFC 2577), strangers on the
//! passive port, passive-port exhaustion, a data connection nobody reads, password guessing,
//! uploads cut off — and after each, the server still serves everyone else.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use appnet_core::config::Seconds;
use appnet_ftp::config::PortRange;
use appnet_testkit::pseudo_random;
use common::{Control, Lab, PASSWORD, USER};

/// The server still answers a fresh client: the test's last word.
fn still_serving(lab: &Lab) {
    let mut control = Control::login(lab.addr);
    control.expect("PWD", "257");
    let (_, done) = control.fetch("LIST");
    assert!(done.starts_with("226"), "{done}");
}

#[test]
fn nothing_but_negotiation_before_login() {
    let lab = Lab::start(|_| {});
    lab.put_file("secret.txt", b"s");
    let mut control = Control::connect(lab.addr);
    for line in [
        "LIST",
        "RETR secret.txt",
        "CWD /",
        "PASV",
        "EPSV",
        "STOR x",
        "MKD d",
        "SIZE secret.txt",
        "PORT 127,0,0,1,200,1",
    ] {
        control.expect(line, "530");
    }
    control.expect("SYST", "215");
    assert!(control.expect("FEAT", "211").contains(" MLST "));
    control.expect("NOOP", "200");
    control.expect("PASS nothing", "503");
    still_serving(&lab);
}

#[test]
fn long_lines_nul_and_invalid_utf8_get_errors_and_the_session_goes_on() {
    let lab = Lab::start(|_| {});
    let mut control = Control::login(lab.addr);
    let mut huge = b"RETR ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 100_000));
    huge.extend_from_slice(b"\r\n");
    control.send_raw(&huge);
    assert!(control.reply().starts_with("500"), "a 100 kB line");
    control.expect("NOOP", "200");
    control.send_raw(b"RETR a\0b\r\n");
    assert!(control.reply().starts_with("500"), "NUL in a line");
    control.send_raw(b"\x01\x02\x03\r\n");
    assert!(control.reply().starts_with("500"));

    // A name that is not UTF-8 is still a name: made, listed and removed as bytes.
    control.send_raw(b"MKD bad\xc3\x28name\r\n");
    assert!(control.reply().starts_with("257"));
    let (names, _) = control.fetch("NLST");
    assert_eq!(names, b"bad\xc3\x28name\r\n");
    control.send_raw(b"RMD bad\xc3\x28name\r\n");
    assert!(control.reply().starts_with("250"));
    // Telnet IAC IAC is one 0xFF byte; a lone IAC command vanishes.
    control.send_raw(b"NO\xff\xf1OP\r\n");
    assert!(control.reply().starts_with("200"));
    still_serving(&lab);
}

#[test]
fn paths_never_leave_the_root() {
    let lab = Lab::start(|_| {});
    let outside = lab.dir.path().join("outside.txt");
    std::fs::write(&outside, b"outside").unwrap();
    lab.put_file("inside.txt", b"inside");
    std::os::unix::fs::symlink("/etc", lab.root().join("etc-link")).unwrap();
    std::os::unix::fs::symlink("../outside.txt", lab.root().join("up-link")).unwrap();
    let mut control = Control::login(lab.addr);
    control.expect("CWD ../../..", "250");
    assert!(control.expect("PWD", "257").contains("\"/\""));
    for path in [
        "/../outside.txt",
        "../outside.txt",
        "etc-link/passwd",
        "up-link",
        "/etc/passwd",
    ] {
        control.expect(&format!("SIZE {path}"), "550");
    }
    control.expect("CWD etc-link", "550");
    control.expect("RNFR inside.txt", "350");
    control.expect("RNTO ../escaped.txt", "250");
    assert!(
        lab.root().join("escaped.txt").exists(),
        ".. stops at the root"
    );
    control.expect("DELE up-link", "250");
    assert!(outside.exists(), "DELE removed the link, not its target");
    // An upload through a link that points out is refused too.
    let data = control.passive();
    let _data = TcpStream::connect(data).unwrap();
    control.expect("STOR etc-link/evil", "550");
    assert!(!std::path::Path::new("/etc/evil").exists());
    still_serving(&lab);
}

#[test]
fn port_and_eprt_may_name_only_the_client_itself() {
    let lab = Lab::start(|_| {});
    let mut control = Control::login(lab.addr);
    // RFC 2577 §3: another host, or a privileged port, would make us a bounce relay.
    control.expect("PORT 127,0,0,2,200,10", "504");
    control.expect("EPRT |1|127.0.0.2|51210|", "504");
    control.expect("PORT 127,0,0,1,0,25", "504");
    control.expect("EPRT |1|127.0.0.1|21|", "504");
    control.expect("PORT 127,0,0,1,300,1", "501");
    control.expect("EPRT |3|127.0.0.1|51210|", "504");
    control.expect("EPSV ALL", "200");
    control.expect("PASV", "503");
    control.expect("EPRT |1|127.0.0.1|51210|", "503");
    still_serving(&lab);
}

#[test]
fn a_stranger_on_the_passive_port_gets_nothing() {
    let lab = Lab::start(|_| {});
    lab.put_file("f.txt", b"for the session's client only");
    let mut control = Control::login(lab.addr);
    let data = control.passive();
    // The listener is on 127.0.0.1; a connection from 127.0.0.2 is another host.
    let mut stranger = connect_from([127, 0, 0, 2], data);
    stranger
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut client = TcpStream::connect(data).unwrap();
    control.expect("RETR f.txt", "150");
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"for the session's client only");
    assert!(control.reply().starts_with("226"));
    let mut stolen = Vec::new();
    let _ = stranger.read_to_end(&mut stolen);
    assert!(stolen.is_empty(), "the stranger read {stolen:?}");
}

/// A TCP connection to `to` from the loopback address `from` (std cannot bind before
/// connecting).
fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(to) = to else {
        panic!("IPv4 only")
    };
    let address = |ip: [u8; 4], port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(ip),
        },
        sin_zero: [0; 8],
    };
    let local = address(from, 0);
    let remote = address(to.ip().octets(), to.port());
    let size = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: a fresh socket, bound and connected with valid sockaddr_in structs; the
    // descriptor is handed to the TcpStream, which owns it from then on.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        assert_eq!(
            libc::bind(fd, (&local as *const libc::sockaddr_in).cast(), size),
            0
        );
        assert_eq!(
            libc::connect(fd, (&remote as *const libc::sockaddr_in).cast(), size),
            0
        );
        TcpStream::from_raw_fd(fd)
    }
}

#[test]
fn exhausted_passive_ports_get_425_and_come_back() {
    let port = appnet_testkit::free_port_on(&["127.0.0.1".parse().unwrap()]);
    let lab = Lab::start(|config| {
        config.passive_ports = Some(PortRange {
            low: port,
            high: port,
        });
    });
    let mut first = Control::login(lab.addr);
    let held = first.passive();
    assert_eq!(held.port(), port);
    let mut second = Control::login(lab.addr);
    second.expect("EPSV", "425");
    second.expect("PASV", "425");
    second.expect("NOOP", "200");
    // The first session's transfer frees the port.
    let (_, done) = {
        let mut data = TcpStream::connect(held).unwrap();
        first.expect("LIST", "150");
        let mut listing = Vec::new();
        data.read_to_end(&mut listing).unwrap();
        (listing, first.reply())
    };
    assert!(done.starts_with("226"));
    assert_eq!(second.passive().port(), port);
}

#[test]
fn a_data_connection_nobody_reads_times_out_and_the_session_survives() {
    let lab = Lab::start(|config| config.data_timeout = Seconds::from_millis(1_000));
    lab.put_file("big.bin", &pseudo_random(64 << 20, 5));
    let mut control = Control::login(lab.addr);
    control.expect("TYPE I", "200");
    let data = control.passive();
    let idle = TcpStream::connect(data).unwrap();
    idle.set_nodelay(true).unwrap();
    control.expect("RETR big.bin", "150");
    let started = Instant::now();
    let verdict = control.reply();
    assert!(verdict.starts_with("426"), "{verdict}");
    assert!(started.elapsed() < Duration::from_secs(20));
    control.expect("NOOP", "200");
    // Nor does a data connection that is never opened hold the session.
    control.passive();
    control.expect("LIST", "425");
    still_serving(&lab);
    drop(idle);
}

#[test]
fn abor_stat_and_a_flood_during_a_transfer() {
    let lab = Lab::start(|_| {});
    lab.put_file("big.bin", &pseudo_random(64 << 20, 9));
    let mut control = Control::login(lab.addr);
    control.expect("TYPE I", "200");
    let data = control.passive();
    let mut slow = TcpStream::connect(data).unwrap();
    control.expect("RETR big.bin", "150");
    let mut some = [0u8; 1024];
    slow.read_exact(&mut some).unwrap();
    control.expect("STAT", "213");
    // Telnet IP and Synch, then ABOR, as RFC 959 §4.1.3 describes.
    control.send_raw(b"\xff\xf4\xff\xf2ABOR\r\n");
    assert!(control.reply().starts_with("426"));
    assert!(control.reply().starts_with("226"));
    control.expect("NOOP", "200");

    // Commands sent during a transfer wait for it; too many and the client is cut off.
    let data = control.passive();
    let mut slow = TcpStream::connect(data).unwrap();
    control.expect("RETR big.bin", "150");
    slow.read_exact(&mut some).unwrap();
    for _ in 0..100 {
        control.send_raw(b"NOOP\r\n");
    }
    let mut replies = String::new();
    loop {
        let reply = control.reply();
        if reply.is_empty() {
            break;
        }
        replies.push_str(&reply);
    }
    assert!(replies.contains("421"), "{replies}");
    still_serving(&lab);
}

#[test]
fn wrong_passwords_are_slowed_then_cut_off() {
    let lab = Lab::start(|_| {});
    let mut control = Control::connect(lab.addr);
    let started = Instant::now();
    for attempt in 0..3 {
        control.expect(&format!("USER {USER}"), "331");
        let reply = control.command("PASS wrong");
        assert!(reply.starts_with("530"), "attempt {attempt}: {reply}");
    }
    // Three failures: the third reply is followed by 421 and the connection closes.
    assert!(control.reply().starts_with("421"));
    assert_eq!(control.reply(), "");
    // 250 + 500 + 1000 ms of delay at least, whatever the machine's speed.
    assert!(started.elapsed() >= Duration::from_millis(1_750));
    control = Control::connect(lab.addr);
    control.expect("USER nobody", "331");
    control.expect("PASS x", "530");
    control.expect(&format!("USER {USER}"), "331");
    control.expect(&format!("PASS {PASSWORD}"), "230");
}

#[test]
fn an_upload_cut_off_leaves_no_file_and_a_finished_one_is_whole() {
    let lab = Lab::start(|_| {});
    lab.put_file("keep.bin", b"the old contents");
    let payload = pseudo_random(4 << 20, 13);

    // The client vanishes mid-upload (control and data reset): the old file stays as it
    // was, and no temporary file is left.
    {
        let mut control = Control::login(lab.addr);
        control.expect("TYPE I", "200");
        let data = control.passive();
        let mut upload = TcpStream::connect(data).unwrap();
        control.expect("STOR keep.bin", "150");
        upload.write_all(&payload[..1 << 20]).unwrap();
        reset(&upload);
        reset(control.stream());
        drop(upload);
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        std::fs::read(lab.root().join("keep.bin")).unwrap(),
        b"the old contents"
    );
    let names: Vec<_> = std::fs::read_dir(lab.root())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["keep.bin"], "no temporary file is left behind");

    // The whole upload replaces it, on disk by the time 226 arrives.
    let mut control = Control::login(lab.addr);
    control.expect("TYPE I", "200");
    let data = control.passive();
    let mut upload = TcpStream::connect(data).unwrap();
    control.expect("STOR keep.bin", "150");
    upload.write_all(&payload).unwrap();
    drop(upload);
    assert!(control.reply().starts_with("226"));
    assert!(std::fs::read(lab.root().join("keep.bin")).unwrap() == payload);
}

/// Makes a socket's close send a RST (SO_LINGER 0), as a crashed client's kernel would.
fn reset(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a linger struct of the right size.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}
