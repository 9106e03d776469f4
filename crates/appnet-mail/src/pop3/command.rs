//! POP3 command lines (RFC 1939 §3, §4–§7; CAPA RFC 2449 §5; STLS RFC 2595 §4; AUTH RFC 5034
//! §4): a keyword of three or four letters, compared without case, and its arguments separated
//! by spaces, the line ended by CRLF.

/// RFC 2449 §4: a command line is at most 255 octets, CRLF included.
pub const MAX_COMMAND_LINE: usize = 255;

/// One command, its arguments checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// RFC 1939 §7: `USER name`.
    User(String),
    /// RFC 1939 §7: `PASS string`. The password is the rest of the line, spaces included, as
    /// §7 allows ("a POP3 server may treat spaces in the argument as part of the password").
    Pass(String),
    /// RFC 5034 §4: `AUTH mechanism [initial-response]`; a bare `AUTH` asks for the list of
    /// mechanisms (the older RFC 1734 convention clients still use).
    Auth {
        mechanism: Option<String>,
        initial_response: Option<String>,
    },
    /// RFC 2449 §5.
    Capa,
    /// RFC 2595 §4.
    Stls,
    Quit,
    /// RFC 1939 §5.
    Stat,
    List(Option<u32>),
    Retr(u32),
    Dele(u32),
    Noop,
    Rset,
    /// RFC 1939 §7: `TOP msg n`, the header and the first `n` body lines.
    Top(u32, u32),
    /// RFC 1939 §7.
    Uidl(Option<u32>),
}

impl Command {
    /// The keyword, upper-case, for logs and error messages.
    pub fn keyword(&self) -> &'static str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Auth { .. } => "AUTH",
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
            Command::Quit => "QUIT",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Retr(_) => "RETR",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Top(..) => "TOP",
            Command::Uidl(_) => "UIDL",
        }
    }
}

/// Why a line is not a command; each becomes an `-ERR` reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("unknown command")]
    Unknown,
    #[error("{0}: syntax error in the arguments")]
    Syntax(&'static str),
    #[error("{0}: invalid message number")]
    BadNumber(&'static str),
    #[error("the line contains a NUL octet")]
    Nul,
    #[error("the line is not UTF-8 text")]
    NotText,
    #[error("the line is longer than 255 octets")]
    TooLong,
}

/// Parses one command line, without its CRLF (or LF).
pub fn parse_command(line: &[u8]) -> Result<Command, CommandError> {
    if line.len() + 2 > MAX_COMMAND_LINE {
        return Err(CommandError::TooLong);
    }
    if line.contains(&0) {
        return Err(CommandError::Nul);
    }
    let line = std::str::from_utf8(line).map_err(|_| CommandError::NotText)?;
    let (keyword, rest) = match line.split_once(' ') {
        Some((keyword, rest)) => (keyword, Some(rest)),
        None => (line, None),
    };
    if !(3..=4).contains(&keyword.len()) {
        return Err(CommandError::Unknown);
    }
    let mut words = rest.unwrap_or("").split_ascii_whitespace();
    let command = match keyword.to_ascii_uppercase().as_str() {
        "USER" => {
            let name = rest.map(str::trim).unwrap_or_default();
            if name.is_empty() || name.contains(|c: char| c.is_control()) {
                return Err(CommandError::Syntax("USER"));
            }
            return Ok(Command::User(name.to_string()));
        }
        "PASS" => {
            let password = rest.unwrap_or_default();
            if password.is_empty() || password.contains(|c: char| c.is_control()) {
                return Err(CommandError::Syntax("PASS"));
            }
            return Ok(Command::Pass(password.to_string()));
        }
        "AUTH" => {
            let mechanism = words.next().map(str::to_ascii_uppercase);
            let initial_response = words.next().map(str::to_string);
            if words.next().is_some() {
                return Err(CommandError::Syntax("AUTH"));
            }
            return Ok(Command::Auth {
                mechanism,
                initial_response,
            });
        }
        "CAPA" => Command::Capa,
        "STLS" => Command::Stls,
        "QUIT" => Command::Quit,
        "STAT" => Command::Stat,
        "NOOP" => Command::Noop,
        "RSET" => Command::Rset,
        "LIST" => Command::List(optional_number(words.next(), "LIST")?),
        "UIDL" => Command::Uidl(optional_number(words.next(), "UIDL")?),
        "RETR" => Command::Retr(number(words.next(), "RETR")?),
        "DELE" => Command::Dele(number(words.next(), "DELE")?),
        "TOP" => {
            let message = number(words.next(), "TOP")?;
            let lines = words.next().ok_or(CommandError::Syntax("TOP"))?;
            Command::Top(message, count(lines).ok_or(CommandError::Syntax("TOP"))?)
        }
        _ => return Err(CommandError::Unknown),
    };
    if words.next().is_some() {
        return Err(CommandError::Syntax(command.keyword()));
    }
    Ok(command)
}

/// RFC 1939 §3: a message number is a decimal number of at most 10 digits (it fits in u32
/// for any real maildrop; bigger ones name no message).
fn number(word: Option<&str>, keyword: &'static str) -> Result<u32, CommandError> {
    let word = word.ok_or(CommandError::Syntax(keyword))?;
    if word.is_empty() || word.len() > 10 || !word.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CommandError::BadNumber(keyword));
    }
    Ok(word.parse().unwrap_or(u32::MAX))
}

