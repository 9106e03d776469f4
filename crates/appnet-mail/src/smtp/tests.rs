//! Client and server state machines wired together in memory: RFC 5321 Appendix D scenarios,
//! PIPELINING with and without, STARTTLS and AUTH, and the client against scripted servers for
//! the failures our server never produces (HELO-only servers, 421 mid-session, garbage).

use std::sync::Arc;

use super::*;

/// foo.com holds Jones, Brown and Admin.MRC; authenticated clients may relay elsewhere.
struct FooCom;

impl Policy for FooCom {
    fn check_recipient(&self, rcpt: &str, authenticated_as: Option<&str>) -> RcptVerdict {
        match rcpt.rsplit_once('@') {
            Some((local, domain)) if domain.eq_ignore_ascii_case("foo.com") => {
                if ["Jones", "Brown", "Admin.MRC", "ünï"].contains(&local) {
                    RcptVerdict::Accept
                } else {
                    RcptVerdict::UnknownUser
                }
            }
            _ if authenticated_as.is_some() => RcptVerdict::Accept,
            _ => RcptVerdict::RelayDenied,
        }
    }
}

fn server_config(hostname: &str) -> ServerConfig {
    ServerConfig {
        max_message_bytes: 10_000,
        ..ServerConfig::new(hostname)
    }
}

fn client_config() -> ClientConfig {
    ClientConfig {
        ehlo_name: "bar.com".into(),
        tls: TlsPolicy::Opportunistic,
        tls_active: false,
        auth: None,
    }
}

fn client(config: ClientConfig, rcpts: &[&str], message: &[u8]) -> ClientSession {
    let rcpts = rcpts.iter().map(|r| r.to_string()).collect();
    ClientSession::new(config, "Smith@bar.com".into(), rcpts, message, false, false)
}

/// The result of one conversation.
struct Conversation {
    delivery: Delivery,
    stored: Vec<(Envelope, Vec<u8>)>,
    /// Each write, as `C: ...` or `S: ...`.
    transcript: Vec<String>,
}

impl Conversation {
    fn client_writes(&self) -> Vec<&str> {
        self.transcript
            .iter()
            .filter_map(|t| t.strip_prefix("C: "))
            .collect()
    }

    fn outcome(&self, rcpt: &str) -> &Outcome {
        &self
            .delivery
            .recipients
            .iter()
            .find(|(r, _)| r == rcpt)
            .expect("recipient")
            .1
    }
}

type Filter = dyn Fn(Vec<u8>) -> Vec<u8>;

/// Passes each side's writes to the other until the client is done; the server's driver part
/// stores every message and accepts the password "secret".
fn converse(
    client: &mut ClientSession,
    server: &mut ServerSession,
    filter: &Filter,
) -> Conversation {
    let mut stored = Vec::new();
    let mut transcript = Vec::new();
    let (mut server_tls, mut client_tls) = (false, false);
    for _ in 0..1000 {
        let mut progressed = false;
        while let Some(output) = server.poll_output() {
            progressed = true;
            match output {
                Output::Send(bytes) => {
                    let bytes = filter(bytes);
                    transcript.push(format!("S: {}", String::from_utf8_lossy(&bytes)));
                    client.feed(&bytes);
                }
                Output::StartTls => server_tls = true,
                Output::Authenticate { user, password, .. } => {
                    server.auth_result((password == "secret").then_some(user));
                }
                Output::Message(envelope, body) => {
                    stored.push((envelope, body));
                    server.message_stored(Ok(format!("Q{}", stored.len())));
                }
                Output::Received(_) => {}
                Output::Close => client.feed_eof(),
            }
        }
        while let Some(output) = client.poll_output() {
            progressed = true;
            match output {
                ClientOutput::Send(bytes) => {
                    transcript.push(format!("C: {}", String::from_utf8_lossy(&bytes)));
                    server.feed(&bytes);
                }
                ClientOutput::StartTls => client_tls = true,
                ClientOutput::Done(delivery) => {
                    return Conversation {
                        delivery,
                        stored,
                        transcript,
                    };
                }
            }
        }
        if server_tls && client_tls {
            (server_tls, client_tls) = (false, false);
            server.tls_established();
            client.tls_established();
            progressed = true;
        }
        assert!(progressed, "stuck: {transcript:#?}");
    }
    panic!("no end: {transcript:#?}");
}

