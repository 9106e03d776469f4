//! The zone-file parser: entries from the [`lexer`](super::lexer) turned into records, with the
//! directives applied.
//!
//! RFC 1035 §5.1 (`$ORIGIN`, `$INCLUDE`, `@`, relative names, blank owners, TTL and class in
//! either order before the type), RFC 2308 §4 (`$TTL`; without it the legacy default, the SOA
//! MINIMUM), RFC 3597 §5 (`TYPE1234` and `\#` RDATA, through [`RData::parse`]).
//!
//! Sans-IO: the caller hands over the text, and `$INCLUDE`d files are read through a [`Loader`],
//! so tests use an in-memory map and the server reads the disk.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::wire::{Class, Name, RData, Record, RecordType, Token, parse_ttl};

use super::error::{ZoneError, ZoneErrorKind, ZoneWarning, ZoneWarningKind};
use super::lexer::{Entry, Lexer};
use super::{MAX_FILE_LEN, MAX_INCLUDE_DEPTH, MAX_INCLUDED_FILES, MAX_RECORDS, MAX_TTL};

/// Reads an `$INCLUDE`d file, given its path (already made relative to the including file's
/// directory): [`read_zone_file`] for the disk, a map lookup in tests, [`no_includes`] to forbid.
pub type Loader<'a> = &'a dyn Fn(&Path) -> io::Result<String>;

/// A loader for zones that must not include other files.
pub fn no_includes(path: &Path) -> io::Result<String> {
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("$INCLUDE is not allowed here ({})", path.display()),
    ))
}

/// Reads a zone file from disk, reading at most [`MAX_FILE_LEN`] + 1 bytes so that an oversized
/// file is refused without being loaded whole.
/// The one function here that does I/O; pass it as the [`Loader`] of a server.
pub fn read_zone_file(path: &Path) -> io::Result<String> {
    let file = std::fs::File::open(path)?;
    let limit = u64::try_from(MAX_FILE_LEN).unwrap_or(u64::MAX);
    let mut text = String::new();
    file.take(limit + 1).read_to_string(&mut text)?;
    if text.len() > MAX_FILE_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {MAX_FILE_LEN} bytes"),
        ));
    }
    Ok(text)
}

/// A record and where it was written, kept until validation has had its say.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    pub(crate) record: Record,
    /// Index into [`Parsed::files`].
    pub(crate) file: usize,
    pub(crate) line: usize,
}

/// What the parser hands to validation.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub(crate) records: Vec<Located>,
    pub(crate) files: Vec<PathBuf>,
    pub(crate) warnings: Vec<ZoneWarning>,
}

impl Parsed {
    pub(crate) fn file(&self, index: usize) -> PathBuf {
        self.files.get(index).cloned().unwrap_or_default()
    }
}

/// The state of the file being read; `$INCLUDE` starts a fresh one and restores the old after,
/// so an included file's `$ORIGIN` and owners do not leak out (RFC 1035 §5.1).
#[derive(Debug, Clone)]
struct FileState {
    file: usize,
    origin: Option<Name>,
    last_owner: Option<Name>,
    depth: usize,
}

/// The state shared by every file of one zone.
struct Parser<'l> {
    loader: Loader<'l>,
    out: Parsed,
    /// `$TTL` (RFC 2308 §4). Like BIND, a `$TTL` inside an included file stays in force after it.
    default_ttl: Option<u32>,
    /// The TTL of the previous record: RFC 1035 §5.1's default when there is no `$TTL`.
    last_ttl: Option<u32>,
    /// The legacy default of RFC 1035 §3.3.13 when neither of the above is known.
    soa_minimum: Option<u32>,
    /// An origin-less parse takes the first absolute owner as its origin.
    infer_origin: bool,
}

/// Parses `text` (read from `file`) with `origin` as the initial `$ORIGIN`; `None` lets the first
/// record's absolute owner set it. Records are returned unvalidated.
pub(crate) fn parse(
    text: &str,
    origin: Option<&Name>,
    file: &Path,
    loader: Loader<'_>,
) -> Result<Parsed, ZoneError> {
    let mut parser = Parser {
        loader,
        out: Parsed::default(),
        default_ttl: None,
        last_ttl: None,
        soa_minimum: None,
        infer_origin: origin.is_none(),
    };
    parser.out.files.push(file.to_path_buf());
    let state = FileState {
        file: 0,
        origin: origin.cloned(),
        last_owner: None,
        depth: 0,
    };
    parser.parse_file(text, state)?;
    Ok(parser.out)
}

