//! The zone-file lexer: text in, one [`Entry`] per record or directive out.
//!
//! RFC 1035 §5.1: fields are separated by blanks; `;` starts a comment running to the end of the
//! line; parentheses group an entry over several lines (a newline inside them is just a blank);
//! a line starting with a blank has no owner field and reuses the previous owner; `"..."` is a
//! quoted string; `\X` and `\DDD` escape a character. Tokens follow the contract of
//! [`Token`]: quoted fields arrive unescaped, bare fields keep their escapes so that names can
//! tell `\.` from a label separator.

use crate::wire::Token;
use crate::wire::present::unescape;

use super::error::ZoneErrorKind;
use super::{MAX_ENTRY_LEN, MAX_LINE_LEN, MAX_TOKENS};

/// One logical entry: a record or a directive, maybe spanning lines in parentheses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line of the entry's first field.
    pub line: usize,
    /// The entry's first line started with a blank: the owner field is omitted.
    pub blank_owner: bool,
    pub tokens: Vec<Token>,
}

/// A lexing error and the line it was found on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub line: usize,
    pub kind: ZoneErrorKind,
}

/// Iterates over the entries of one file. After an error it stops.
#[derive(Debug)]
pub struct Lexer<'a> {
    text: &'a [u8],
    pos: usize,
    /// Line of `pos`, 1-based.
    line: usize,
    /// Where the current physical line starts, for the line-length limit.
    line_start: usize,
    failed: bool,
}