fn no_filter(bytes: Vec<u8>) -> Vec<u8> {
    bytes
}

/// Removes one EHLO extension line, to play a server without it.
fn without(extension: &'static str) -> impl Fn(Vec<u8>) -> Vec<u8> {
    move |bytes| {
        let text = String::from_utf8_lossy(&bytes).replace(&format!("250-{extension}\r\n"), "");
        text.into_bytes()
    }
}

fn server(config: ServerConfig) -> ServerSession {
    ServerSession::new(config, Arc::new(FooCom), "192.0.2.7:4000")
}

const D1_MESSAGE: &[u8] = b"Blah blah blah...\r\n...etc. etc. etc.\r\n";

fn is_accepted(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Accepted(_))
}

#[test]
fn appendix_d1_client_to_server_pipelined() {
    let mut c = client(
        client_config(),
        &["Jones@foo.com", "Green@foo.com", "Brown@foo.com"],
        D1_MESSAGE,
    );
    let mut s = server(server_config("foo.com"));
    let conv = converse(&mut c, &mut s, &no_filter);
    assert!(is_accepted(conv.outcome("Jones@foo.com")));
    assert!(is_accepted(conv.outcome("Brown@foo.com")));
    let Outcome::Permanent(green) = conv.outcome("Green@foo.com") else {
        panic!("Green should be refused")
    };
    assert_eq!(
        (green.code, green.enhanced.map(|e| e.to_string())),
        (550, Some("5.1.1".into()))
    );
    // RFC 2920: MAIL, the RCPTs and DATA went out in one write.
    let writes = conv.client_writes();
    assert_eq!(
        writes[1],
        "MAIL FROM:<Smith@bar.com> SIZE=38\r\nRCPT TO:<Jones@foo.com>\r\n\
         RCPT TO:<Green@foo.com>\r\nRCPT TO:<Brown@foo.com>\r\nDATA\r\n"
    );
    assert_eq!(writes.last(), Some(&"QUIT\r\n"));
    let (envelope, body) = &conv.stored[0];
    assert_eq!(body, D1_MESSAGE);
    assert_eq!(envelope.rcpt_to, ["Jones@foo.com", "Brown@foo.com"]);
    assert_eq!(envelope.declared_size, Some(38));
    assert_eq!(conv.delivery.data_reply.as_ref().map(|r| r.code), Some(250));
}

#[test]
fn appendix_d1_client_to_server_without_pipelining() {
    let mut c = client(
        client_config(),
        &["Jones@foo.com", "Green@foo.com", "Brown@foo.com"],
        D1_MESSAGE,
    );
    let mut s = server(server_config("foo.com"));
    let conv = converse(&mut c, &mut s, &without("PIPELINING"));
    let writes = conv.client_writes();
    assert_eq!(
        writes,
        [
            "EHLO bar.com\r\n",
            "MAIL FROM:<Smith@bar.com> SIZE=38\r\n",
            "RCPT TO:<Jones@foo.com>\r\n",
            "RCPT TO:<Green@foo.com>\r\n",
            "RCPT TO:<Brown@foo.com>\r\n",
            "DATA\r\n",
            "Blah blah blah...\r\n....etc. etc. etc.\r\n.\r\n",
            "QUIT\r\n",
        ]
    );
    assert!(is_accepted(conv.outcome("Brown@foo.com")));
    assert!(matches!(
        conv.outcome("Green@foo.com"),
        Outcome::Permanent(_)
    ));
    assert_eq!(conv.stored.len(), 1);
}

#[test]
fn appendix_d2_no_recipient_accepted_sends_no_message() {
    for filter in [&no_filter as &Filter, &without("PIPELINING")] {
        let mut c = client(
            client_config(),
            &["Green@foo.com", "White@foo.com"],
            D1_MESSAGE,
        );
        let mut s = server(server_config("foo.com"));
        let conv = converse(&mut c, &mut s, filter);
        assert!(conv.stored.is_empty());
        assert!(
            conv.delivery
                .recipients
                .iter()
                .all(|(_, o)| matches!(o, Outcome::Permanent(r) if r.code == 550))
        );
        assert!(!conv.client_writes().iter().any(|w| w.contains("Blah")));
    }
}

