//! Interop: our SMTP server, relay and user agent against programs we did not write — swaks,
//! python's smtplib and Postfix's smtp-source submitting to us, a private Postfix instance as the
//! foreign mail exchanger our relay hands mail to — and the messages as they land in Maildirs,
//! byte for byte.
//!
//! Every test starts its own servers on free loopback ports with storage in a temporary
//! directory; a missing peer program fails the test (scripts/install-peers installs them all).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use appnet_core::config::Seconds;
use appnet_mail::message::{Message, Part};
use appnet_testkit::{python3, require_peer};

mod common;

use common::{Lab, PASSWORD, PEER_TIMEOUT, Ran, Tls, run, split_trace};

/// How long a message may take from the server's `250` to its Maildir.
const DELIVERY: Duration = Duration::from_secs(15);

/// A message swaks sends with `--data`: plain 7-bit text, with lines that test transparency
/// (RFC 5321 §4.5.2: a line that starts with a dot) and a blank line inside the body.
const FIXED_MESSAGE: &str = "From: Bob <bob@beta.example>\r
To: Alice <alice@beta.example>\r
Subject: fixed bytes\r
Date: Fri, 27 Nov 2026 08:00:00 +0000\r
Message-ID: <fixed-1@beta.example>\r
\r
first line\r
.a line that starts with a dot\r
..two dots\r
\r
last line, after a blank one\r
";

/// Our server for beta.example with bob and alice, and STARTTLS.
fn beta_server(lab: &Lab, tls: &Tls) -> (SocketAddr, PathBuf) {
    let config = lab.server_config(
        "beta",
        "mail.beta.example",
        &["beta.example"],
        &[
            "bob@beta.example",
            "alice@beta.example",
            "민수@beta.example",
        ],
    );
    let maildir = config.maildir.clone();
    let addr = lab.start_mail(config, Some(tls.server_config()));
    (addr, maildir)
}

fn swaks(args: &[&str]) -> Ran {
    let mut command = Command::new(require_peer("swaks"));
    command
        .args(["--timeout", "15", "--hide-informational"])
        .args(args);
    run(&mut command, PEER_TIMEOUT)
}

fn assert_swaks_ok(ran: &Ran) {
    assert!(
        !ran.stderr.contains("requires Net::SSLeay"),
        "swaks cannot do TLS: install Debian's libnet-ssleay-perl (swaks only recommends it)"
    );
    assert_eq!(ran.code, Some(0), "swaks failed:\n{}", ran.all());
}

/// Checks a stored message: our trace fields on top (with the protocol RFC 3848 names for
/// how it came in), then exactly `sent`.
fn assert_stored_as_sent(stored: &[u8], sent: &[u8], from: &str, protocol: &str) {
    let (return_path, received, rest) = split_trace(stored);
    assert_eq!(return_path, format!("Return-Path: <{from}>\r\n"));
    assert!(
        received.starts_with("Received: from ")
            && received.contains("([127.0.0.1])")
            && received.contains(&format!("by mail.beta.example (appnet) with {protocol}")),
        "{received}"
    );
    assert_eq!(
        String::from_utf8_lossy(rest),
        String::from_utf8_lossy(sent),
        "the stored message after our trace fields"
    );
    assert_eq!(rest, sent, "byte for byte");
}

