//! Commands as the client sends them: the line on the wire (RFC 959 §4.1 and §5.3's syntax,
//! with RFC 2428's EPRT/EPSV, RFC 3659's SIZE/MLSD and RFC 4217's AUTH/PBSZ/PROT), the
//! one-line summary the trace shows, and which reply completes a command (RFC 959 §5.4).
//!
//! The command type is the server's own [`Command`], so that every line the client writes is
//! one the server's parser reads back to the same value (a property test checks it).

use std::net::{IpAddr, SocketAddr};

use crate::proto::command::{Command, TransferType};
use crate::proto::reply::Reply;

use super::ClientError;

/// The line for `command`, CRLF included.
///
/// A path holding CR, LF or NUL is refused rather than sent: on the control connection it
/// would end the command early and smuggle in a second one (RFC 959 §3.1.1.5.1's end of line).
pub fn encode(command: &Command) -> Result<Vec<u8>, ClientError> {
    let mut line = Vec::with_capacity(64);
    let verb_only = |line: &mut Vec<u8>, verb: &str| line.extend_from_slice(verb.as_bytes());
    let with = |line: &mut Vec<u8>, verb: &str, argument: &[u8]| -> Result<(), ClientError> {
        check_argument(argument)?;
        line.extend_from_slice(verb.as_bytes());
        line.push(b' ');
        line.extend_from_slice(argument);
        Ok(())
    };
    let path = |line: &mut Vec<u8>, verb: &str, path: &[u8]| -> Result<(), ClientError> {
        if path.is_empty() {
            return Err(ClientError::BadArgument("an empty path"));
        }
        with(line, verb, path)
    };
    let optional = |line: &mut Vec<u8>, verb: &str, arg: &Option<Vec<u8>>| match arg {
        Some(arg) if !arg.is_empty() => with(line, verb, arg),
        _ => {
            verb_only(line, verb);
            Ok(())
        }
    };
    match command {
        Command::User(name) => path(&mut line, "USER", name.as_bytes())?,
        // RFC 959 makes PASS's argument required, but an empty password is a real one.
        Command::Pass(password) => with(&mut line, "PASS", password.as_bytes())?,
        Command::Acct(account) => path(&mut line, "ACCT", account.as_bytes())?,
        Command::Cwd(p) => path(&mut line, "CWD", p)?,
        Command::Cdup => verb_only(&mut line, "CDUP"),
        Command::Quit => verb_only(&mut line, "QUIT"),
        Command::Rein => verb_only(&mut line, "REIN"),
        Command::Port(addr) => with(&mut line, "PORT", port_argument(*addr)?.as_bytes())?,
        Command::Eprt(addr) => with(&mut line, "EPRT", eprt_argument(*addr).as_bytes())?,
        Command::Pasv => verb_only(&mut line, "PASV"),
        Command::Epsv { all: false } => verb_only(&mut line, "EPSV"),
        Command::Epsv { all: true } => verb_only(&mut line, "EPSV ALL"),
        Command::Type(TransferType::Ascii) => verb_only(&mut line, "TYPE A"),
        Command::Type(TransferType::Image) => verb_only(&mut line, "TYPE I"),
        Command::Stru(c) => with(&mut line, "STRU", c.to_string().as_bytes())?,
        Command::Mode(c) => with(&mut line, "MODE", c.to_string().as_bytes())?,
        Command::Retr(p) => path(&mut line, "RETR", p)?,
        Command::Stor(p) => path(&mut line, "STOR", p)?,
        Command::Stou => verb_only(&mut line, "STOU"),
        Command::Appe(p) => path(&mut line, "APPE", p)?,
        Command::Rest(offset) => with(&mut line, "REST", offset.to_string().as_bytes())?,
        Command::Rnfr(p) => path(&mut line, "RNFR", p)?,
        Command::Rnto(p) => path(&mut line, "RNTO", p)?,
        Command::Abor => verb_only(&mut line, "ABOR"),
        Command::Dele(p) => path(&mut line, "DELE", p)?,
        Command::Rmd(p) => path(&mut line, "RMD", p)?,
        Command::Mkd(p) => path(&mut line, "MKD", p)?,
        Command::Pwd => verb_only(&mut line, "PWD"),
        Command::List(p) => optional(&mut line, "LIST", p)?,
        Command::Nlst(p) => optional(&mut line, "NLST", p)?,
        Command::Mlsd(p) => optional(&mut line, "MLSD", p)?,
        Command::Mlst(p) => optional(&mut line, "MLST", p)?,
        Command::Size(p) => path(&mut line, "SIZE", p)?,
        Command::Mdtm(p) => path(&mut line, "MDTM", p)?,
        Command::Site(text) => path(&mut line, "SITE", text.as_bytes())?,
        Command::Syst => verb_only(&mut line, "SYST"),
        Command::Stat(p) => optional(&mut line, "STAT", p)?,
        Command::Help(topic) => optional(
            &mut line,
            "HELP",
            &topic.as_ref().map(|t| t.as_bytes().to_vec()),
        )?,
        Command::Noop => verb_only(&mut line, "NOOP"),
        Command::Feat => verb_only(&mut line, "FEAT"),
        Command::Opts(text) => path(&mut line, "OPTS", text.as_bytes())?,
        Command::Auth(mechanism) => path(&mut line, "AUTH", mechanism.as_bytes())?,
        Command::Pbsz(size) => with(&mut line, "PBSZ", size.to_string().as_bytes())?,
        Command::Prot(level) => with(&mut line, "PROT", level.to_string().as_bytes())?,
        Command::Ccc => verb_only(&mut line, "CCC"),
    }
    line.extend_from_slice(b"\r\n");
    Ok(line)
}

