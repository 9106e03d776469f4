//! FTP commands (RFC 959 §4.1, §5.3) with the extensions clients send today: FEAT and OPTS
//! (RFC 2389), EPRT and EPSV (RFC 2428), SIZE, MDTM, MLST and MLSD (RFC 3659), AUTH, PBSZ and
//! PROT (RFC 4217).
//!
//! A command line is `verb [SP argument] CRLF`; verbs are case-insensitive. Pathnames are
//! kept as bytes the caller decodes (RFC 2640 allows UTF-8, older clients send anything), and
//! a line must not hold NUL or a bare CR or LF (RFC 959 §3.1.1.5.1: they would let a client
//! smuggle a second command into a file name). Host-port arguments are parsed strictly:
//! `PORT h1,h2,h3,h4,p1,p2` with each number a byte, `EPRT |1|addr|port|` with the protocol
//! matching the address.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use thiserror::Error;

/// RFC 959 does not bound a line; servers do. 2048 bytes leaves room for long UTF-8 paths.
pub const MAX_LINE: usize = 2048;

/// One command from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    User(String),
    Pass(String),
    Acct(String),
    Cwd(Vec<u8>),
    Cdup,
    Quit,
    Rein,
    Port(SocketAddr),
    Eprt(SocketAddr),
    Pasv,
    /// EPSV, or `EPSV ALL` (RFC 2428 §4: from then on only EPSV is allowed).
    Epsv {
        all: bool,
    },
    Type(TransferType),
    Stru(char),
    Mode(char),
    Retr(Vec<u8>),
    Stor(Vec<u8>),
    Stou,
    Appe(Vec<u8>),
    Rest(u64),
    Rnfr(Vec<u8>),
    Rnto(Vec<u8>),
    Abor,
    Dele(Vec<u8>),
    Rmd(Vec<u8>),
    Mkd(Vec<u8>),
    Pwd,
    List(Option<Vec<u8>>),
    Nlst(Option<Vec<u8>>),
    Mlsd(Option<Vec<u8>>),
    Mlst(Option<Vec<u8>>),
    Size(Vec<u8>),
    Mdtm(Vec<u8>),
    Site(String),
    Syst,
    Stat(Option<Vec<u8>>),
    Help(Option<String>),
    Noop,
    Feat,
    Opts(String),
    Auth(String),
    Pbsz(u64),
    Prot(char),
    Ccc,
}

/// TYPE's argument (RFC 959 §3.1.1): ASCII (with the optional non-print format), image, or
/// local with a byte size of 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferType {
    Ascii,
    Image,
}