#[test]
fn swaks_submits_with_auth_plain_on_loopback_and_pipelining() {
    let lab = Lab::new();
    let tls = Tls::new(&lab);
    let (addr, maildir) = beta_server(&lab, &tls);
    let server = addr.to_string();
    let data_file = lab.path("fixed.eml");
    // swaks ends the data with CRLF . CRLF itself: the file leaves out the last line's CRLF.
    std::fs::write(&data_file, FIXED_MESSAGE.strip_suffix("\r\n").unwrap()).unwrap();

    // Plaintext AUTH PLAIN: loopback clients may log in without TLS by default.
    let plain = swaks(&[
        "--server",
        &server,
        "--ehlo",
        "client.beta.example",
        "--from",
        "bob@beta.example",
        "--to",
        "alice@beta.example",
        "--auth",
        "PLAIN",
        "--auth-user",
        "bob@beta.example",
        "--auth-password",
        PASSWORD,
        "--data",
        data_file.to_str().unwrap(),
    ]);
    assert_swaks_ok(&plain);
    for expected in [
        "<-  250-PIPELINING",
        "<-  250-STARTTLS",
        "<-  250-AUTH PLAIN LOGIN",
        "<-  235 2.7.0",
        "<-  250 2.0.0",
        "<-  221 2.0.0",
    ] {
        assert!(
            plain.stdout.contains(expected),
            "{expected:?} in\n{}",
            plain.all()
        );
    }
    let sent = common::data_in_swaks_transcript(&plain.stdout);
    assert_eq!(
        String::from_utf8_lossy(&sent),
        FIXED_MESSAGE,
        "swaks sent the file as it is"
    );
    let stored = common::only_message(&maildir, "alice@beta.example", DELIVERY);
    assert_stored_as_sent(
        &stored,
        FIXED_MESSAGE.as_bytes(),
        "bob@beta.example",
        "ESMTPA",
    );

    // PIPELINING (RFC 2920): MAIL, RCPT and DATA in one write; the replies in order.
    let pipelined = swaks(&[
        "--server",
        &server,
        "--pipeline",
        "--from",
        "alice@beta.example",
        "--to",
        "bob@beta.example",
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice@beta.example",
        "--auth-password",
        PASSWORD,
        "--body",
        "pipelined body line",
    ]);
    assert_swaks_ok(&pipelined);
    assert!(
        !pipelined.stdout.contains("<** "),
        "no error replies:\n{}",
        pipelined.all()
    );
    let sent = common::data_in_swaks_transcript(&pipelined.stdout);
    let stored = common::only_message(&maildir, "bob@beta.example", DELIVERY);
    assert_stored_as_sent(&stored, &sent, "alice@beta.example", "ESMTPA");
    let message = Message::parse(&stored).unwrap();
    assert_eq!(
        message.text_body().unwrap().trim_end(),
        "pipelined body line"
    );
}

#[test]
fn swaks_submits_over_starttls_with_auth_login() {
    let lab = Lab::new();
    let tls = Tls::new(&lab);
    let (addr, maildir) = beta_server(&lab, &tls);
    let ran = swaks(&[
        "--server",
        &format!("localhost:{}", addr.port()),
        "--ehlo",
        "client.beta.example",
        "--tls",
        "--tls-verify",
        "--tls-ca-path",
        tls.ca_file.to_str().unwrap(),
        "--from",
        "bob@beta.example",
        "--to",
        "alice@beta.example",
        "--auth",
        "LOGIN",
        "--auth-user",
        "bob@beta.example",
        "--auth-password",
        PASSWORD,
        "--header",
        "Subject: over TLS",
        "--body",
        "sent after STARTTLS",
    ]);
    assert_swaks_ok(&ran);
    for expected in [
        "<-  220 2.0.0",
        "<~  250-AUTH PLAIN LOGIN",
        "<~  334 VXNlcm5hbWU6",
        "<~  334 UGFzc3dvcmQ6",
        "<~  235 2.7.0",
        "<~  250 2.0.0",
    ] {
        assert!(
            ran.stdout.contains(expected),
            "{expected:?} in\n{}",
            ran.all()
        );
    }
    assert!(
        !ran.stdout.contains("<~  250-STARTTLS"),
        "STARTTLS is not offered again under TLS (RFC 3207 §4.2):\n{}",
        ran.stdout
    );
    let sent = common::data_in_swaks_transcript(&ran.stdout);
    let stored = common::only_message(&maildir, "alice@beta.example", DELIVERY);
    assert_stored_as_sent(&stored, &sent, "bob@beta.example", "ESMTPSA");
    let message = Message::parse(&stored).unwrap();
    assert_eq!(message.subject().as_deref(), Some("over TLS"));
}

/// Python's smtplib: EHLO features before and after STARTTLS (with our CA verified), LOGIN,
/// then `send_message` of an 8-bit UTF-8 body with BODY=8BITMIME, and of a message to a Korean
/// local part, for which smtplib uses SMTPUTF8 by itself. It prints what it saw and the exact
/// bytes it serialised, so the test can compare them with the Maildir.
const SMTPLIB_SCRIPT: &str = r#"
import smtplib, ssl, sys
from email.message import EmailMessage
from email import policy
host, port, cafile, outdir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
FEATURES = ['pipelining', 'size', '8bitmime', 'smtputf8', 'starttls', 'auth', 'enhancedstatuscodes']
s = smtplib.SMTP(host, port, local_hostname='client.beta.example', timeout=10)
code, _ = s.ehlo()
print('ehlo', code)
for f in FEATURES:
    print('plain', f, s.has_extn(f))