impl Parser<'_> {
    fn parse_file(&mut self, text: &str, mut state: FileState) -> Result<(), ZoneError> {
        if text.len() > MAX_FILE_LEN {
            let kind = ZoneErrorKind::FileTooLarge {
                len: text.len(),
                max: MAX_FILE_LEN,
            };
            return Err(ZoneError::new(self.out.file(state.file), 0, kind));
        }
        for entry in Lexer::new(text) {
            let entry =
                entry.map_err(|e| ZoneError::new(self.out.file(state.file), e.line, e.kind))?;
            self.entry(&entry, &mut state)?;
        }
        Ok(())
    }

    fn entry(&mut self, entry: &Entry, state: &mut FileState) -> Result<(), ZoneError> {
        let directive = match entry.tokens.first() {
            Some(first)
                if !entry.blank_owner && !first.quoted && first.text.first() == Some(&b'$') =>
            {
                Some(String::from_utf8_lossy(&first.text).to_ascii_uppercase())
            }
            _ => None,
        };
        let args = entry.tokens.get(1..).unwrap_or_default();
        let result = match directive.as_deref() {
            // An included file's own errors already name that file and line.
            Some("$INCLUDE") => return self.include(args, entry.line, state),
            Some(name) => self.directive(name, args, state),
            None => self.record(entry, state),
        };
        result.map_err(|kind| ZoneError::new(self.out.file(state.file), entry.line, kind))
    }

    fn directive(
        &mut self,
        name: &str,
        args: &[Token],
        state: &mut FileState,
    ) -> Result<(), ZoneErrorKind> {
        match name {
            "$ORIGIN" => {
                let [arg] = args else {
                    return Err(arguments("$ORIGIN", "one domain name"));
                };
                state.origin = Some(parse_name(arg, state.origin.as_ref())?);
                Ok(())
            }
            "$TTL" => {
                let [arg] = args else {
                    return Err(arguments("$TTL", "one TTL"));
                };
                self.default_ttl = Some(parse_ttl_token(arg)?);
                Ok(())
            }
            _ => Err(ZoneErrorKind::UnknownDirective(name.to_owned())),
        }
    }

    /// `$INCLUDE <file> [<origin>]`: problems reading the file are reported at the directive;
    /// problems inside it, at their own file and line.
    fn include(&mut self, args: &[Token], line: usize, state: &FileState) -> Result<(), ZoneError> {
        let (path, text, origin) = self
            .open_include(args, state)
            .map_err(|kind| ZoneError::new(self.out.file(state.file), line, kind))?;
        let included = FileState {
            file: self.out.files.len(),
            origin,
            last_owner: state.last_owner.clone(),
            depth: state.depth + 1,
        };
        self.out.files.push(path);
        self.parse_file(&text, included)
    }

    fn open_include(
        &self,
        args: &[Token],
        state: &FileState,
    ) -> Result<(PathBuf, String, Option<Name>), ZoneErrorKind> {
        let (path, origin) = match args {
            [path] => (path, state.origin.clone()),
            [path, origin] => (path, Some(parse_name(origin, state.origin.as_ref())?)),
            _ => return Err(arguments("$INCLUDE", "a file name and an optional origin")),
        };
        if state.depth + 1 > MAX_INCLUDE_DEPTH {
            return Err(ZoneErrorKind::IncludeDepth {
                max: MAX_INCLUDE_DEPTH,
            });
        }
        if self.out.files.len() >= MAX_INCLUDED_FILES {
            return Err(ZoneErrorKind::TooManyIncludes {
                max: MAX_INCLUDED_FILES,
            });
        }
        let path = self.include_path(path, state)?;
        let text = (self.loader)(&path).map_err(|err| ZoneErrorKind::Include {
            path: path.clone(),
            reason: err.to_string(),
        })?;
        Ok((path, text, origin))
    }

    /// Relative paths are relative to the including file's directory, as in BIND.
    fn include_path(&self, token: &Token, state: &FileState) -> Result<PathBuf, ZoneErrorKind> {
        let bytes = if token.quoted {
            token.text.clone()
        } else {
            crate::wire::present::unescape(&token.text)
                .map_err(|_| ZoneErrorKind::BadEscape(lossy(token)))?
        };
        let text = String::from_utf8(bytes).map_err(|_| ZoneErrorKind::Include {
            path: PathBuf::from(lossy(token)),
            reason: "file name is not UTF-8".into(),
        })?;
        let path = Path::new(&text);
        if path.is_absolute() {
            return Ok(path.to_path_buf());
        }
        let current = self.out.file(state.file);
        let dir = current.parent().unwrap_or(Path::new(""));
        Ok(dir.join(path))
    }

    fn record(&mut self, entry: &Entry, state: &mut FileState) -> Result<(), ZoneErrorKind> {
        if self.out.records.len() >= MAX_RECORDS {
            return Err(ZoneErrorKind::TooManyRecords { max: MAX_RECORDS });
        }
        let (owner, fields) = self.owner(entry, state)?;
        let (ttl, fields) = ttl_and_class(fields)?;
        let (type_token, rdata_tokens) = fields.split_first().ok_or(ZoneErrorKind::MissingType)?;
        let rtype = parse_type(type_token)?;
        // The owner was parsed, so an origin is known by now (set or inferred).
        let origin = state.origin.clone().unwrap_or_else(|| owner.clone());
        let rdata = RData::parse(rtype, rdata_tokens, &origin)
            .map_err(|reason| ZoneErrorKind::Rdata { rtype, reason })?;
        check_size(&owner, &rdata)?;
        let ttl = self.resolve_ttl(ttl, &rdata, state, entry.line)?;
        if let RData::Soa { minimum, .. } = rdata {
            self.soa_minimum.get_or_insert(minimum);
        }
        state.last_owner = Some(owner.clone());
        self.out.records.push(Located {
            record: Record::new(owner, ttl, rdata),
            file: state.file,
            line: entry.line,
        });
        Ok(())
    }

    /// The owner field, or the previous owner for a line starting with a blank.
    fn owner<'e>(
        &self,
        entry: &'e Entry,
        state: &mut FileState,
    ) -> Result<(Name, &'e [Token]), ZoneErrorKind> {
        if entry.blank_owner {
            let owner = state.last_owner.clone().ok_or(ZoneErrorKind::NoOwner)?;
            return Ok((owner, &entry.tokens));
        }
        let (token, rest) = entry.tokens.split_first().ok_or(ZoneErrorKind::NoOwner)?;
        let owner = parse_name(token, state.origin.as_ref())?;
        if state.origin.is_none() && self.infer_origin {
            // An origin-less file such as `example.com. IN SOA ns1 hostmaster ...`: the first
            // absolute owner becomes the origin for the relative names after it.
            state.origin = Some(owner.clone());
        }
        Ok((owner, rest))
    }

    /// RFC 2308 §4 `$TTL`, else RFC 1035 §5.1's last stated TTL, else the legacy SOA MINIMUM
    /// (the record's own, for an SOA written first without a TTL).
    fn resolve_ttl(
        &mut self,
        explicit: Option<u32>,
        rdata: &RData,
        state: &FileState,
        line: usize,
    ) -> Result<u32, ZoneErrorKind> {
        let ttl = match explicit.or(self.default_ttl).or(self.last_ttl) {
            Some(ttl) => ttl,
            None => {
                let own_minimum = match rdata {
                    RData::Soa { minimum, .. } => Some(*minimum),
                    _ => None,
                };
                let minimum = self
                    .soa_minimum
                    .or(own_minimum)
                    .ok_or(ZoneErrorKind::NoTtl)?
                    .min(MAX_TTL);
                self.out.warnings.push(ZoneWarning {
                    file: self.out.file(state.file),
                    line,
                    kind: ZoneWarningKind::SoaMinimumTtl(minimum),
                });
                minimum
            }
        };
        self.last_ttl = Some(ttl);
        Ok(ttl)
    }
}