#[test]
fn appendix_d3_relayed_through_foo_com() {
    // Step 1: bar.com submits to foo.com, authenticated, mail for xyz.com.
    let config = ClientConfig {
        auth: Some(("JQP".into(), "secret".into())),
        ..client_config()
    };
    let rcpts = vec!["Jones@XYZ.COM".to_string()];
    let message = b"Date: Thu, 21 May 1998 05:33:29 -0700\r\nFrom: John Q. Public <JQP@bar.com>\r\n\
                    Subject: The Next Meeting of the Board\r\nTo: Jones@xyz.com\r\n\r\nBill:\r\n\
                    The next meeting of the board of directors will be\r\non Tuesday.\r\n.\r\nJohn.\r\n";
    let mut c = ClientSession::new(config, "JQP@bar.com".into(), rcpts, message, false, false);
    let mut foo = server(ServerConfig {
        auth_without_tls: true,
        ..server_config("foo.com")
    });
    let conv = converse(&mut c, &mut foo, &no_filter);
    assert!(
        conv.client_writes()
            .iter()
            .any(|w| w.starts_with("AUTH PLAIN "))
    );
    let (envelope, body) = conv.stored[0].clone();
    assert_eq!(envelope.authenticated_as.as_deref(), Some("JQP"));
    assert_eq!(body, message);

    // Step 2: foo.com relays to xyz.com, adding its Received line (RFC 5321 §4.4).
    let mut relayed =
        b"Received: from bar.com by foo.com ; Thu, 21 May 1998 05:33:29 -0700\r\n".to_vec();
    relayed.extend_from_slice(&body);
    let relay_config = ClientConfig {
        ehlo_name: "foo.com".into(),
        ..client_config()
    };
    let mut relay = ClientSession::new(
        relay_config,
        envelope.mail_from.clone(),
        envelope.rcpt_to.clone(),
        &relayed,
        envelope.smtputf8,
        envelope.body_8bit,
    );
    let mut xyz = ServerSession::new(server_config("xyz.com"), Arc::new(AcceptAll), "foo");
    let conv = converse(&mut relay, &mut xyz, &no_filter);
    assert!(is_accepted(conv.outcome("Jones@XYZ.COM")));
    let (envelope, body) = &conv.stored[0];
    assert_eq!(envelope.helo, "foo.com");
    assert_eq!(envelope.mail_from, "JQP@bar.com");
    assert_eq!(body, &relayed);
}

#[test]
fn appendix_d3_relay_refused_without_auth() {
    let mut c = client(client_config(), &["Jones@XYZ.COM"], D1_MESSAGE);
    let mut s = server(server_config("foo.com"));
    let conv = converse(&mut c, &mut s, &no_filter);
    assert!(matches!(conv.outcome("Jones@XYZ.COM"), Outcome::Permanent(r) if r.code == 554));
}

#[test]
fn appendix_d4_verified_recipient_delivery() {
    let mut c = client(
        client_config(),
        &["Admin.MRC@foo.com"],
        b"Blah blah blah...",
    );
    let mut s = server(server_config("foo.com"));
    let conv = converse(&mut c, &mut s, &no_filter);
    assert!(is_accepted(conv.outcome("Admin.MRC@foo.com")));
    // The client added the missing final CRLF.
    assert_eq!(conv.stored[0].1, b"Blah blah blah...\r\n");
}

#[test]
fn starttls_then_auth_then_mail() {
    let config = ClientConfig {
        tls: TlsPolicy::Required,
        auth: Some(("alice".into(), "secret".into())),
        ..client_config()
    };
    let mut c = client(config, &["someone@elsewhere.example"], b"hi\r\n");
    let mut s = server(ServerConfig {
        tls_available: true,
        ..server_config("foo.com")
    });
    let conv = converse(&mut c, &mut s, &no_filter);
    let writes = conv.client_writes();
    assert_eq!(writes[..2], ["EHLO bar.com\r\n", "STARTTLS\r\n"]);
    assert_eq!(writes[2], "EHLO bar.com\r\n");
    assert!(writes[3].starts_with("AUTH PLAIN "));
    let envelope = &conv.stored[0].0;
    assert!(envelope.tls);
    assert_eq!(envelope.authenticated_as.as_deref(), Some("alice"));
}