/// Why a line is not a command we can run, with the reply RFC 959 §4.2 gives for each.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    /// 500: no such command.
    #[error("unknown command")]
    Unknown,
    /// 500: the line is not a command line at all.
    #[error("{0}")]
    Malformed(&'static str),
    /// 501: the command is known, its argument is wrong.
    #[error("{0}")]
    BadArgument(&'static str),
    /// 504: the command is known and well formed, the parameter is one we do not implement.
    #[error("{0}")]
    Unsupported(&'static str),
}

impl CommandError {
    /// The reply code RFC 959 gives for this error.
    pub fn code(&self) -> u16 {
        match self {
            CommandError::Unknown | CommandError::Malformed(_) => 500,
            CommandError::BadArgument(_) => 501,
            CommandError::Unsupported(_) => 504,
        }
    }
}

/// Parses one command line, without its CRLF (a trailing CR or LF is tolerated).
pub fn parse_command(line: &[u8]) -> Result<Command, CommandError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > MAX_LINE {
        return Err(CommandError::Malformed("line too long"));
    }
    if line.iter().any(|&b| b == 0 || b == b'\r' || b == b'\n') {
        return Err(CommandError::Malformed("NUL, CR or LF inside the line"));
    }
    let (verb, argument) = match line.iter().position(|&b| b == b' ') {
        Some(at) => (&line[..at], Some(&line[at + 1..])),
        None => (line, None),
    };
    if verb.is_empty() || verb.len() > 4 || !verb.iter().all(u8::is_ascii_alphabetic) {
        return Err(CommandError::Unknown);
    }
    let verb = String::from_utf8_lossy(verb).to_ascii_uppercase();
    let argument = argument.filter(|a| !a.is_empty());
    command(&verb, argument)
}

fn command(verb: &str, arg: Option<&[u8]>) -> Result<Command, CommandError> {
    let path = || required(arg).map(<[u8]>::to_vec);
    let optional_path = || arg.map(<[u8]>::to_vec);
    let text = || required(arg).and_then(utf8);
    Ok(match verb {
        "USER" => Command::User(text()?),
        "PASS" => Command::Pass(arg.map(utf8).transpose()?.unwrap_or_default()),
        "ACCT" => Command::Acct(text()?),
        "CWD" | "XCWD" => Command::Cwd(path()?),
        "CDUP" | "XCUP" => none(arg, Command::Cdup)?,
        "QUIT" => none(arg, Command::Quit)?,
        "REIN" => none(arg, Command::Rein)?,
        "PORT" => Command::Port(parse_port(&text()?)?),
        "EPRT" => Command::Eprt(parse_eprt(&text()?)?),
        "PASV" => none(arg, Command::Pasv)?,
        "EPSV" => parse_epsv(arg)?,
        "TYPE" => Command::Type(parse_type(&text()?)?),
        "STRU" => Command::Stru(single(&text()?, "F", "only STRU F (file) is supported")?),
        "MODE" => Command::Mode(single(&text()?, "S", "only MODE S (stream) is supported")?),
        "RETR" => Command::Retr(path()?),
        "STOR" => Command::Stor(path()?),
        "STOU" => Command::Stou,
        "APPE" => Command::Appe(path()?),
        "REST" => Command::Rest(number(&text()?)?),
        "RNFR" => Command::Rnfr(path()?),
        "RNTO" => Command::Rnto(path()?),
        "ABOR" => none(arg, Command::Abor)?,
        "DELE" => Command::Dele(path()?),
        "RMD" | "XRMD" => Command::Rmd(path()?),
        "MKD" | "XMKD" => Command::Mkd(path()?),
        "PWD" | "XPWD" => none(arg, Command::Pwd)?,
        "LIST" => Command::List(optional_path()),
        "NLST" => Command::Nlst(optional_path()),
        "MLSD" => Command::Mlsd(optional_path()),
        "MLST" => Command::Mlst(optional_path()),
        "SIZE" => Command::Size(path()?),
        "MDTM" => Command::Mdtm(path()?),
        "SITE" => Command::Site(text()?),
        "SYST" => none(arg, Command::Syst)?,
        "STAT" => Command::Stat(optional_path()),
        "HELP" => Command::Help(arg.map(utf8).transpose()?),
        "NOOP" => Command::Noop,
        "FEAT" => none(arg, Command::Feat)?,
        "OPTS" => Command::Opts(text()?),
        "AUTH" => Command::Auth(text()?.to_ascii_uppercase()),
        "PBSZ" => Command::Pbsz(number(&text()?)?),
        "PROT" => Command::Prot(parse_prot(&text()?)?),
        "CCC" => none(arg, Command::Ccc)?,
        _ => return Err(CommandError::Unknown),
    })
}

fn required(arg: Option<&[u8]>) -> Result<&[u8], CommandError> {
    arg.ok_or(CommandError::BadArgument("this command needs an argument"))
}

fn none(arg: Option<&[u8]>, command: Command) -> Result<Command, CommandError> {
    match arg {
        None => Ok(command),
        Some(_) => Err(CommandError::BadArgument("this command takes no argument")),
    }
}

fn utf8(bytes: &[u8]) -> Result<String, CommandError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| CommandError::BadArgument("not UTF-8"))
}

fn number(text: &str) -> Result<u64, CommandError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CommandError::BadArgument("expected a decimal number"));
    }
    text.parse()
        .map_err(|_| CommandError::BadArgument("the number is too large"))
}

/// RFC 959 §4.1.2: `TYPE A [N]`, `TYPE I`, `TYPE L 8`. EBCDIC and the Telnet and carriage
/// control formats are refused with 504, as the RFC allows.
fn parse_type(text: &str) -> Result<TransferType, CommandError> {
    let words: Vec<String> = text.split(' ').map(str::to_ascii_uppercase).collect();
    match words
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["A"] | ["A", "N"] => Ok(TransferType::Ascii),
        ["I"] | ["L", "8"] => Ok(TransferType::Image),
        ["E", ..] | ["A", "T" | "C"] | ["L", _] => Err(CommandError::Unsupported(
            "only TYPE A, A N, I and L 8 are supported",
        )),
        _ => Err(CommandError::BadArgument("expected TYPE A or TYPE I")),
    }
}