fn arguments(directive: &'static str, expected: &'static str) -> ZoneErrorKind {
    ZoneErrorKind::DirectiveArguments {
        directive,
        expected,
    }
}

fn lossy(token: &Token) -> String {
    String::from_utf8_lossy(&token.text).into_owned()
}

/// A name field: `@`, absolute, or relative to `origin`.
pub(crate) fn parse_name(token: &Token, origin: Option<&Name>) -> Result<Name, ZoneErrorKind> {
    let bad = |reason: String| ZoneErrorKind::BadName {
        text: lossy(token),
        reason,
    };
    if token.quoted {
        return Err(bad("names are not quoted".into()));
    }
    let origin = match origin {
        Some(origin) => origin.clone(),
        None if is_absolute(&token.text) => Name::root(),
        None => return Err(ZoneErrorKind::NoOrigin(lossy(token))),
    };
    Name::from_presentation(&token.text, &origin).map_err(|err| bad(err.to_string()))
}

/// Whether presentation text ends with an unescaped dot: an odd run of backslashes before the
/// final dot escapes it.
fn is_absolute(text: &[u8]) -> bool {
    let Some((&b'.', before)) = text.split_last() else {
        return false;
    };
    let backslashes = before.iter().rev().take_while(|&&b| b == b'\\').count();
    backslashes % 2 == 0
}