#[test]
fn auth_login_when_plain_not_offered() {
    let config = ClientConfig {
        auth: Some(("bob".into(), "secret".into())),
        ..client_config()
    };
    let mut c = client(config, &["x@elsewhere.example"], b"hi\r\n");
    let mut s = server(ServerConfig {
        auth_without_tls: true,
        ..server_config("foo.com")
    });
    let only_login = |bytes: Vec<u8>| {
        String::from_utf8_lossy(&bytes)
            .replace("AUTH PLAIN LOGIN", "AUTH LOGIN")
            .into_bytes()
    };
    let conv = converse(&mut c, &mut s, &only_login);
    assert_eq!(conv.client_writes()[1], "AUTH LOGIN\r\n");
    assert_eq!(conv.stored[0].0.authenticated_as.as_deref(), Some("bob"));
}

#[test]
fn auth_failure_is_permanent() {
    let config = ClientConfig {
        auth: Some(("bob".into(), "wrong".into())),
        ..client_config()
    };
    let mut c = client(config, &["x@elsewhere.example"], b"hi\r\n");
    let mut s = server(ServerConfig {
        auth_without_tls: true,
        ..server_config("foo.com")
    });
    let conv = converse(&mut c, &mut s, &no_filter);
    assert!(matches!(conv.outcome("x@elsewhere.example"), Outcome::Permanent(r) if r.code == 535));
    assert!(conv.stored.is_empty());
}

#[test]
fn tls_required_but_not_offered_is_transient() {
    let config = ClientConfig {
        tls: TlsPolicy::Required,
        ..client_config()
    };
    let mut c = client(config, &["Jones@foo.com"], b"hi\r\n");
    let mut s = server(server_config("foo.com"));
    let conv = converse(&mut c, &mut s, &no_filter);
    assert!(matches!(conv.outcome("Jones@foo.com"), Outcome::Transient(r) if r.code == 454));
    assert_eq!(conv.client_writes(), ["EHLO bar.com\r\n", "QUIT\r\n"]);
}

#[test]
fn message_needing_8bitmime_is_not_sent_to_a_server_without_it() {
    let rcpts = vec!["Jones@foo.com".to_string()];
    let mut c = ClientSession::new(
        client_config(),
        "a@bar.com".into(),
        rcpts,
        "é\r\n".as_bytes(),
        false,
        true,
    );
    let mut s = server(server_config("foo.com"));
    let conv = converse(&mut c, &mut s, &without("8BITMIME"));
    let Outcome::Permanent(reply) = conv.outcome("Jones@foo.com") else {
        panic!("expected a permanent failure")
    };
    assert_eq!(
        reply.enhanced.map(|e| e.to_string()).as_deref(),
        Some("5.6.3")
    );
    assert_eq!(conv.client_writes(), ["EHLO bar.com\r\n", "QUIT\r\n"]);

    // With 8BITMIME it goes through, declared.
    let rcpts = vec!["Jones@foo.com".to_string()];
    let mut c = ClientSession::new(
        client_config(),
        "a@bar.com".into(),
        rcpts,
        "é\r\n".as_bytes(),
        false,
        true,
    );
    let mut s = server(server_config("foo.com"));
    let conv = converse(&mut c, &mut s, &no_filter);
    assert!(conv.client_writes()[1].starts_with("MAIL FROM:<a@bar.com> SIZE=4 BODY=8BITMIME\r\n"));
    assert!(conv.stored[0].0.body_8bit);
}

#[test]
fn utf8_addresses_use_smtputf8() {
    let rcpts = vec!["ünï@foo.com".to_string()];
    let mut c = ClientSession::new(
        client_config(),
        "δοκιμή@bar.com".into(),
        rcpts.clone(),
        b"x\r\n",
        false,
        false,
    );
    let mut s = server(server_config("foo.com"));
    let conv = converse(&mut c, &mut s, &no_filter);
    assert!(is_accepted(conv.outcome("ünï@foo.com")));
    assert!(conv.stored[0].0.smtputf8);

    let mut c = ClientSession::new(
        client_config(),
        "δοκιμή@bar.com".into(),
        rcpts,
        b"x\r\n",
        false,
        false,
    );
    let mut s = server(server_config("foo.com"));
    let conv = converse(&mut c, &mut s, &without("SMTPUTF8"));
    assert!(matches!(conv.outcome("ünï@foo.com"), Outcome::Permanent(r) if r.code == 553));
}