fn check_argument(argument: &[u8]) -> Result<(), ClientError> {
    if argument.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(ClientError::BadArgument(
            "a name with CR, LF or NUL cannot be sent on the control connection",
        ));
    }
    Ok(())
}

/// RFC 959 §4.1.2: `h1,h2,h3,h4,p1,p2`; PORT has no form for IPv6 (that is what EPRT is for).
fn port_argument(addr: SocketAddr) -> Result<String, ClientError> {
    let IpAddr::V4(ip) = addr.ip() else {
        return Err(ClientError::BadArgument("PORT takes only IPv4 addresses"));
    };
    let [h1, h2, h3, h4] = ip.octets();
    let port = addr.port();
    Ok(format!("{h1},{h2},{h3},{h4},{},{}", port >> 8, port & 0xff))
}

/// RFC 2428 §2: `|1|132.235.1.2|6275|` or `|2|1080::8:800:200C:417A|5282|`.
fn eprt_argument(addr: SocketAddr) -> String {
    let protocol = if addr.is_ipv4() { 1 } else { 2 };
    format!("|{protocol}|{}|{}|", addr.ip(), addr.port())
}

/// The command as the trace shows it: the line without CRLF, with PASS's argument masked.
pub fn summary(command: &Command) -> String {
    if let Command::Pass(_) = command {
        return "PASS ****".into();
    }
    match encode(command) {
        Ok(line) => String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_string(),
        Err(_) => "(a command that cannot be encoded)".into(),
    }
}

/// What a final reply means for a command (RFC 959 §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The command did what it was asked.
    Done,
    /// 3yz where the sequence goes on (USER's 331 before PASS).
    Continue,
}

