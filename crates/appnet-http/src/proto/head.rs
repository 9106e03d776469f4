//! Finding where a message head (or a trailer section) ends in a buffer that grows a few bytes at
//! a time, with every limit enforced before the end is seen.
//!
//! RFC 9112 §2.1 (`start-line CRLF *( field-line CRLF ) CRLF`), §2.2 (CRLF line endings, bare CR
//! refused, bare LF optional, empty lines before a request skipped) and §7.1.2 (the trailer
//! section has the same shape without a start line). The lines found are parsed elsewhere.

use super::config::ParseConfig;
use super::error::HttpError;

/// Which kind of section is being scanned: it decides the limits and errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    RequestHead,
    ResponseHead,
    Trailers,
}

/// How far the scan of one section has got. Scanning resumes where it stopped, so feeding a head
/// one byte at a time costs linear, not quadratic, time.
#[derive(Debug, Clone)]
pub(crate) struct HeadScanner {
    section: Section,
    /// Next byte to examine.
    pos: usize,
    /// Start of the line being scanned.
    line_start: usize,
    /// Start of the field lines; `None` while the start line is being scanned.
    fields_start: Option<usize>,
    /// Field lines seen so far.
    fields: usize,
}

impl HeadScanner {
    pub(crate) fn new(section: Section) -> Self {
        Self {
            section,
            pos: 0,
            line_start: 0,
            fields_start: (section == Section::Trailers).then_some(0),
            fields: 0,
        }
    }

    /// True until a byte of the section has been examined: leading empty lines may still be
    /// skipped.
    pub(crate) fn is_fresh(&self) -> bool {
        self.pos == 0
    }

    /// Looks for the empty line that ends the section. `Ok(Some(end))`: the section (with its
    /// final line terminator) is `buf[..end]`; `Ok(None)`: more bytes are needed.
    pub(crate) fn scan(
        &mut self,
        buf: &[u8],
        config: &ParseConfig,
    ) -> Result<Option<usize>, HttpError> {
        while let Some(rest) = buf.get(self.pos..) {
            let Some(offset) = rest.iter().position(|&b| b == b'\n' || b == b'\r') else {
                self.pos = buf.len();
                break;
            };
            self.pos += offset;
            // The bytes skipped may already break a limit: report that before anything found
            // after them, as a byte-at-a-time scan would.
            self.check_partial(self.pos + 1, config)?;
            if buf.get(self.pos) == Some(&b'\r') {
                match buf.get(self.pos + 1) {
                    // The LF may be in the next read: stop on the CR and look again then.
                    None => break,
                    Some(b'\n') => self.pos += 1,
                    Some(_) => return Err(HttpError::BareCr),
                }
            }
            if let Some(end) = self.end_line(buf, config)? {
                return Ok(Some(end));
            }
            self.pos += 1;
        }
        self.check_partial(buf.len(), config)?;
        Ok(None)
    }

    /// Called with `pos` on an LF: checks the line that it ends. Returns the end of the section
    /// if this was the empty line.
    fn end_line(&mut self, buf: &[u8], config: &ParseConfig) -> Result<Option<usize>, HttpError> {
        let line = buf.get(self.line_start..self.pos).unwrap_or_default();
        let content = match line.strip_suffix(b"\r") {
            Some(content) => content,
            None if config.bare_lf => line,
            None => return Err(HttpError::BareLf),
        };
        let next = self.pos + 1;
        match self.fields_start {
            None => {
                self.check_start_line(content.len(), config)?;
                self.fields_start = Some(next);
            }
            Some(start) => {
                self.check_section(next - start, config)?;
                if content.is_empty() {
                    return Ok(Some(next));
                }
                self.fields += 1;
                if self.fields > config.max_fields {
                    return Err(HttpError::TooManyFields {
                        max: config.max_fields,
                    });
                }
            }
        }
        self.line_start = next;
        Ok(None)
    }