print('size', s.esmtp_features.get('size'))
print('auth', s.esmtp_features.get('auth', '').strip())
ctx = ssl.create_default_context(cafile=cafile)
code, _ = s.starttls(context=ctx)
print('starttls', code, s.sock.version())
s.ehlo()
for f in FEATURES:
    print('tls', f, s.has_extn(f))
code, _ = s.login('bob@beta.example', 'pw')
print('login', code)

def wire(msg, utf8):
    # What send_message writes: the message flattened with CRLF line ends.
    return msg.as_bytes(policy=msg.policy.clone(linesep='\r\n', utf8=utf8))

m = EmailMessage()
m['From'] = 'Bob <bob@beta.example>'
m['To'] = 'alice@beta.example'
m['Subject'] = '8비트 본문'
m['Message-ID'] = '<py-8bit@beta.example>'
m['Date'] = 'Fri, 27 Nov 2026 08:00:00 +0000'
m.set_content('안녕하세요, 앨리스!\n둘째 줄: ünïcödé\n', charset='utf-8', cte='8bit')
open(outdir + '/8bit.eml', 'wb').write(wire(m, False))
print('8bit-refused', len(s.send_message(m, mail_options=['BODY=8BITMIME'])))

u = EmailMessage()
u['From'] = 'bob@beta.example'
u['To'] = '민수 <민수@beta.example>'
u['Subject'] = '민수에게'
u['Message-ID'] = '<py-utf8@beta.example>'
u['Date'] = 'Fri, 27 Nov 2026 08:00:01 +0000'
u.set_content('주소도 한국어입니다.\n', charset='utf-8', cte='8bit')
open(outdir + '/utf8.eml', 'wb').write(wire(u, True))
print('utf8-refused', len(s.send_message(u)))
print('quit', s.quit()[0])
"#;

#[test]
fn python_smtplib_starttls_login_8bitmime_and_smtputf8() {
    let lab = Lab::new();
    let tls = Tls::new(&lab);
    let (addr, maildir) = beta_server(&lab, &tls);
    let ran = run(
        Command::new(python3()).args([
            "-c",
            SMTPLIB_SCRIPT,
            "127.0.0.1",
            &addr.port().to_string(),
            tls.ca_file.to_str().unwrap(),
            lab.dir.path().to_str().unwrap(),
        ]),
        PEER_TIMEOUT,
    );
    assert_eq!(ran.code, Some(0), "smtplib failed:\n{}", ran.all());
    let lines: Vec<&str> = ran.stdout.lines().collect();
    for expected in [
        "ehlo 250",
        "plain pipelining True",
        "plain size True",
        "plain 8bitmime True",
        "plain smtputf8 True",
        "plain starttls True",
        "plain auth True",
        "plain enhancedstatuscodes True",
        "size 10485760",
        "auth PLAIN LOGIN",
        "starttls 220 TLSv1.3",
        "tls pipelining True",
        "tls size True",
        "tls 8bitmime True",
        "tls smtputf8 True",
        // RFC 3207 §4.2: not offered again once TLS is on.
        "tls starttls False",
        "tls auth True",
        "login 235",
        "8bit-refused 0",
        "utf8-refused 0",
        "quit 221",
    ] {
        assert!(lines.contains(&expected), "{expected:?} in\n{}", ran.all());
    }

    // The 8-bit body: stored byte for byte, and readable as the text python wrote.
    let sent = std::fs::read(lab.path("8bit.eml")).unwrap();
    let stored = common::only_message(&maildir, "alice@beta.example", DELIVERY);
    assert_stored_as_sent(&stored, &sent, "bob@beta.example", "ESMTPSA");
    let message = Message::parse(&stored).unwrap();
    assert_eq!(message.subject().as_deref(), Some("8비트 본문"));
    assert_eq!(
        message.text_body().unwrap().replace("\r\n", "\n"),
        "안녕하세요, 앨리스!\n둘째 줄: ünïcödé\n"
    );

    // SMTPUTF8: a UTF-8 local part in the envelope and raw UTF-8 header fields.
    let sent = std::fs::read(lab.path("utf8.eml")).unwrap();
    let stored = common::only_message(&maildir, "민수@beta.example", DELIVERY);
    let (_, received, rest) = split_trace(&stored);
    assert!(
        received.contains("with UTF8SMTPSA") || received.contains("with ESMTPSA"),
        "{received}"
    );
    assert_eq!(rest, sent.as_slice(), "{}", String::from_utf8_lossy(rest));
    let message = Message::parse(&stored).unwrap();
    assert_eq!(message.subject().as_deref(), Some("민수에게"));
    assert_eq!(message.to()[0].address, "민수@beta.example");
    assert_eq!(
        message.text_body().unwrap().replace("\r\n", "\n"),
        "주소도 한국어입니다.\n"
    );
}