/// STRU and MODE take one letter; only the one given is implemented.
fn single(text: &str, supported: &str, refusal: &'static str) -> Result<char, CommandError> {
    let upper = text.to_ascii_uppercase();
    match upper.as_str() {
        letter if letter == supported => Ok(supported.chars().next().unwrap_or('?')),
        "F" | "R" | "P" | "S" | "B" | "C" => Err(CommandError::Unsupported(refusal)),
        _ => Err(CommandError::BadArgument("unknown parameter")),
    }
}

/// RFC 4217 §9: C (clear) or P (private); S and E are refused.
fn parse_prot(text: &str) -> Result<char, CommandError> {
    match text.to_ascii_uppercase().as_str() {
        "C" => Ok('C'),
        "P" => Ok('P'),
        "S" | "E" => Err(CommandError::Unsupported(
            "only PROT C and PROT P are supported",
        )),
        _ => Err(CommandError::BadArgument("expected PROT C or PROT P")),
    }
}

/// RFC 959 §4.1.2: `h1,h2,h3,h4,p1,p2`, every field a decimal byte.
fn parse_port(text: &str) -> Result<SocketAddr, CommandError> {
    let fields: Vec<&str> = text.split(',').collect();
    let [h1, h2, h3, h4, p1, p2] = fields.as_slice() else {
        return Err(CommandError::BadArgument("expected h1,h2,h3,h4,p1,p2"));
    };
    let byte = |field: &str| -> Result<u8, CommandError> {
        if field.is_empty() || field.len() > 3 || !field.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CommandError::BadArgument(
                "each PORT field is a number 0-255",
            ));
        }
        field
            .parse()
            .map_err(|_| CommandError::BadArgument("each PORT field is a number 0-255"))
    };
    let ip = Ipv4Addr::new(byte(h1)?, byte(h2)?, byte(h3)?, byte(h4)?);
    let port = u16::from(byte(p1)?) << 8 | u16::from(byte(p2)?);
    Ok(SocketAddr::new(IpAddr::V4(ip), port))
}

/// RFC 2428 §2: `<d>proto<d>address<d>port<d>`, the delimiter any printable ASCII character
/// (usually `|`), proto 1 for IPv4 and 2 for IPv6.
fn parse_eprt(text: &str) -> Result<SocketAddr, CommandError> {
    let delimiter = text
        .chars()
        .next()
        .filter(|c| c.is_ascii_graphic())
        .ok_or(CommandError::BadArgument("expected |proto|address|port|"))?;
    let fields: Vec<&str> = text.split(delimiter).collect();
    let ["", proto, address, port, ""] = fields.as_slice() else {
        return Err(CommandError::BadArgument("expected |proto|address|port|"));
    };
    let ip: IpAddr = address
        .parse()
        .map_err(|_| CommandError::BadArgument("not an IP address"))?;
    match (*proto, ip) {
        ("1", IpAddr::V4(_)) | ("2", IpAddr::V6(_)) => {}
        ("1" | "2", _) => {
            return Err(CommandError::BadArgument(
                "the protocol does not match the address",
            ));
        }
        _ => {
            return Err(CommandError::Unsupported(
                "network protocol not supported, use (1,2)",
            ));
        }
    }
    let port = number(port)?;
    let port = u16::try_from(port)
        .ok()
        .filter(|p| *p != 0)
        .ok_or(CommandError::BadArgument("the port must be 1-65535"))?;
    Ok(SocketAddr::new(ip, port))
}