fn parse_ttl_token(token: &Token) -> Result<u32, ZoneErrorKind> {
    let text = std::str::from_utf8(&token.text).map_err(|_| ZoneErrorKind::BadTtl(lossy(token)))?;
    let ttl = parse_ttl(text).map_err(|_| ZoneErrorKind::BadTtl(lossy(token)))?;
    if ttl > MAX_TTL {
        return Err(ZoneErrorKind::TtlTooLarge(ttl));
    }
    Ok(ttl)
}

/// TTL and class may come in either order (RFC 1035 §5.1), each at most once. A TTL starts with
/// a digit, which no type or class mnemonic does. Only class IN is served.
fn ttl_and_class(fields: &[Token]) -> Result<(Option<u32>, &[Token]), ZoneErrorKind> {
    let mut ttl = None;
    let mut class = None;
    let mut rest = fields;
    while let Some((token, tail)) = rest.split_first() {
        if token.quoted {
            break;
        }
        if token.text.first().is_some_and(u8::is_ascii_digit) {
            if ttl.is_some() {
                return Err(ZoneErrorKind::DuplicateTtl);
            }
            ttl = Some(parse_ttl_token(token)?);
        } else if let Some(parsed) = parse_class(token) {
            if class.is_some() {
                return Err(ZoneErrorKind::DuplicateClass);
            }
            if parsed != Class::IN {
                return Err(ZoneErrorKind::UnsupportedClass(parsed));
            }
            class = Some(parsed);
        } else {
            break;
        }
        rest = tail;
    }
    Ok((ttl, rest))
}

fn parse_class(token: &Token) -> Option<Class> {
    std::str::from_utf8(&token.text).ok()?.parse().ok()
}

fn parse_type(token: &Token) -> Result<RecordType, ZoneErrorKind> {
    let unknown = || ZoneErrorKind::UnknownType(lossy(token));
    if token.quoted {
        return Err(unknown());
    }
    let text = std::str::from_utf8(&token.text).map_err(|_| unknown())?;
    let rtype: RecordType = text.parse().map_err(|_| unknown())?;
    if rtype.is_meta() || rtype.0 == 0 {
        return Err(ZoneErrorKind::MetaType(rtype));
    }
    Ok(rtype)
}

/// Every record must fit a message with a header and the largest question, or AXFR could not
/// carry it.
pub(crate) fn check_size(owner: &Name, rdata: &RData) -> Result<(), ZoneErrorKind> {
    const ROOM: usize = 65_535 - 12 - (255 + 4) - 11;
    rdata.validate().map_err(|reason| ZoneErrorKind::Rdata {
        rtype: rdata.rtype(),
        reason,
    })?;
    let len = owner.wire_len() + 10 + rdata.to_wire().len();
    if len > ROOM {
        return Err(ZoneErrorKind::RecordTooLarge {
            rtype: rdata.rtype(),
            len,
        });
    }
    Ok(())
}