    /// Limits apply to the `end` bytes examined so far, so a peer that never sends the end of
    /// the section is stopped as soon as it has sent too much.
    fn check_partial(&self, end: usize, config: &ParseConfig) -> Result<(), HttpError> {
        match self.fields_start {
            None => self.check_start_line(self.pos.saturating_sub(self.line_start), config),
            Some(start) => self.check_section(end.saturating_sub(start), config),
        }
    }

    fn check_start_line(&self, len: usize, config: &ParseConfig) -> Result<(), HttpError> {
        let max = config.max_start_line;
        match self.section {
            _ if len <= max => Ok(()),
            Section::ResponseHead => Err(HttpError::StatusLineTooLong { max }),
            Section::RequestHead | Section::Trailers => Err(HttpError::RequestLineTooLong { max }),
        }
    }

    fn check_section(&self, len: usize, config: &ParseConfig) -> Result<(), HttpError> {
        match self.section {
            Section::Trailers if len > config.max_trailer_section => {
                Err(HttpError::TrailersTooLarge {
                    max: config.max_trailer_section,
                })
            }
            Section::RequestHead | Section::ResponseHead if len > config.max_header_section => {
                Err(HttpError::HeaderSectionTooLarge {
                    max: config.max_header_section,
                })
            }
            _ => Ok(()),
        }
    }
}

/// A [`HeadScanner`] for a message head, with the empty lines allowed before it.
#[derive(Debug, Clone)]
pub(crate) struct HeadReader {
    scanner: HeadScanner,
    empty_lines: usize,
}

impl HeadReader {
    pub(crate) fn new(section: Section) -> Self {
        Self {
            scanner: HeadScanner::new(section),
            empty_lines: 0,
        }
    }

    /// Skips leading empty lines (only before the first byte of the start line), then scans.
    pub(crate) fn poll(
        &mut self,
        buf: &mut Vec<u8>,
        config: &ParseConfig,
    ) -> Result<Option<usize>, HttpError> {
        if self.scanner.is_fresh() {
            skip_empty_lines(buf, &mut self.empty_lines, config)?;
        }
        self.scanner.scan(buf, config)
    }
}

/// The lines of a section the scanner accepted, without terminators, up to the empty line.
pub(crate) fn lines(section: &[u8]) -> impl Iterator<Item = &[u8]> {
    section
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .take_while(|line| !line.is_empty())
}