/// An entry being gathered.
struct Pending {
    tokens: Vec<Token>,
    bytes: usize,
    first_line: Option<usize>,
    /// Line of the open '(' while inside parentheses.
    paren: Option<usize>,
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str) -> Self {
        Self {
            text: text.as_bytes(),
            pos: 0,
            line: 1,
            line_start: 0,
            failed: false,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn error(&self, kind: ZoneErrorKind) -> LexError {
        LexError {
            line: self.line,
            kind,
        }
    }

    /// Reads one entry; `Ok(None)` at the end of the text. Entries without fields (blank or
    /// comment-only lines) are skipped.
    fn read_entry(&mut self) -> Result<Option<Entry>, LexError> {
        while self.pos < self.text.len() {
            let blank_owner = matches!(self.peek(), Some(b' ' | b'\t'));
            let pending = self.read_fields()?;
            if let Some(line) = pending.first_line {
                return Ok(Some(Entry {
                    line,
                    blank_owner,
                    tokens: pending.tokens,
                }));
            }
        }
        Ok(None)
    }

    /// Gathers fields up to the newline that ends the entry (one outside parentheses).
    fn read_fields(&mut self) -> Result<Pending, LexError> {
        let mut pending = Pending {
            tokens: Vec::new(),
            bytes: 0,
            first_line: None,
            paren: None,
        };
        loop {
            self.skip_blanks();
            match self.peek() {
                None => {
                    return match pending.paren {
                        Some(opened) => Err(self.error(ZoneErrorKind::UnclosedParen { opened })),
                        None => Ok(pending),
                    };
                }
                Some(b'\n') => {
                    self.newline()?;
                    if pending.paren.is_none() {
                        return Ok(pending);
                    }
                }
                Some(b';') => self.skip_comment(),
                Some(b'(') => {
                    if pending.paren.is_some() {
                        return Err(self.error(ZoneErrorKind::NestedParen));
                    }
                    pending.paren = Some(self.line);
                    pending.first_line.get_or_insert(self.line);
                    self.pos += 1;
                }
                Some(b')') => {
                    if pending.paren.take().is_none() {
                        return Err(self.error(ZoneErrorKind::UnmatchedParen));
                    }
                    self.pos += 1;
                }
                Some(b'"') => {
                    let token = self.quoted()?;
                    self.push(&mut pending, token)?;
                }
                Some(_) => {
                    let token = self.bare()?;
                    self.push(&mut pending, token)?;
                }
            }
        }
    }

    fn push(&self, pending: &mut Pending, token: Token) -> Result<(), LexError> {
        pending.bytes += token.text.len() + 1;
        if pending.bytes > MAX_ENTRY_LEN || pending.tokens.len() >= MAX_TOKENS {
            return Err(self.error(ZoneErrorKind::EntryTooLong {
                max: MAX_ENTRY_LEN,
                max_tokens: MAX_TOKENS,
            }));
        }
        pending.first_line.get_or_insert(self.line);
        pending.tokens.push(token);
        Ok(())
    }

    /// `\r` counts as a blank so that files with CRLF line ends read the same.
    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r')) {
            self.pos += 1;
        }
    }

    fn skip_comment(&mut self) {
        while !matches!(self.peek(), None | Some(b'\n')) {
            self.pos += 1;
        }
    }

    /// Consumes a newline, checking the length of the line it ends.
    fn newline(&mut self) -> Result<(), LexError> {
        if self.pos - self.line_start > MAX_LINE_LEN {
            return Err(self.error(ZoneErrorKind::LineTooLong { max: MAX_LINE_LEN }));
        }
        self.pos += 1;
        self.line += 1;
        self.line_start = self.pos;
        Ok(())
    }

    /// A bare field runs to the next unescaped blank, newline, quote, parenthesis or `;`.
    /// Escapes are kept as written (see the [`Token`] contract).
    fn bare(&mut self) -> Result<Token, LexError> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' | b'"' | b'(' | b')' | b';' => break,
                b'\\' => {
                    // The escaped byte is part of the field whatever it is, except a line end.
                    match self.text.get(self.pos + 1) {
                        None | Some(b'\n' | b'\r') => {
                            return Err(self.error(ZoneErrorKind::TrailingBackslash));
                        }
                        Some(_) => self.pos += 2,
                    }
                }
                _ => self.pos += 1,
            }
            self.check_line_len()?;
        }
        let text = self.text.get(start..self.pos).unwrap_or_default();
        Ok(Token::bare(text))
    }

    /// A quoted field: the quotes are dropped and the escapes resolved. It must close on the
    /// line it opened on, so that a missing quote is reported where it is.
    fn quoted(&mut self) -> Result<Token, LexError> {
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.peek() {
                None | Some(b'\n') => return Err(self.error(ZoneErrorKind::UnterminatedQuote)),
                Some(b'"') => break,
                Some(b'\\') => match self.text.get(self.pos + 1) {
                    None | Some(b'\n') => return Err(self.error(ZoneErrorKind::UnterminatedQuote)),
                    Some(_) => self.pos += 2,
                },
                Some(_) => self.pos += 1,
            }
            self.check_line_len()?;
        }
        let raw = self.text.get(start..self.pos).unwrap_or_default();
        self.pos += 1;
        let text = unescape(raw).map_err(|_| {
            self.error(ZoneErrorKind::BadEscape(
                String::from_utf8_lossy(raw).into_owned(),
            ))
        })?;
        Ok(Token::quoted(text))
    }

    fn check_line_len(&self) -> Result<(), LexError> {
        if self.pos - self.line_start > MAX_LINE_LEN {
            return Err(self.error(ZoneErrorKind::LineTooLong { max: MAX_LINE_LEN }));
        }
        Ok(())
    }
}