/// A zone for `domain` whose mail exchanger `mx.<domain>` is at `mx_ip`.
fn mx_zone(domain: &str, mx_ip: Ipv4Addr) -> (String, String) {
    let text = format!(
        "$TTL 60
@   IN SOA ns hostmaster ( 1 3600 600 86400 60 )
@   IN NS  ns
@   IN MX  10 mx
ns  IN A   127.0.0.1
mx  IN A   {mx_ip}
"
    );
    (format!("{domain}."), text)
}

/// The part of `message` with type `mime_type/subtype`.
fn part_of<'m>(message: &'m Message, mime_type: &str, subtype: &str) -> &'m Part {
    message
        .root()
        .walk()
        .into_iter()
        .find(|part| part.content_type.is(mime_type, subtype))
        .unwrap_or_else(|| panic!("no {mime_type}/{subtype} part"))
}

#[test]
fn no_open_relay_and_a_bounce_when_the_foreign_mx_stays_down() {
    let lab = Lab::new();
    let tls = Tls::new(&lab);
    // delta.example's exchanger is an address and port where nothing listens.
    let down = Ipv4Addr::new(127, 0, 0, 78);
    let (origin, zone) = mx_zone("delta.example", down);
    let dns = lab.start_dns(&[(&origin, zone)]);
    let mut config = lab.server_config(
        "beta",
        "mail.beta.example",
        &["beta.example"],
        &["bob@beta.example"],
    );
    config.resolver = dns;
    config.relay_port = common::closed_port(down);
    config.retry_first = Seconds::from_millis(100);
    config.retry_max = Seconds::from_millis(300);
    config.give_up_after = Seconds::from_millis(0);
    let maildir = config.maildir.clone();
    let addr = lab.start_mail(config, Some(tls.server_config()));
    let server = addr.to_string();

    // Not logged in: mail for a domain we do not keep is refused at RCPT (no open relay).
    let refused = swaks(&[
        "--server",
        &server,
        "--from",
        "mallory@evil.example",
        "--to",
        "dave@delta.example",
        "--body",
        "relay me",
    ]);
    assert_eq!(
        refused.code,
        Some(24),
        "no RCPT accepted:\n{}",
        refused.all()
    );
    assert!(
        refused.stdout.contains("<** 554 5.7.1 Relay access denied"),
        "{}",
        refused.all()
    );
    // The same with a local sender address but no login: the address proves nothing.
    let spoofed = swaks(&[
        "--server",
        &server,
        "--from",
        "bob@beta.example",
        "--to",
        "dave@delta.example",
        "--body",
        "relay me",
    ]);
    assert_eq!(spoofed.code, Some(24), "{}", spoofed.all());
    assert!(
        spoofed.stdout.contains("<** 554 5.7.1"),
        "{}",
        spoofed.all()
    );

    // Logged in: accepted for relaying; the exchanger is down, so after giving up the sender
    // gets a delivery status notification.
    let accepted = swaks(&[
        "--server",
        &server,
        "--from",
        "bob@beta.example",
        "--to",
        "dave@delta.example",
        "--auth",
        "PLAIN",
        "--auth-user",
        "bob@beta.example",
        "--auth-password",
        PASSWORD,
        "--header",
        "Subject: to a host that is down",
        "--body",
        "this will bounce",
    ]);
    assert_swaks_ok(&accepted);
    assert!(
        accepted.stdout.contains("<-  250 2.1.5"),
        "{}",
        accepted.all()
    );

    let stored = common::only_message(&maildir, "bob@beta.example", DELIVERY);
    let (return_path, rest) = stored.split_at(b"Return-Path: <>\r\n".len());
    assert_eq!(
        return_path, b"Return-Path: <>\r\n",
        "a bounce comes from the null sender"
    );
    let bounce = Message::parse(rest).unwrap();
    assert!(
        bounce.root().content_type.is("multipart", "report"),
        "{:?}",
        bounce.root().content_type
    );
    assert_eq!(
        bounce.root().content_type.params.get("report-type"),
        Some("delivery-status")
    );
    assert_eq!(
        bounce.subject().as_deref(),
        Some("Undelivered Mail Returned to Sender")
    );
    let status =
        String::from_utf8(bounce.decoded_body(part_of(&bounce, "message", "delivery-status")))
            .unwrap();
    for field in [
        "Reporting-MTA: dns; mail.beta.example\r\n",
        "Final-Recipient: rfc822; dave@delta.example\r\n",
        "Action: failed\r\n",
        "Status: 4.4.1\r\n",
        // No server answered: the diagnosis is ours, not an SMTP reply (RFC 3464 §2.3.6).
        "Diagnostic-Code: X-appnet; 451 4.4.1 ",
    ] {
        assert!(status.contains(field), "{field:?} in\n{status}");
    }
    let headers =
        String::from_utf8(bounce.decoded_body(part_of(&bounce, "text", "rfc822-headers"))).unwrap();
    assert!(
        headers.contains("Subject: to a host that is down\r\n"),
        "the original header section comes back:\n{headers}"
    );
    assert!(!headers.contains("this will bounce"), "but not the body");
}