/// Checks `reply` against the replies RFC 959 §5.4 lists as success for `command`: 2yz for
/// most; 350 for RNFR and REST, whose next command completes them; 331/332 for USER and 332
/// for PASS, which ask for more. A 1yz is not final and must not be passed here.
pub fn check(command: &Command, reply: &Reply) -> Result<Outcome, ClientError> {
    let code = reply.code;
    let ok = match command {
        Command::Rnfr(_) | Command::Rest(_) => code == 350,
        Command::User(_) => matches!(code, 230 | 331 | 332),
        Command::Pass(_) => matches!(code, 202 | 230 | 332),
        Command::Auth(_) => code == 234,
        _ => reply.is_positive() && code < 300,
    };
    if !ok {
        return Err(ClientError::Refused {
            command: summary(command),
            reply: reply.clone(),
        });
    }
    Ok(
        if (300..400).contains(&code) && !matches!(command, Command::Rnfr(_) | Command::Rest(_)) {
            Outcome::Continue
        } else {
            Outcome::Done
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::command::parse_command;
    use proptest::prelude::*;

    fn line(command: Command) -> String {
        String::from_utf8(encode(&command).unwrap()).unwrap()
    }

    #[test]
    fn lines_follow_the_rfc_syntax() {
        assert_eq!(
            line(Command::User("anonymous".into())),
            "USER anonymous\r\n"
        );
        assert_eq!(line(Command::Type(TransferType::Image)), "TYPE I\r\n");
        assert_eq!(
            line(Command::Port("132.235.1.2:6275".parse().unwrap())),
            "PORT 132,235,1,2,24,131\r\n"
        );
        assert_eq!(
            line(Command::Eprt(
                "[1080::8:800:200c:417a]:5282".parse().unwrap()
            )),
            "EPRT |2|1080::8:800:200c:417a|5282|\r\n"
        );
        assert_eq!(line(Command::Rest(1_048_576)), "REST 1048576\r\n");
        assert_eq!(line(Command::List(None)), "LIST\r\n");
        assert_eq!(line(Command::Mlsd(Some(Vec::new()))), "MLSD\r\n");
        assert_eq!(
            line(Command::Retr("보고서.txt".as_bytes().to_vec())),
            "RETR 보고서.txt\r\n"
        );
    }

    #[test]
    fn smuggled_commands_are_refused() {
        for bad in [&b"a\r\nDELE b"[..], b"a\nb", b"a\0b"] {
            assert!(matches!(
                encode(&Command::Retr(bad.to_vec())),
                Err(ClientError::BadArgument(_))
            ));
        }
        assert!(encode(&Command::Cwd(Vec::new())).is_err());
        assert!(encode(&Command::Port("[::1]:21".parse().unwrap())).is_err());
    }

    #[test]
    fn the_password_never_reaches_the_trace() {
        assert_eq!(summary(&Command::Pass("hunter2".into())), "PASS ****");
        assert_eq!(summary(&Command::Rest(5)), "REST 5");
    }

    #[test]
    fn replies_complete_commands_as_rfc_959_says() {
        let reply = |code| Reply::new(code, "x");
        let rnfr = Command::Rnfr(b"a".to_vec());
        assert_eq!(check(&rnfr, &reply(350)).unwrap(), Outcome::Done);
        assert!(check(&rnfr, &reply(250)).is_err());
        let user = Command::User("u".into());
        assert_eq!(check(&user, &reply(331)).unwrap(), Outcome::Continue);
        assert_eq!(check(&user, &reply(230)).unwrap(), Outcome::Done);
        assert!(check(&user, &reply(530)).is_err());
        assert_eq!(
            check(&Command::Cwd(b"d".to_vec()), &reply(250)).unwrap(),
            Outcome::Done
        );
        assert_eq!(
            check(&Command::Cwd(b"d".to_vec()), &reply(200)).unwrap(),
            Outcome::Done
        );
        let err = check(&Command::Dele(b"f".to_vec()), &reply(550)).unwrap_err();
        assert_eq!(err.refused_verb(), Some("DELE"));
        assert!(check(&Command::Mkd(b"d".to_vec()), &reply(350)).is_err());
    }

    fn path() -> impl Strategy<Value = Vec<u8>> {
        let byte = any::<u8>().prop_filter("no line ends", |b| !matches!(b, 0 | b'\r' | b'\n'));
        prop::collection::vec(byte, 1..40)
    }

    fn command() -> impl Strategy<Value = Command> {
        let text = "[!-~][ -~]{0,20}";
        prop_oneof![
            text.prop_map(Command::User),
            "[ -~]{1,20}".prop_map(Command::Pass),
            path().prop_map(Command::Cwd),
            path().prop_map(Command::Retr),
            path().prop_map(Command::Stor),
            path().prop_map(Command::Appe),
            path().prop_map(Command::Dele),
            path().prop_map(Command::Mkd),
            path().prop_map(Command::Rmd),
            path().prop_map(Command::Rnfr),
            path().prop_map(Command::Rnto),
            path().prop_map(Command::Size),
            prop::option::of(path()).prop_map(Command::List),
            prop::option::of(path()).prop_map(Command::Mlsd),
            any::<u64>().prop_map(Command::Rest),
            (any::<[u8; 4]>(), any::<u16>())
                .prop_map(|(ip, port)| Command::Port(SocketAddr::from((ip, port)))),
            (any::<[u8; 4]>(), 1u16..)
                .prop_map(|(ip, port)| Command::Eprt(SocketAddr::from((ip, port)))),
            (any::<[u16; 8]>(), 1u16..)
                .prop_map(|(ip, port)| Command::Eprt(SocketAddr::from((ip, port)))),
            Just(Command::Pasv),
            Just(Command::Epsv { all: false }),
            Just(Command::Type(TransferType::Image)),
            Just(Command::Type(TransferType::Ascii)),
            Just(Command::Feat),
            Just(Command::Pwd),
            Just(Command::Quit),
            Just(Command::Pbsz(0)),
            Just(Command::Prot('P')),
            Just(Command::Auth("TLS".into())),
        ]
    }

    proptest! {
        #[test]
        fn the_servers_parser_reads_back_every_line(command in command()) {
            let line = encode(&command).unwrap();
            prop_assert_eq!(parse_command(&line), Ok(command));
        }
    }
}