/// RFC 2428 §3: `EPSV`, `EPSV ALL`, or `EPSV 1|2` naming the protocol.
fn parse_epsv(arg: Option<&[u8]>) -> Result<Command, CommandError> {
    match arg
        .map(|a| String::from_utf8_lossy(a).to_ascii_uppercase())
        .as_deref()
    {
        None | Some("1") | Some("2") => Ok(Command::Epsv { all: false }),
        Some("ALL") => Ok(Command::Epsv { all: true }),
        Some(_) => Err(CommandError::Unsupported(
            "network protocol not supported, use (1,2)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(line: &str) -> Result<Command, CommandError> {
        parse_command(line.as_bytes())
    }

    #[test]
    fn verbs_are_case_insensitive_and_paths_stay_bytes() {
        assert_eq!(
            parse("user anonymous\r\n"),
            Ok(Command::User("anonymous".into()))
        );
        assert_eq!(
            parse("RETR 보고서.txt"),
            Ok(Command::Retr("보고서.txt".as_bytes().to_vec()))
        );
        assert_eq!(
            parse_command(b"STOR a\xffb"),
            Ok(Command::Stor(b"a\xffb".to_vec()))
        );
        assert_eq!(parse("LIST"), Ok(Command::List(None)));
        assert_eq!(parse("LIST -la"), Ok(Command::List(Some(b"-la".to_vec()))));
        assert_eq!(parse("XPWD"), Ok(Command::Pwd));
        assert_eq!(parse("PASS"), Ok(Command::Pass(String::new())));
        assert_eq!(
            parse("CWD with space"),
            Ok(Command::Cwd(b"with space".to_vec()))
        );
    }

    #[test]
    fn port_and_eprt_are_strict() {
        assert_eq!(
            parse("PORT 127,0,0,1,4,1"),
            Ok(Command::Port("127.0.0.1:1025".parse().unwrap()))
        );
        assert_eq!(parse("PORT 127,0,0,1,4").unwrap_err().code(), 501);
        assert_eq!(parse("PORT 256,0,0,1,4,1").unwrap_err().code(), 501);
        assert_eq!(parse("PORT 1,2,3,4,5,+6").unwrap_err().code(), 501);
        assert_eq!(
            parse("EPRT |1|132.235.1.2|6275|"),
            Ok(Command::Eprt("132.235.1.2:6275".parse().unwrap()))
        );
        assert_eq!(
            parse("EPRT |2|1080::8:800:200C:417A|5282|"),
            Ok(Command::Eprt(
                "[1080::8:800:200c:417a]:5282".parse().unwrap()
            ))
        );
        assert_eq!(parse("EPRT |1|::1|5282|").unwrap_err().code(), 501);
        assert_eq!(parse("EPRT |3|1.2.3.4|5282|").unwrap_err().code(), 504);
        assert_eq!(parse("EPRT |1|1.2.3.4|0|").unwrap_err().code(), 501);
        assert_eq!(parse("EPSV ALL"), Ok(Command::Epsv { all: true }));
        assert_eq!(parse("EPSV 2"), Ok(Command::Epsv { all: false }));
    }

    #[test]
    fn parameters_we_do_not_implement_get_504() {
        assert_eq!(parse("TYPE I"), Ok(Command::Type(TransferType::Image)));
        assert_eq!(parse("type a n"), Ok(Command::Type(TransferType::Ascii)));
        assert_eq!(parse("TYPE L 8"), Ok(Command::Type(TransferType::Image)));
        assert_eq!(parse("TYPE E").unwrap_err().code(), 504);
        assert_eq!(parse("TYPE X").unwrap_err().code(), 501);
        assert_eq!(parse("MODE S"), Ok(Command::Mode('S')));
        assert_eq!(parse("MODE B").unwrap_err().code(), 504);
        assert_eq!(parse("STRU R").unwrap_err().code(), 504);
        assert_eq!(parse("PROT P"), Ok(Command::Prot('P')));
        assert_eq!(parse("PROT S").unwrap_err().code(), 504);
        assert_eq!(parse("REST 1048576"), Ok(Command::Rest(1_048_576)));
        assert_eq!(parse("REST -1").unwrap_err().code(), 501);
    }

    #[test]
    fn bad_lines_get_500_and_known_verbs_with_bad_arguments_501() {
        assert_eq!(parse("FROB x").unwrap_err().code(), 500);
        assert_eq!(parse("").unwrap_err().code(), 500);
        assert_eq!(parse_command(b"RETR a\0b").unwrap_err().code(), 500);
        assert_eq!(parse_command(b"RETR a\rDELE b").unwrap_err().code(), 500);
        assert_eq!(
            parse(&format!("RETR {}", "a".repeat(MAX_LINE)))
                .unwrap_err()
                .code(),
            500
        );
        assert_eq!(parse("RETR").unwrap_err().code(), 501);
        assert_eq!(parse("QUIT now").unwrap_err().code(), 501);
        assert_eq!(parse_command(b"USER \xff").unwrap_err().code(), 501);
    }

    proptest! {
        #[test]
        fn any_line_parses_or_gets_an_error_reply(line in prop::collection::vec(any::<u8>(), 0..300)) {
            match parse_command(&line) {
                Ok(_) => {}
                Err(err) => prop_assert!(matches!(err.code(), 500 | 501 | 504)),
            }
        }

        #[test]
        fn every_port_address_round_trips(ip in any::<[u8; 4]>(), port in any::<u16>()) {
            let line = format!(
                "PORT {},{},{},{},{},{}",
                ip[0], ip[1], ip[2], ip[3], port >> 8, port & 0xff
            );
            let want = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port);
            prop_assert_eq!(parse_command(line.as_bytes()), Ok(Command::Port(want)));
        }
    }
}