/// Submits `message` (CRLF bytes) with python's smtplib `sendmail` after LOGIN, with
/// BODY=8BITMIME.
fn smtplib_sendmail_8bit(server: SocketAddr, from: &str, to: &str, message_file: &Path) {
    let script = r#"
import smtplib, sys
host, port, sender, rcpt, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
s = smtplib.SMTP(host, port, local_hostname='client.beta.example', timeout=10)
s.login(sender, 'pw')
refused = s.sendmail(sender, [rcpt], open(path, 'rb').read(), mail_options=['BODY=8BITMIME'])
print('refused', len(refused))
s.quit()
"#;
    let ran = run(
        Command::new(python3()).args([
            "-c",
            script,
            &server.ip().to_string(),
            &server.port().to_string(),
            from,
            to,
            message_file.to_str().unwrap(),
        ]),
        PEER_TIMEOUT,
    );
    assert_eq!(ran.code, Some(0), "{}", ran.all());
    assert!(ran.stdout.contains("refused 0"), "{}", ran.all());
}

/// A message for carol at gamma.example, with a dot-led line for our relay to stuff.
const TO_CAROL: &str = "From: Bob <bob@beta.example>\r
To: Carol <carol@gamma.example>\r
Subject: across to Postfix\r
Date: Fri, 27 Nov 2026 08:00:00 +0000\r
Message-ID: <to-carol-1@beta.example>\r
\r
Hello Carol,\r
.this line starts with a dot\r
bye\r
";

/// The same, 8-bit (BODY=8BITMIME end to end).
const TO_CAROL_8BIT: &str = "From: Bob <bob@beta.example>\r
To: Carol <carol@gamma.example>\r
Subject: =?UTF-8?B?7ZWc6rWt7Ja0?=\r
Message-ID: <to-carol-2@beta.example>\r
Date: Fri, 27 Nov 2026 08:00:01 +0000\r
MIME-Version: 1.0\r
Content-Type: text/plain; charset=utf-8\r
Content-Transfer-Encoding: 8bit\r
\r
캐럴에게: 8비트 본문이 그대로 도착해야 합니다.\r
";

/// A message as Postfix's `virtual` stored it (LF line ends): Postfix's own trace fields, then
/// ours, then what our user sent. Returns Postfix's part and checks the rest.
fn assert_relayed_through_postfix(stored: &[u8], sent: &str) -> String {
    let stored = String::from_utf8(stored.to_vec()).expect("UTF-8");
    let ours = "Received: from client.beta.example ([127.0.0.1])\n\tby mail.beta.example (appnet) with ESMTPA";
    let at = stored
        .find(ours)
        .unwrap_or_else(|| panic!("our Received field {ours:?} in\n{stored}"));
    let (postfix_part, from_ours) = stored.split_at(at);
    // Our field, with its continuation lines (RFC 5322 §2.2.3 folding).
    let mut rest = &from_ours[from_ours.find('\n').unwrap() + 1..];
    while rest.starts_with(['\t', ' ']) {
        rest = &rest[rest.find('\n').unwrap() + 1..];
    }
    assert_eq!(
        rest,
        String::from_utf8(common::lf(sent.as_bytes())).unwrap(),
        "the message after our Received field, as sent (Postfix stores LF line ends)"
    );
    postfix_part.to_string()
}