#[test]
fn message_over_announced_size_is_refused_before_mail() {
    let big = "x".repeat(98) + "\r\n";
    let mut c = client(
        client_config(),
        &["Jones@foo.com"],
        big.repeat(200).as_bytes(),
    );
    let mut s = server(server_config("foo.com"));
    let conv = converse(&mut c, &mut s, &no_filter);
    assert!(matches!(conv.outcome("Jones@foo.com"), Outcome::Permanent(r) if r.code == 552));
    assert_eq!(conv.client_writes().len(), 2);
}

#[test]
fn storage_failure_is_transient_for_accepted_recipients() {
    let mut c = client(
        client_config(),
        &["Jones@foo.com", "Green@foo.com"],
        b"x\r\n",
    );
    let mut s = server(server_config("foo.com"));
    // Play the driver by hand: fail the store.
    let mut transcript = Vec::new();
    loop {
        let mut progressed = false;
        while let Some(output) = s.poll_output() {
            progressed = true;
            match output {
                Output::Send(bytes) => c.feed(&bytes),
                Output::Message(..) => s.message_stored(Err("disk full".into())),
                _ => {}
            }
        }
        let mut done = None;
        while let Some(output) = c.poll_output() {
            progressed = true;
            match output {
                ClientOutput::Send(bytes) => {
                    transcript.push(bytes.clone());
                    s.feed(&bytes);
                }
                ClientOutput::Done(delivery) => done = Some(delivery),
                ClientOutput::StartTls => unreachable!(),
            }
        }
        if let Some(delivery) = done {
            assert!(matches!(&delivery.recipients[0].1, Outcome::Transient(r) if r.code == 451));
            assert!(matches!(&delivery.recipients[1].1, Outcome::Permanent(r) if r.code == 550));
            assert_eq!(delivery.data_reply.map(|r| r.code), Some(451));
            return;
        }
        assert!(progressed);
    }
}