impl Iterator for Lexer<'_> {
    type Item = Result<Entry, LexError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let result = self.read_entry().transpose();
        if matches!(result, Some(Err(_))) {
            self.failed = true;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(text: &str) -> Vec<Entry> {
        Lexer::new(text).collect::<Result<_, _>>().unwrap()
    }

    fn texts(entry: &Entry) -> Vec<String> {
        entry
            .tokens
            .iter()
            .map(|t| String::from_utf8_lossy(&t.text).into_owned())
            .collect()
    }

    fn lex_error(text: &str) -> LexError {
        Lexer::new(text).find_map(Result::err).expect("an error")
    }

    #[test]
    fn entries_lines_and_blank_owners() {
        let entries = lex(
            "; header\n\nwww  IN A 192.0.2.1 ; web\n\tAAAA ::1\r\n   ; only a comment\nmail A 192.0.2.2",
        );
        assert_eq!(entries.len(), 3);
        assert_eq!((entries[0].line, entries[0].blank_owner), (3, false));
        assert_eq!(texts(&entries[0]), ["www", "IN", "A", "192.0.2.1"]);
        assert_eq!((entries[1].line, entries[1].blank_owner), (4, true));
        assert_eq!(texts(&entries[1]), ["AAAA", "::1"]);
        assert_eq!((entries[2].line, entries[2].blank_owner), (6, false));
    }

    #[test]
    fn parentheses_span_lines() {
        let text = "@ IN SOA ns1 host (\n  1 ; serial\n  2h 1h\n  1w 1d )\nnext A 1.2.3.4\n";
        let entries = lex(text);
        assert_eq!(entries.len(), 2);
        assert_eq!(
            texts(&entries[0]),
            ["@", "IN", "SOA", "ns1", "host", "1", "2h", "1h", "1w", "1d"]
        );
        assert_eq!(entries[1].line, 5);
    }

    #[test]
    fn quotes_and_escapes() {
        let entries = lex(r#"txt TXT "a;b" "say \"hi\"" "\065" a\;b\ c a\.b \059"#);
        let tokens = &entries[0].tokens;
        assert_eq!(tokens[2], Token::quoted("a;b"));
        assert_eq!(tokens[3], Token::quoted("say \"hi\""));
        assert_eq!(tokens[4], Token::quoted("A"));
        assert_eq!(tokens[5], Token::bare(r"a\;b\ c"));
        assert_eq!(tokens[6], Token::bare(r"a\.b"));
        assert_eq!(tokens[7], Token::bare(r"\059"));
        // Quoted strings next to each other and to bare text are separate fields.
        let entries = lex(r#"x TXT "a""b"c"#);
        assert_eq!(texts(&entries[0]), ["x", "TXT", "a", "b", "c"]);
        let entries = lex("x TXT \"\" \"(;)\"");
        assert_eq!(entries[0].tokens[2], Token::quoted(""));
        assert_eq!(entries[0].tokens[3], Token::quoted("(;)"));
    }

    #[test]
    fn errors_carry_lines() {
        let error = lex_error("a A 1.2.3.4\nb TXT \"open\nc A 1.2.3.4\n");
        assert_eq!(
            (error.line, error.kind),
            (2, ZoneErrorKind::UnterminatedQuote)
        );
        let error = lex_error("a A 1.2.3.4\n\nb SOA ( 1 2\n 3 4\n");
        assert_eq!(
            (error.line, error.kind),
            (5, ZoneErrorKind::UnclosedParen { opened: 3 })
        );
        assert_eq!(lex_error("a ( ( b )").kind, ZoneErrorKind::NestedParen);
        assert_eq!(lex_error("a ) b").kind, ZoneErrorKind::UnmatchedParen);
        assert_eq!(lex_error("a b\\").kind, ZoneErrorKind::TrailingBackslash);
        assert_eq!(
            lex_error("a \"\\300\"").kind,
            ZoneErrorKind::BadEscape("\\300".into())
        );
        let long = format!("a TXT {}", "x".repeat(MAX_LINE_LEN + 1));
        assert!(matches!(
            lex_error(&long).kind,
            ZoneErrorKind::LineTooLong { .. }
        ));
    }

    #[test]
    fn stops_after_an_error() {
        let mut lexer = Lexer::new("a )\nb A 1.2.3.4\n");
        assert!(matches!(lexer.next(), Some(Err(_))));
        assert_eq!(lexer.next(), None);
    }
}