#[test]
fn our_relay_delivers_to_a_real_postfix_as_the_foreign_mx() {
    let lab = Lab::new();
    // Postfix on its own loopback address, offering STARTTLS with a certificate of its own.
    let mx_ip = Ipv4Addr::new(127, 0, 0, 77);
    let port = appnet_testkit::free_port_on(&[mx_ip.into()]);
    let postfix_tls = lab.path("postfix-tls");
    appnet_core::tls::TlsMaterial::load_or_generate(&postfix_tls, &["mx.gamma.example"]).unwrap();
    let postfix = common::Postfix::start(
        SocketAddr::from((mx_ip, port)),
        "gamma.example",
        &["carol@gamma.example"],
        Some(&postfix_tls),
    );

    let (origin, zone) = mx_zone("gamma.example", mx_ip);
    let dns = lab.start_dns(&[(&origin, zone)]);
    let mut config = lab.server_config(
        "beta",
        "mail.beta.example",
        &["beta.example"],
        &["bob@beta.example"],
    );
    config.resolver = dns;
    config.relay_port = port;
    config.retry_first = Seconds::from_millis(500);
    let addr = lab.start_mail(config, None);

    let data_file = lab.path("to-carol.eml");
    std::fs::write(&data_file, TO_CAROL.strip_suffix("\r\n").unwrap()).unwrap();
    let submitted = swaks(&[
        "--server",
        &addr.to_string(),
        "--ehlo",
        "client.beta.example",
        "--from",
        "bob@beta.example",
        "--to",
        "carol@gamma.example",
        "--auth",
        "PLAIN",
        "--auth-user",
        "bob@beta.example",
        "--auth-password",
        PASSWORD,
        "--data",
        data_file.to_str().unwrap(),
    ]);
    assert_swaks_ok(&submitted);

    let inbox = postfix.new_dir("carol@gamma.example");
    let deadline = std::time::Instant::now() + DELIVERY;
    let files = loop {
        let files = common::files_in(&inbox);
        if !files.is_empty() {
            break files;
        }
        if std::time::Instant::now() > deadline {
            panic!(
                "nothing reached Postfix's Maildir within {DELIVERY:?}:\n{}",
                postfix.log()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stored = std::fs::read(&files[0]).unwrap();
    let postfix_part = assert_relayed_through_postfix(&stored, TO_CAROL);
    assert!(
        postfix_part.starts_with("Return-Path: <bob@beta.example>\n"),
        "{postfix_part}"
    );
    assert!(
        postfix_part.contains("Delivered-To: carol@gamma.example\n"),
        "{postfix_part}"
    );
    // Postfix saw our EHLO name, and our relay upgraded to TLS (opportunistic, RFC 3207).
    assert!(
        postfix_part.contains("Received: from mail.beta.example (unknown [127.0.0.1])"),
        "{postfix_part}"
    );
    assert!(
        postfix_part.contains("by mx.gamma.example (Postfix) with ESMTPS id"),
        "{postfix_part}"
    );

    // An 8-bit body relayed with BODY=8BITMIME arrives unchanged.
    let file_8bit = lab.path("to-carol-8bit.eml");
    std::fs::write(&file_8bit, TO_CAROL_8BIT).unwrap();
    smtplib_sendmail_8bit(addr, "bob@beta.example", "carol@gamma.example", &file_8bit);
    let files = common::wait_for_files(&inbox, 2, DELIVERY);
    let second = files
        .iter()
        .map(|f| std::fs::read(f).unwrap())
        .find(|m| m != &stored)
        .unwrap();
    assert_relayed_through_postfix(&second, TO_CAROL_8BIT);
    let message = Message::parse(&second).unwrap();
    assert_eq!(message.subject().as_deref(), Some("한국어"));
    assert_eq!(
        message.text_body().unwrap().trim_end(),
        "캐럴에게: 8비트 본문이 그대로 도착해야 합니다."
    );
    let log = postfix.log();
    assert!(
        log.contains("to=<carol@gamma.example>, relay=virtual") && log.contains("status=sent"),
        "{log}"
    );
    drop(postfix);
    assert!(
        std::net::TcpStream::connect_timeout(
            &SocketAddr::from((mx_ip, port)),
            Duration::from_millis(500)
        )
        .is_err(),
        "Postfix stopped"
    );
}

/// Our user agent, the `appnet` binary, built next to this test (`cargo test --workspace`
/// builds it; alone, `cargo build -p appnet` does).
fn appnet_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    // target/debug/deps/peers-<hash> → target/debug/appnet
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from target/<profile>/deps")
        .join("appnet");
    assert!(
        binary.is_file(),
        "our user agent {} is not built: run `cargo build -p appnet` (cargo test --workspace builds it)",
        binary.display()
    );
    binary
}

/// The Korean message of the round trip, as `appnet mail send` arguments.
const KOREAN_SUBJECT: &str = "분기 보고서를 보냅니다 — 확인 부탁드립니다";
const KOREAN_BODY: &str = "앨리스님, 안녕하세요.\n\n3분기 보고서를 첨부합니다.\n.점으로 시작하는 줄도 그대로 가야 합니다.\n\n민수 드림\n";
/// LF line ends and no final newline: the attachment must come back exactly, not re-lined.
const ATTACHMENT: &str = "항목\t금액\n매출\t1,234,000원\n비용\t987,000원\n합계\t247,000원";

/// `message` with the parts that differ between two compositions of the same message (Date,
/// Message-ID, the multipart boundary) replaced by placeholders.
fn without_run_specifics(message: &[u8]) -> String {
    let text = String::from_utf8(message.to_vec()).expect("a 7-bit message");
    let mut out = String::new();
    for line in text.split_inclusive("\r\n") {
        if line.starts_with("Date: ") {
            out += "Date: <date>\r\n";
        } else if line.starts_with("Message-ID: ") {
            out += "Message-ID: <id>\r\n";
        } else {
            out += line;
        }
    }
    // The boundary: `=_appnet_` and 16 hex digits.
    let mut normalized = String::new();
    let mut rest = out.as_str();
    while let Some(at) = rest.find("=_appnet_") {
        normalized += &rest[..at];
        normalized += "=_appnet_<boundary>";
        let after = &rest[at + "=_appnet_".len()..];
        let hex = after.chars().take_while(|c| c.is_ascii_hexdigit()).count();
        assert_eq!(hex, 16, "a boundary of 16 hex digits in {after:.40}");
        rest = &after[hex..];
    }
    normalized + rest
}

/// The file in `dir` not among `seen`, waiting for it; it joins `seen`.
fn next_message(dir: &Path, seen: &mut Vec<PathBuf>) -> Vec<u8> {
    let files = common::wait_for_files(dir, seen.len() + 1, DELIVERY);
    let new: Vec<&PathBuf> = files.iter().filter(|f| !seen.contains(f)).collect();
    assert_eq!(new.len(), 1, "one new message in {}", dir.display());
    seen.push(new[0].clone());
    std::fs::read(new[0]).unwrap()
}

#[test]
fn korean_round_trip_through_our_user_agent() {
    let lab = Lab::new();
    let tls = Tls::new(&lab);
    let (addr, maildir) = beta_server(&lab, &tls);
    let attachment = lab.path("보고서.txt");
    std::fs::write(&attachment, ATTACHMENT).unwrap();
    let appnet = appnet_binary();
    let send = |server: SocketAddr, extra: &[&str]| {
        let mut command = Command::new(&appnet);
        command
            .args(["mail", "send", "--server", &server.to_string()])
            .args(["--from", "민수 김 <bob@beta.example>"])
            .args(["--to", "앨리스 <alice@beta.example>"])
            .args(["--subject", KOREAN_SUBJECT, "--body", KOREAN_BODY])
            .arg("--attach")
            .arg(&attachment)
            .args(["--password", PASSWORD])
            .args(extra);
        common::run_bytes(&mut command, PEER_TIMEOUT)
    };
    let inbox = common::new_dir(&maildir, "alice@beta.example");
    let mut seen = Vec::new();

    // 1. Submitted over STARTTLS, our CA verified: the stored message reads back exactly.
    let cacert = tls.ca_file.to_str().unwrap();
    let sent = send(
        addr,
        &[
            "--tls",
            "required",
            "--cacert",
            cacert,
            "--server-name",
            "localhost",
        ],
    );
    assert!(sent.status.success(), "appnet mail send: {sent:?}");
    assert!(
        String::from_utf8_lossy(&sent.stdout).contains("alice@beta.example: accepted: 250 2.0.0"),
        "{sent:?}"
    );
    let stored = next_message(&inbox, &mut seen);
    let (_, received, over_tls) = split_trace(&stored);
    assert!(received.contains("with ESMTPSA"), "{received}");
    let message = Message::parse(&stored).unwrap();
    assert_eq!(message.subject().as_deref(), Some(KOREAN_SUBJECT));
    assert_eq!(message.from()[0].name.as_deref(), Some("민수 김"));
    assert_eq!(message.to()[0].name.as_deref(), Some("앨리스"));
    assert_eq!(message.to()[0].address, "alice@beta.example");
    assert_eq!(
        message.text_body().unwrap().replace("\r\n", "\n"),
        KOREAN_BODY
    );
    let attachments = message.attachments();
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0].file_name, "보고서.txt");
    assert_eq!(attachments[0].content_type, "text/plain");
    assert_eq!(
        String::from_utf8_lossy(&attachments[0].bytes),
        ATTACHMENT,
        "the attachment's bytes"
    );
    assert!(over_tls.is_ascii(), "the user agent writes 7-bit MIME");

    // 2. --dry-run prints what would go on the wire: the same message but for the date, the
    // Message-ID and the boundary.
    let dry = send(addr, &["--dry-run"]);
    assert!(dry.status.success(), "{dry:?}");
    assert_eq!(
        without_run_specifics(&dry.stdout),
        without_run_specifics(over_tls),
        "--dry-run output against the delivered message"
    );

    // 3. The bytes on the wire: through a recording proxy, in plaintext (loopback allows AUTH
    // without TLS). What follows our trace fields is exactly what the client sent.
    let (proxy, recorded) = lab.start_recording_proxy(addr);
    let sent = send(proxy, &["--tls", "never"]);
    assert!(sent.status.success(), "{sent:?}");
    let stored = next_message(&inbox, &mut seen);
    let (_, received, rest) = split_trace(&stored);
    assert!(received.contains("with ESMTPA"), "{received}");
    let wire = common::data_on_wire(&recorded.lock().unwrap());
    assert_eq!(
        String::from_utf8_lossy(rest),
        String::from_utf8_lossy(&wire),
        "stored after the trace fields = DATA on the wire, un-dot-stuffed"
    );
    assert!(
        KOREAN_BODY.contains("\n.") && !wire.is_empty(),
        "the body has a dot-led line"
    );

    // 4. A client we did not write sends the pre-composed message: stored byte for byte.
    let composed = lab.path("composed.eml");
    let dry_bytes = dry.stdout.strip_suffix(b"\r\n").expect("ends with CRLF");
    std::fs::write(&composed, dry_bytes).unwrap();
    let ran = swaks(&[
        "--server",
        &addr.to_string(),
        "--from",
        "bob@beta.example",
        "--to",
        "alice@beta.example",
        "--auth",
        "PLAIN",
        "--auth-user",
        "bob@beta.example",
        "--auth-password",
        PASSWORD,
        "--data",
        composed.to_str().unwrap(),
    ]);
    assert_swaks_ok(&ran);
    let stored = next_message(&inbox, &mut seen);
    assert_stored_as_sent(&stored, &dry.stdout, "bob@beta.example", "ESMTPA");
    let message = Message::parse(&stored).unwrap();
    assert_eq!(message.attachments()[0].file_name, "보고서.txt");
}