fn sends(c: &mut ClientSession) -> Vec<String> {
    std::iter::from_fn(|| c.poll_output())
        .map(|o| match o {
            ClientOutput::Send(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            other => format!("{other:?}"),
        })
        .collect()
}

fn done(c: &mut ClientSession) -> Delivery {
    std::iter::from_fn(|| c.poll_output())
        .find_map(|o| match o {
            ClientOutput::Done(delivery) => Some(delivery),
            _ => None,
        })
        .expect("done")
}

#[test]
fn helo_fallback_and_one_at_a_time() {
    let mut c = client(client_config(), &["a@old.example"], b"x\r\n");
    c.feed(b"220 old.example SMTP\r\n");
    assert_eq!(sends(&mut c), ["EHLO bar.com\r\n"]);
    c.feed(b"502 Command not implemented\r\n");
    assert_eq!(sends(&mut c), ["HELO bar.com\r\n"]);
    c.feed(b"250 old.example\r\n");
    // No extensions: no SIZE=, no pipelining.
    assert_eq!(sends(&mut c), ["MAIL FROM:<Smith@bar.com>\r\n"]);
    c.feed(b"250 OK\r\n");
    assert_eq!(sends(&mut c), ["RCPT TO:<a@old.example>\r\n"]);
    c.feed(b"250 OK\r\n");
    assert_eq!(sends(&mut c), ["DATA\r\n"]);
    c.feed(b"354 go\r\n");
    assert_eq!(sends(&mut c), ["x\r\n.\r\n"]);
    c.feed(b"250 OK\r\n");
    assert_eq!(sends(&mut c), ["QUIT\r\n"]);
    c.feed(b"221 bye\r\n");
    let delivery = done(&mut c);
    assert!(is_accepted(&delivery.recipients[0].1));
}

#[test]
fn server_421_mid_session_makes_everyone_transient() {
    let mut c = client(client_config(), &["a@x.example", "b@x.example"], b"x\r\n");
    c.feed(b"220 x\r\n250-x\r\n250 PIPELINING\r\n");
    let writes = sends(&mut c);
    assert_eq!(writes.len(), 2);
    assert!(writes[1].starts_with("MAIL FROM:<Smith@bar.com>\r\nRCPT TO:<a@x.example>\r\n"));
    c.feed(b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n421 4.3.2 shutting down\r\n");
    let delivery = done(&mut c);
    for (_, outcome) in &delivery.recipients {
        assert!(matches!(outcome, Outcome::Transient(r) if r.code == 421));
    }
    // No QUIT after 421: the server has gone.
    assert!(c.poll_output().is_none());
}

#[test]
fn greeting_554_is_permanent_for_all() {
    let mut c = client(client_config(), &["a@x.example", "b@x.example"], b"x\r\n");
    c.feed(b"554 5.7.1 go away\r\n");
    assert_eq!(sends(&mut c), ["QUIT\r\n"]);
    c.feed(b"221 bye\r\n");
    let delivery = done(&mut c);
    assert!(
        delivery
            .recipients
            .iter()
            .all(|(_, o)| matches!(o, Outcome::Permanent(r) if r.code == 554))
    );
}

#[test]
fn connection_lost_after_the_message_is_transient() {
    let mut c = client(client_config(), &["a@x.example"], b"x\r\n");
    c.feed(b"220 x\r\n250 x\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    let writes = sends(&mut c);
    assert_eq!(writes.last().map(String::as_str), Some("x\r\n.\r\n"));
    c.feed_eof();
    let delivery = done(&mut c);
    assert!(matches!(&delivery.recipients[0].1, Outcome::Transient(r) if r.code == 421));
    assert_eq!(delivery.data_reply, None);
}

#[test]
fn rcpt_decisions_survive_a_lost_connection() {
    let mut c = client(client_config(), &["a@x.example", "b@x.example"], b"x\r\n");
    c.feed(b"220 x\r\n250 x\r\n250 ok\r\n550 5.1.1 no\r\n");
    sends(&mut c);
    c.feed_eof();
    let delivery = done(&mut c);
    assert!(matches!(&delivery.recipients[0].1, Outcome::Permanent(r) if r.code == 550));
    assert!(matches!(&delivery.recipients[1].1, Outcome::Transient(_)));
}

#[test]
fn garbage_reply_is_transient() {
    let mut c = client(client_config(), &["a@x.example"], b"x\r\n");
    c.feed(b"HTTP/1.1 400 Bad Request\r\n");
    let delivery = done(&mut c);
    assert!(matches!(&delivery.recipients[0].1, Outcome::Transient(_)));
}

#[test]
fn bytes_injected_after_starttls_220_are_ignored() {
    let config = ClientConfig {
        tls: TlsPolicy::Required,
        ..client_config()
    };
    let mut c = client(config, &["a@x.example"], b"x\r\n");
    c.feed(b"220 x\r\n250-x\r\n250 STARTTLS\r\n");
    sends(&mut c);
    c.feed(b"220 go ahead\r\n250-x\r\n250 PIPELINING\r\n");
    assert_eq!(sends(&mut c), ["StartTls"]);
    c.tls_established();
    assert_eq!(sends(&mut c), ["EHLO bar.com\r\n"]);
    // The injected EHLO reply was dropped: this one is the first after the handshake.
    c.feed(b"250 x\r\n");
    assert_eq!(sends(&mut c), ["MAIL FROM:<Smith@bar.com>\r\n"]);
}

#[test]
fn empty_data_sent_when_354_comes_without_recipients() {
    let mut c = client(client_config(), &["a@x.example"], b"x\r\n");
    c.feed(b"220 x\r\n250-x\r\n250 PIPELINING\r\n");
    sends(&mut c);
    // A broken server answers DATA with 354 although it refused the only recipient.
    c.feed(b"250 ok\r\n550 no\r\n354 go\r\n");
    assert_eq!(sends(&mut c), [".\r\n"]);
    c.feed(b"554 no message\r\n");
    assert_eq!(sends(&mut c), ["QUIT\r\n"]);
    c.feed(b"221 bye\r\n");
    let delivery = done(&mut c);
    assert!(matches!(&delivery.recipients[0].1, Outcome::Permanent(r) if r.code == 550));
}

#[test]
fn dot_lines_and_bare_newlines_arrive_intact() {
    let message = b"Subject: dots\n\n.\n..\n.hidden\r\nend";
    let mut c = client(client_config(), &["Jones@foo.com"], message);
    let mut s = server(server_config("foo.com"));
    let conv = converse(&mut c, &mut s, &no_filter);
    assert_eq!(
        conv.stored[0].1,
        b"Subject: dots\r\n\r\n.\r\n..\r\n.hidden\r\nend\r\n"
    );
}