/// RFC 9112 §2.2: drops empty lines at the front of `buf` (a client may send a CRLF after a
/// POST body), counting them against the limit.
pub(crate) fn skip_empty_lines(
    buf: &mut Vec<u8>,
    skipped: &mut usize,
    config: &ParseConfig,
) -> Result<(), HttpError> {
    loop {
        let len = if buf.starts_with(b"\r\n") {
            2
        } else if config.bare_lf && buf.starts_with(b"\n") {
            1
        } else {
            return Ok(());
        };
        *skipped += 1;
        if *skipped > config.max_empty_lines {
            return Err(HttpError::TooManyEmptyLines {
                max: config.max_empty_lines,
            });
        }
        buf.drain(..len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_whole(
        section: Section,
        input: &[u8],
        config: &ParseConfig,
    ) -> Result<Option<usize>, HttpError> {
        HeadScanner::new(section).scan(input, config)
    }

    fn scan_bytewise(
        section: Section,
        input: &[u8],
        config: &ParseConfig,
    ) -> Result<Option<usize>, HttpError> {
        let mut scanner = HeadScanner::new(section);
        for len in 1..=input.len() {
            if let Some(end) = scanner.scan(input.get(..len).unwrap_or_default(), config)? {
                return Ok(Some(end));
            }
        }
        Ok(None)
    }

    #[test]
    fn finds_the_end_of_the_head_whole_or_bytewise() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY";
        let config = ParseConfig::server();
        assert_eq!(
            scan_whole(Section::RequestHead, head, &config),
            Ok(Some(27))
        );
        assert_eq!(
            scan_bytewise(Section::RequestHead, head, &config),
            Ok(Some(27))
        );
        let found: Vec<&[u8]> = lines(&head[..27]).collect();
        assert_eq!(found, [&b"GET / HTTP/1.1"[..], b"Host: a"]);
    }

    #[test]
    fn a_head_with_no_fields_ends_at_the_first_empty_line() {
        let config = ParseConfig::server();
        assert_eq!(
            scan_whole(Section::RequestHead, b"GET / HTTP/1.0\r\n\r\n", &config),
            Ok(Some(18))
        );
        assert_eq!(
            scan_whole(Section::Trailers, b"\r\nnext", &config),
            Ok(Some(2))
        );
        assert_eq!(
            scan_whole(Section::Trailers, b"A: b\r\n\r\n", &config),
            Ok(Some(8))
        );
    }

    #[test]
    fn bare_cr_is_refused_as_soon_as_seen() {
        let config = ParseConfig::server();
        assert_eq!(
            scan_whole(Section::RequestHead, b"GET / HTTP/1.1\rHost", &config),
            Err(HttpError::BareCr)
        );
        assert_eq!(
            scan_whole(Section::RequestHead, b"GET / HTTP/1.1\r", &config),
            Ok(None)
        );
        assert_eq!(
            scan_bytewise(
                Section::RequestHead,
                b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
                &config
            ),
            Err(HttpError::BareCr)
        );
    }

    #[test]
    fn bare_lf_follows_the_config() {
        let strict = ParseConfig::server();
        let lenient = ParseConfig::client();
        let head = b"HTTP/1.1 200 OK\nA: b\r\n\n";
        assert_eq!(
            scan_whole(Section::ResponseHead, head, &strict),
            Err(HttpError::BareLf)
        );
        assert_eq!(
            scan_whole(Section::ResponseHead, head, &lenient),
            Ok(Some(head.len()))
        );
        let found: Vec<&[u8]> = lines(head).collect();
        assert_eq!(found, [&b"HTTP/1.1 200 OK"[..], b"A: b"]);
    }

    #[test]
    fn limits_apply_before_the_end_arrives() {
        let config = ParseConfig {
            max_start_line: 10,
            max_header_section: 20,
            max_fields: 2,
            max_trailer_section: 8,
            ..ParseConfig::server()
        };
        let long_line = [b'a'; 11];
        assert_eq!(
            scan_whole(Section::RequestHead, &long_line, &config),
            Err(HttpError::RequestLineTooLong { max: 10 })
        );
        assert_eq!(
            scan_whole(Section::ResponseHead, &long_line, &config),
            Err(HttpError::StatusLineTooLong { max: 10 })
        );
        assert_eq!(
            scan_whole(Section::RequestHead, b"0123456789\r", &config),
            Ok(None)
        );
        let big = b"G\r\nX: 0123456789012345678";
        assert_eq!(
            scan_whole(Section::RequestHead, big, &config),
            Err(HttpError::HeaderSectionTooLarge { max: 20 })
        );
        let many = b"G\r\nA: 1\r\nB: 2\r\nC: 3\r\n";
        assert_eq!(
            scan_whole(Section::RequestHead, many, &config),
            Err(HttpError::TooManyFields { max: 2 })
        );
        assert_eq!(
            scan_whole(Section::Trailers, b"A: 123456", &config),
            Err(HttpError::TrailersTooLarge { max: 8 })
        );
    }

    #[test]
    fn leading_empty_lines_are_skipped_up_to_the_limit() {
        let config = ParseConfig::server();
        let mut buf = b"\r\n\r\nGET".to_vec();
        let mut skipped = 0;
        skip_empty_lines(&mut buf, &mut skipped, &config).unwrap();
        assert_eq!(buf, b"GET");
        assert_eq!(skipped, 2);
        let mut noisy = b"\r\n".repeat(9);
        let mut skipped = 0;
        assert_eq!(
            skip_empty_lines(&mut noisy, &mut skipped, &config),
            Err(HttpError::TooManyEmptyLines { max: 8 })
        );
        let mut lf = b"\nGET".to_vec();
        skip_empty_lines(&mut lf, &mut 0, &config).unwrap();
        assert_eq!(
            lf, b"\nGET",
            "a lone LF is not an empty line in strict mode"
        );
    }
}