fn optional_number(word: Option<&str>, keyword: &'static str) -> Result<Option<u32>, CommandError> {
    word.map(|word| number(Some(word), keyword)).transpose()
}

/// TOP's line count: a non-negative decimal number; huge ones mean "all lines".
fn count(word: &str) -> Option<u32> {
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(word.parse().unwrap_or(u32::MAX))
}

/// The line as a transcript shows it: the password of `PASS` and SASL responses hidden.
pub fn redact(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let upper = text.to_ascii_uppercase();
    if upper.starts_with("PASS ") {
        "PASS ********".to_string()
    } else if upper.starts_with("AUTH ") && text.split_ascii_whitespace().count() > 2 {
        let mechanism = text.split_ascii_whitespace().nth(1).unwrap_or_default();
        format!("AUTH {mechanism} ********")
    } else {
        text.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_rfc_1939_commands_without_case() {
        assert_eq!(
            parse_command(b"user mrose"),
            Ok(Command::User("mrose".into()))
        );
        assert_eq!(
            parse_command(b"PASS secret with spaces"),
            Ok(Command::Pass("secret with spaces".into()))
        );
        assert_eq!(parse_command(b"stat"), Ok(Command::Stat));
        assert_eq!(parse_command(b"LIST"), Ok(Command::List(None)));
        assert_eq!(parse_command(b"LIST 2"), Ok(Command::List(Some(2))));
        assert_eq!(parse_command(b"Retr 1"), Ok(Command::Retr(1)));
        assert_eq!(parse_command(b"DELE 10"), Ok(Command::Dele(10)));
        assert_eq!(parse_command(b"TOP 1 10"), Ok(Command::Top(1, 10)));
        assert_eq!(parse_command(b"UIDL 3"), Ok(Command::Uidl(Some(3))));
        assert_eq!(parse_command(b"CAPA"), Ok(Command::Capa));
        assert_eq!(parse_command(b"STLS"), Ok(Command::Stls));
        assert_eq!(
            parse_command(b"AUTH PLAIN AGEAYg=="),
            Ok(Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial_response: Some("AGEAYg==".into())
            })
        );
    }

    #[test]
    fn refuses_what_is_not_a_command() {
        assert_eq!(parse_command(b"HELO x"), Err(CommandError::Unknown));
        assert_eq!(parse_command(b""), Err(CommandError::Unknown));
        assert_eq!(parse_command(b"RETR"), Err(CommandError::Syntax("RETR")));
        assert_eq!(
            parse_command(b"RETR -1"),
            Err(CommandError::BadNumber("RETR"))
        );
        assert_eq!(
            parse_command(b"RETR 1 2"),
            Err(CommandError::Syntax("RETR"))
        );
        assert_eq!(parse_command(b"TOP 1"), Err(CommandError::Syntax("TOP")));
        assert_eq!(parse_command(b"STAT\0"), Err(CommandError::Nul));
        assert_eq!(parse_command(b"USER \xff"), Err(CommandError::NotText));
        assert_eq!(parse_command(&[b'A'; 254]), Err(CommandError::TooLong));
        assert_eq!(
            parse_command(b"RETR 99999999999"),
            Err(CommandError::BadNumber("RETR"))
        );
        assert_eq!(
            parse_command(b"RETR 9999999999"),
            Ok(Command::Retr(u32::MAX))
        );
    }

    #[test]
    fn transcripts_hide_passwords() {
        assert_eq!(redact(b"PASS tanstaaf"), "PASS ********");
        assert_eq!(redact(b"AUTH PLAIN AGEAYg=="), "AUTH PLAIN ********");
        assert_eq!(redact(b"USER mrose"), "USER mrose");
    }
}