/// Postfix's load generator: 40 messages over 4 parallel sessions, some sessions sending several
/// messages on one connection (`-d`), all to a local mailbox; every one arrives whole.
#[test]
fn postfix_smtp_source_sends_many_messages_over_parallel_sessions() {
    let lab = Lab::new();
    let tls = Tls::new(&lab);
    let (addr, maildir) = beta_server(&lab, &tls);
    let ran = run(
        Command::new(require_peer("smtp-source")).args([
            "-4",
            "-d",
            "-s",
            "4",
            "-m",
            "40",
            "-l",
            "5000",
            "-M",
            "client.beta.example",
            "-f",
            "bob@beta.example",
            "-t",
            "alice@beta.example",
            "-S",
            "load",
            &addr.to_string(),
        ]),
        PEER_TIMEOUT,
    );
    assert_eq!(ran.code, Some(0), "smtp-source failed:\n{}", ran.all());
    let inbox = common::new_dir(&maildir, "alice@beta.example");
    let files = common::wait_for_files(&inbox, 40, DELIVERY);
    assert_eq!(files.len(), 40);
    for file in files {
        let stored = std::fs::read(&file).unwrap();
        let (_, received, rest) = split_trace(&stored);
        assert!(
            received.contains("with ESMTP;") || received.contains("with ESMTP\r\n"),
            "{received}"
        );
        let message = Message::parse(rest).unwrap();
        assert_eq!(message.subject().as_deref(), Some("load"));
        // smtp-source's body: `-l` bytes of filler in lines of at most 80 characters.
        let body = message.decoded_body(message.root());
        assert!(
            body.len() >= 5000,
            "{} bytes in {}",
            body.len(),
            file.display()
        );
    }
}
