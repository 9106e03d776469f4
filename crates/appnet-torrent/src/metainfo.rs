//! Metainfo files (.torrent): BEP 3 "Metainfo files" and "Info dictionary", with BEP 12's
//! `announce-list` and BEP 27's `private` flag.
//!
//! [`Metainfo::parse`] validates everything a peer later relies on, so the rest of the crate can
//! trust an [`Info`]: the piece length is a power of two from 16 KiB to 64 MiB (so every piece
//! but the last holds whole 16 KiB blocks), there is exactly one 20-byte hash per piece, the
//! total length and the file count are bounded, and every path stays beneath the download
//! directory (no empty, `.`, `..` or `/`-holding component; no file that is also a directory).
//! The info-hash is SHA-1 over the exact bytes of the `info` dictionary as it appeared in the
//! file, which the strict bencode decoder hands us as [`Dict::raw`].
//!
//! [`Info`] is also the torrent's layout: the length and offset of each piece and the file spans
//! a piece or any byte range covers, which is what storage reads and writes through.
//!
//! [`create`] is the one part that touches the file system: it walks a file or directory and
//! hashes it into a new .torrent.

use std::collections::BTreeSet;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use sha1::{Digest, Sha1};
use thiserror::Error;

use crate::bencode::{self, BencodeError, Dict, Owned, Value};

/// The smallest piece length accepted: one 16 KiB block (BEP 3's usual request size).
pub const MIN_PIECE_LENGTH: u32 = 16 * 1024;
/// The largest piece length accepted when parsing.
pub const MAX_PIECE_LENGTH: u32 = 64 * 1024 * 1024;
/// The largest piece length [`choose_piece_length`] picks (mktorrent and libtorrent stop here).
pub const MAX_CHOSEN_PIECE_LENGTH: u32 = 16 * 1024 * 1024;
/// At most this many pieces: 20 MiB of hashes, a 128 KiB bitfield.
pub const MAX_PIECES: u32 = 1 << 20;
/// At most this many files in one torrent.
pub const MAX_FILES: usize = 100_000;
/// At most this many bytes in one torrent (1 TiB).
pub const MAX_TOTAL_LENGTH: u64 = 1 << 40;
/// A .torrent larger than this is refused before decoding.
pub const MAX_METAINFO_BYTES: usize = 32 * 1024 * 1024;
/// A file name (one path component) is at most this long, as on Linux (NAME_MAX).
pub const MAX_COMPONENT_BYTES: usize = 255;
/// A file's whole relative path, the torrent's name included, is at most this long (PATH_MAX).
pub const MAX_PATH_BYTES: usize = 4096;

/// How many pieces [`choose_piece_length`] aims at, at most.
const TARGET_PIECES: u64 = 2000;

/// SHA-1 of a torrent's bencoded info dictionary: the swarm's name on trackers and in handshakes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct InfoHash(pub [u8; 20]);

impl InfoHash {
    /// The info-hash of these exact info-dictionary bytes.
    pub fn of(info_bytes: &[u8]) -> InfoHash {
        InfoHash(Sha1::digest(info_bytes).into())
    }

    /// Parses 40 hexadecimal digits (either case).
    pub fn from_hex(hex: &str) -> Option<InfoHash> {
        let hex = hex.as_bytes();
        if hex.len() != 40 || !hex.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let mut out = [0u8; 20];
        for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
            let text = std::str::from_utf8(pair).ok()?;
            *byte = u8::from_str_radix(text, 16).ok()?;
        }
        Some(InfoHash(out))
    }

    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }
}

impl fmt::Display for InfoHash {
    /// Lower-case hex, as transmission-show and aria2c print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHash({self})")
    }
}

/// Which rule a .torrent broke.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MetainfoError {
    #[error("the metainfo is {0} bytes, more than {MAX_METAINFO_BYTES}")]
    TooLarge(usize),
    #[error("not bencoded: {0}")]
    Bencode(#[from] BencodeError),
    #[error("`{0}` is missing")]
    Missing(&'static str),
    #[error("`{0}` has the wrong type")]
    WrongType(&'static str),
    #[error("`{0}` is not UTF-8")]
    NotUtf8(&'static str),
    #[error("both `length` and `files` are present")]
    BothModes,
    #[error("a BitTorrent v2-only torrent (BEP 52), which this client does not speak")]
    V2Only,
    #[error("piece length {0} is not a power of two from 16 KiB to 64 MiB")]
    BadPieceLength(i64),
    #[error("`pieces` is {0} bytes, not a multiple of 20")]
    BadPieces(usize),
    #[error("{got} piece hashes where {expected} pieces make up the torrent's length")]
    PieceCount { got: usize, expected: u64 },
    #[error("more than {MAX_PIECES} pieces")]
    TooManyPieces,
    #[error("file {file} has a negative length")]
    NegativeLength { file: usize },
    #[error("the torrent holds no data")]
    Empty,
    #[error("the torrent holds more than {MAX_TOTAL_LENGTH} bytes")]
    TooLong,
    #[error("more than {MAX_FILES} files")]
    TooManyFiles,
    #[error("path component {component:?} {reason}")]
    UnsafeComponent {
        component: String,
        reason: &'static str,
    },
    #[error("a file path is longer than {MAX_PATH_BYTES} bytes")]
    PathTooLong,
    #[error("{0:?} names two files, or a file and a directory")]
    PathConflict(String),
    #[error("`private` is {0}, not 0 or 1")]
    BadPrivate(i64),
}

/// A parsed, validated .torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metainfo {
    info: Info,
    info_hash: InfoHash,
    info_bytes: Vec<u8>,
    announce: Option<String>,
    announce_list: Vec<Vec<String>>,
    comment: Option<String>,
    created_by: Option<String>,
    creation_date: Option<i64>,
}

impl Metainfo {
    /// BEP 3: a bencoded dictionary with `info` and usually `announce`; BEP 12 `announce-list`.
    /// Unknown keys are allowed (and, inside `info`, covered by the info-hash).
    pub fn parse(bytes: &[u8]) -> Result<Metainfo, MetainfoError> {
        if bytes.len() > MAX_METAINFO_BYTES {
            return Err(MetainfoError::TooLarge(bytes.len()));
        }
        let root = bencode::decode(bytes)?;
        let root = root
            .as_dict()
            .ok_or(MetainfoError::WrongType("the metainfo"))?;
        let info_dict = match root.get("info") {
            Some(Value::Dict(dict)) => dict,
            Some(_) => return Err(MetainfoError::WrongType("info")),
            None => return Err(MetainfoError::Missing("info")),
        };
        Ok(Metainfo {
            info: Info::from_dict(info_dict)?,
            info_hash: InfoHash::of(info_dict.raw),
            info_bytes: info_dict.raw.to_vec(),
            announce: optional_utf8(root, "announce")?,
            announce_list: announce_list(root)?,
            comment: optional_text(root, "comment")?,
            created_by: optional_text(root, "created by")?,
            creation_date: optional_int(root, "creation date")?,
        })
    }

    pub fn info(&self) -> &Info {
        &self.info
    }

    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    /// The exact bencoded info dictionary (for BEP 9 metadata exchange, and for checking hashes).
    pub fn info_bytes(&self) -> &[u8] {
        &self.info_bytes
    }

    pub fn announce(&self) -> Option<&str> {
        self.announce.as_deref()
    }

    /// BEP 12 tiers as given (empty tiers dropped); see [`Metainfo::trackers`].
    pub fn announce_list(&self) -> &[Vec<String>] {
        &self.announce_list
    }

    /// The trackers to use, in tiers: BEP 12 says a client that understands `announce-list`
    /// uses it and ignores `announce`; without it, `announce` is the one tier.
    pub fn trackers(&self) -> Vec<Vec<String>> {
        if !self.announce_list.is_empty() {
            return self.announce_list.clone();
        }
        self.announce.iter().map(|url| vec![url.clone()]).collect()
    }

    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    pub fn created_by(&self) -> Option<&str> {
        self.created_by.as_deref()
    }

    /// Seconds since the Unix epoch, as the file says.
    pub fn creation_date(&self) -> Option<i64> {
        self.creation_date
    }
}

/// One file of a torrent, in torrent order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Components of the path relative to the directory the torrent is saved into, starting
    /// with the torrent's name: `[name]` for a single-file torrent, `[name, dir…, file]` for a
    /// multi-file one. Every component is a safe file name.
    pub path: Vec<String>,
    pub length: u64,
    /// Where the file starts in the torrent's concatenated data.
    pub offset: u64,
}

impl FileEntry {
    /// The path relative to the download directory.
    pub fn relative_path(&self) -> PathBuf {
        self.path.iter().collect()
    }
}

/// A part of one file: what a piece or a byte range of the torrent covers in that file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSpan {
    /// Index into [`Info::files`].
    pub file: usize,
    /// Offset within the file.
    pub offset: u64,
    pub length: u64,
}

/// The validated info dictionary (BEP 3 "Info dictionary"), and the torrent's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    name: String,
    piece_length: u32,
    piece_hashes: Vec<[u8; 20]>,
    files: Vec<FileEntry>,
    single_file: bool,
    private: bool,
    total_length: u64,
}

impl Info {
    fn from_dict(dict: &Dict<'_>) -> Result<Info, MetainfoError> {
        let name = component(required_bytes(dict, "name")?)?;
        let piece_length = piece_length(required_int(dict, "piece length")?)?;
        let (files, single_file) = files(dict, &name)?;
        let total_length = files.last().map_or(0, |f| f.offset + f.length);
        if total_length == 0 {
            return Err(MetainfoError::Empty);
        }
        let piece_hashes =
            piece_hashes(required_bytes(dict, "pieces")?, total_length, piece_length)?;
        Ok(Info {
            name,
            piece_length,
            piece_hashes,
            files,
            single_file,
            private: private_flag(dict)?,
            total_length,
        })
    }

    /// The suggested name: the file's name, or the top directory's.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The nominal piece length: every piece's but the last's.
    pub fn piece_length(&self) -> u32 {
        self.piece_length
    }

    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    pub fn is_single_file(&self) -> bool {
        self.single_file
    }

    /// BEP 27: peers only from the tracker (no DHT, no peer exchange).
    pub fn is_private(&self) -> bool {
        self.private
    }

    pub fn total_length(&self) -> u64 {
        self.total_length
    }

    pub fn piece_count(&self) -> u32 {
        // At most MAX_PIECES, checked by the parser.
        u32::try_from(self.piece_hashes.len()).unwrap_or(u32::MAX)
    }

    pub fn piece_hash(&self, index: u32) -> Option<&[u8; 20]> {
        self.piece_hashes.get(usize::try_from(index).ok()?)
    }

    /// Where piece `index` starts in the torrent's data.
    pub fn piece_offset(&self, index: u32) -> Option<u64> {
        (index < self.piece_count()).then(|| u64::from(index) * u64::from(self.piece_length))
    }

    /// The length of piece `index`: the nominal length, or less for the last piece.
    pub fn piece_len(&self, index: u32) -> Option<u32> {
        let start = self.piece_offset(index)?;
        let len = (self.total_length - start).min(u64::from(self.piece_length));
        u32::try_from(len).ok()
    }

    /// The file spans piece `index` covers, in order.
    pub fn piece_spans(&self, index: u32) -> Option<Spans<'_>> {
        self.spans(self.piece_offset(index)?, u64::from(self.piece_len(index)?))
    }

    /// The file spans of a block: `length` bytes at `begin` within piece `index`. `None` if the
    /// block is empty or does not lie wholly inside the piece (a request a peer must refuse).
    pub fn block_spans(&self, index: u32, begin: u32, length: u32) -> Option<Spans<'_>> {
        let end = begin.checked_add(length)?;
        if length == 0 || end > self.piece_len(index)? {
            return None;
        }
        self.spans(
            self.piece_offset(index)? + u64::from(begin),
            u64::from(length),
        )
    }

    /// The file spans of `length` bytes at `offset` in the torrent's data, skipping empty files.
    /// `None` if the range leaves the torrent.
    pub fn spans(&self, offset: u64, length: u64) -> Option<Spans<'_>> {
        if offset.checked_add(length)? > self.total_length {
            return None;
        }
        // The first file that ends after `offset`; empty files at `offset` end there, so they
        // are skipped here too.
        let first = self
            .files
            .partition_point(|f| f.offset + f.length <= offset);
        Some(Spans {
            files: &self.files,
            next: first,
            offset,
            remaining: length,
        })
    }
}

/// Iterator over the [`FileSpan`]s of a byte range; see [`Info::spans`].
#[derive(Debug, Clone)]
pub struct Spans<'a> {
    files: &'a [FileEntry],
    next: usize,
    offset: u64,
    remaining: u64,
}

impl Iterator for Spans<'_> {
    type Item = FileSpan;

    fn next(&mut self) -> Option<FileSpan> {
        while self.remaining > 0 {
            let file = self.files.get(self.next)?;
            let end = file.offset + file.length;
            if self.offset >= end {
                self.next += 1;
                continue;
            }
            let in_file = self.offset - file.offset;
            let length = self.remaining.min(end - self.offset);
            let span = FileSpan {
                file: self.next,
                offset: in_file,
                length,
            };
            self.offset += length;
            self.remaining -= length;
            self.next += 1;
            return Some(span);
        }
        None
    }
}

/// BEP 3 leaves the piece length free ("almost always a power of two"); we require one from
/// 16 KiB to 64 MiB so that blocks never straddle pieces and a bad file cannot ask for a
/// gigabyte-sized piece buffer.
fn piece_length(value: i64) -> Result<u32, MetainfoError> {
    u32::try_from(value)
        .ok()
        .filter(|len| len.is_power_of_two())
        .filter(|len| (MIN_PIECE_LENGTH..=MAX_PIECE_LENGTH).contains(len))
        .ok_or(MetainfoError::BadPieceLength(value))
}

/// `pieces`: the concatenated 20-byte SHA-1 of every piece, one per piece of the total length.
fn piece_hashes(
    pieces: &[u8],
    total_length: u64,
    piece_length: u32,
) -> Result<Vec<[u8; 20]>, MetainfoError> {
    if !pieces.len().is_multiple_of(20) {
        return Err(MetainfoError::BadPieces(pieces.len()));
    }
    let expected = total_length.div_ceil(u64::from(piece_length));
    if expected > u64::from(MAX_PIECES) {
        return Err(MetainfoError::TooManyPieces);
    }
    let got = pieces.len() / 20;
    if u64::try_from(got).ok() != Some(expected) {
        return Err(MetainfoError::PieceCount { got, expected });
    }
    Ok(pieces
        .chunks_exact(20)
        .filter_map(|hash| hash.try_into().ok())
        .collect())
}

/// BEP 3: a single-file torrent has `length`, a multi-file one `files` (a list of `length` and
/// `path`). Returns the files with their offsets, and whether it is single-file.
fn files(dict: &Dict<'_>, name: &str) -> Result<(Vec<FileEntry>, bool), MetainfoError> {
    match (dict.get("length"), dict.get("files")) {
        (Some(_), Some(_)) => Err(MetainfoError::BothModes),
        (Some(length), None) => {
            let length = length.as_int().ok_or(MetainfoError::WrongType("length"))?;
            let length = file_length(length, 0, 0)?;
            let path = vec![name.to_owned()];
            check_path_length(&path)?;
            Ok((
                vec![FileEntry {
                    path,
                    length,
                    offset: 0,
                }],
                true,
            ))
        }
        (None, Some(list)) => {
            let list = list.as_list().ok_or(MetainfoError::WrongType("files"))?;
            Ok((multi_files(list, name)?, false))
        }
        (None, None) if dict.get("file tree").is_some() => Err(MetainfoError::V2Only),
        (None, None) => Err(MetainfoError::Missing("length")),
    }
}

fn multi_files(list: &[Value<'_>], name: &str) -> Result<Vec<FileEntry>, MetainfoError> {
    if list.len() > MAX_FILES {
        return Err(MetainfoError::TooManyFiles);
    }
    let mut files = Vec::with_capacity(list.len());
    let mut offset = 0u64;
    for (index, item) in list.iter().enumerate() {
        let item = item.as_dict().ok_or(MetainfoError::WrongType("files"))?;
        let length = file_length(required_int(item, "length")?, index, offset)?;
        let path = file_path(item, name)?;
        files.push(FileEntry {
            path,
            length,
            offset,
        });
        offset += length;
    }
    check_conflicts(&files)?;
    Ok(files)
}

/// A file's length, checked to be non-negative and to keep the total within bounds.
fn file_length(length: i64, file: usize, offset: u64) -> Result<u64, MetainfoError> {
    let length = u64::try_from(length).map_err(|_| MetainfoError::NegativeLength { file })?;
    match offset.checked_add(length) {
        Some(end) if end <= MAX_TOTAL_LENGTH => Ok(length),
        _ => Err(MetainfoError::TooLong),
    }
}

/// `path`: a non-empty list of components below the torrent's directory.
fn file_path(item: &Dict<'_>, name: &str) -> Result<Vec<String>, MetainfoError> {
    let components = match item.get("path") {
        Some(Value::List(components)) if !components.is_empty() => components,
        Some(Value::List(_)) => {
            return Err(MetainfoError::UnsafeComponent {
                component: String::new(),
                reason: "is an empty path",
            });
        }
        Some(_) => return Err(MetainfoError::WrongType("path")),
        None => return Err(MetainfoError::Missing("path")),
    };
    let mut path = Vec::with_capacity(components.len() + 1);
    path.push(name.to_owned());
    for part in components {
        let bytes = part.as_bytes().ok_or(MetainfoError::WrongType("path"))?;
        path.push(component(bytes)?);
    }
    check_path_length(&path)?;
    Ok(path)
}

/// One path component, safe to join to a directory on any Unix: it can name nothing but an
/// entry of that very directory.
fn component(bytes: &[u8]) -> Result<String, MetainfoError> {
    let reason = if bytes.is_empty() {
        Some("is empty")
    } else if bytes == b"." || bytes == b".." {
        Some("refers to a directory itself or its parent")
    } else if bytes.contains(&b'/') {
        Some("contains a slash")
    } else if bytes.contains(&0) {
        Some("contains a NUL byte")
    } else if bytes.len() > MAX_COMPONENT_BYTES {
        Some("is longer than 255 bytes")
    } else {
        None
    };
    if let Some(reason) = reason {
        return Err(MetainfoError::UnsafeComponent {
            component: String::from_utf8_lossy(bytes).into_owned(),
            reason,
        });
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| MetainfoError::NotUtf8("path"))
}

fn check_path_length(path: &[String]) -> Result<(), MetainfoError> {
    let bytes: usize = path.iter().map(|c| c.len() + 1).sum();
    if bytes > MAX_PATH_BYTES {
        return Err(MetainfoError::PathTooLong);
    }
    Ok(())
}

/// No two files at one path, and no file where another file needs a directory: either would
/// make two files share storage.
fn check_conflicts(files: &[FileEntry]) -> Result<(), MetainfoError> {
    let mut paths: BTreeSet<&[String]> = BTreeSet::new();
    for file in files {
        if !paths.insert(&file.path) {
            return Err(MetainfoError::PathConflict(file.path.join("/")));
        }
    }
    for file in files {
        for depth in 1..file.path.len() {
            if paths.contains(&file.path[..depth]) {
                return Err(MetainfoError::PathConflict(file.path[..depth].join("/")));
            }
        }
    }
    Ok(())
}

/// BEP 27: `private` is 1 for a private torrent; 0 or absent otherwise.
fn private_flag(dict: &Dict<'_>) -> Result<bool, MetainfoError> {
    match optional_int(dict, "private")? {
        None | Some(0) => Ok(false),
        Some(1) => Ok(true),
        Some(other) => Err(MetainfoError::BadPrivate(other)),
    }
}

/// BEP 12: a list of tiers, each a list of tracker URLs.
fn announce_list(root: &Dict<'_>) -> Result<Vec<Vec<String>>, MetainfoError> {
    const KEY: &str = "announce-list";
    let Some(tiers) = root.get(KEY) else {
        return Ok(Vec::new());
    };
    let tiers = tiers.as_list().ok_or(MetainfoError::WrongType(KEY))?;
    let mut out = Vec::new();
    for tier in tiers {
        let tier = tier.as_list().ok_or(MetainfoError::WrongType(KEY))?;
        let urls = tier
            .iter()
            .map(|url| {
                let bytes = url.as_bytes().ok_or(MetainfoError::WrongType(KEY))?;
                utf8(bytes, KEY)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !urls.is_empty() {
            out.push(urls);
        }
    }
    Ok(out)
}

fn required_int(dict: &Dict<'_>, key: &'static str) -> Result<i64, MetainfoError> {
    optional_int(dict, key)?.ok_or(MetainfoError::Missing(key))
}

fn required_bytes<'a>(dict: &Dict<'a>, key: &'static str) -> Result<&'a [u8], MetainfoError> {
    match dict.get(key) {
        Some(value) => value.as_bytes().ok_or(MetainfoError::WrongType(key)),
        None => Err(MetainfoError::Missing(key)),
    }
}

fn optional_int(dict: &Dict<'_>, key: &'static str) -> Result<Option<i64>, MetainfoError> {
    dict.get(key)
        .map(|value| value.as_int().ok_or(MetainfoError::WrongType(key)))
        .transpose()
}

fn optional_bytes<'a>(
    dict: &Dict<'a>,
    key: &'static str,
) -> Result<Option<&'a [u8]>, MetainfoError> {
    dict.get(key)
        .map(|value| value.as_bytes().ok_or(MetainfoError::WrongType(key)))
        .transpose()
}

/// A field that must be UTF-8 to be used at all (a tracker URL).
fn optional_utf8(dict: &Dict<'_>, key: &'static str) -> Result<Option<String>, MetainfoError> {
    optional_bytes(dict, key)?
        .map(|bytes| utf8(bytes, key))
        .transpose()
}

/// A field only shown to people (comment, creator): old torrents carry other encodings, so
/// invalid UTF-8 is replaced rather than refused.
fn optional_text(dict: &Dict<'_>, key: &'static str) -> Result<Option<String>, MetainfoError> {
    Ok(optional_bytes(dict, key)?.map(|bytes| String::from_utf8_lossy(bytes).into_owned()))
}

fn utf8(bytes: &[u8], key: &'static str) -> Result<String, MetainfoError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| MetainfoError::NotUtf8(key))
}

/// A piece length for `total` bytes, as mktorrent and libtorrent choose one: the smallest power
/// of two from 16 KiB to 16 MiB that makes at most 2,000 pieces, so a torrent has 1,000–2,000
/// pieces unless it is tiny (fewer pieces of 16 KiB) or huge (more pieces of 16 MiB). Fewer
/// pieces make a smaller .torrent; more make swarming start sooner and a bad piece cost less.
pub fn choose_piece_length(total: u64) -> u32 {
    let mut length = MIN_PIECE_LENGTH;
    while length < MAX_CHOSEN_PIECE_LENGTH && total.div_ceil(u64::from(length)) > TARGET_PIECES {
        length *= 2;
    }
    length
}

/// Why [`create`] could not make a torrent.
#[derive(Debug, Error)]
pub enum CreateError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: the name is not UTF-8", .0.display())]
    NotUtf8(PathBuf),
    #[error("{}: no file name to name the torrent after", .0.display())]
    NoName(PathBuf),
    #[error("{}: neither a regular file nor a directory", .0.display())]
    NotAFile(PathBuf),
    #[error("nothing to share: no files, or only empty ones")]
    Empty,
    #[error("more than {MAX_FILES} files")]
    TooManyFiles,
    #[error("{0} bytes, more than the {MAX_TOTAL_LENGTH} a torrent may hold")]
    TooLarge(u64),
    #[error("piece length {0} is not a power of two from 16 KiB to 64 MiB")]
    BadPieceLength(u32),
    #[error("pieces of {0} bytes would make more than {MAX_PIECES} pieces")]
    TooManyPieces(u32),
    #[error("{}: changed size while being hashed", .0.display())]
    Changed(PathBuf),
    #[error("the torrent made would not load: {0}")]
    Invalid(#[from] MetainfoError),
}

/// What goes into a new torrent besides the data; see [`create_with`].
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Tracker URLs: the first is `announce`; with more than one, each is also a tier of its
    /// own in `announce-list` (BEP 12), tried in order.
    pub trackers: Vec<String>,
    /// `None`: [`choose_piece_length`].
    pub piece_length: Option<u32>,
    pub comment: Option<String>,
    /// BEP 27 `private`.
    pub private: bool,
    /// Seconds since the Unix epoch; `None`: now.
    pub creation_date: Option<i64>,
}

/// A .torrent for the file or directory at `path`; see [`create_with`].
pub fn create(
    path: &Path,
    trackers: &[String],
    piece_length: Option<u32>,
    progress: &mut dyn FnMut(u64),
) -> Result<Vec<u8>, CreateError> {
    let options = CreateOptions {
        trackers: trackers.to_vec(),
        piece_length,
        ..CreateOptions::default()
    };
    create_with(path, &options, progress)
}

/// A .torrent for the file or directory at `path`, named after its last component.
///
/// A directory becomes a multi-file torrent of every regular file beneath it, sorted by their
/// relative paths as byte strings, as mktorrent sorts them (`a.b` before `a/c`): the same
/// directory and piece length give mktorrent's info-hash. Hidden files are included, as
/// mktorrent does, so a download is a byte-exact copy of the directory. Symbolic links,
/// sockets, FIFOs and devices beneath it are skipped: a seeder opens files beneath its
/// directory without following links, so a link could not be served. Empty directories cannot
/// be expressed in BEP 3 and vanish.
///
/// `progress` is called with the number of bytes hashed so far, after every piece. The result
/// always passes [`Metainfo::parse`].
pub fn create_with(
    path: &Path,
    options: &CreateOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<Vec<u8>, CreateError> {
    let name = torrent_name(path)?;
    let metadata = fs::metadata(path).map_err(io_error(path))?;
    let (sources, single_file) = if metadata.is_file() {
        let file = Source {
            components: Vec::new(),
            path: path.to_owned(),
            length: metadata.len(),
        };
        (vec![file], true)
    } else if metadata.is_dir() {
        (walk(path)?, false)
    } else {
        return Err(CreateError::NotAFile(path.to_owned()));
    };
    let total = sources.iter().map(|s| s.length).sum::<u64>();
    if total == 0 {
        return Err(CreateError::Empty);
    }
    if total > MAX_TOTAL_LENGTH {
        return Err(CreateError::TooLarge(total));
    }
    let piece_length = checked_piece_length(options.piece_length, total)?;
    let pieces = hash_pieces(&sources, piece_length, progress)?;
    let info = info_dict(&name, piece_length, pieces, &sources, single_file, options);
    let torrent = root_dict(info, options).encode();
    Metainfo::parse(&torrent)?;
    Ok(torrent)
}

/// A file found by [`create`]: its components below the torrent's directory, where to read it,
/// and its length when found.
struct Source {
    components: Vec<String>,
    path: PathBuf,
    length: u64,
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> CreateError + '_ {
    move |source| CreateError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The last component of `path` (after resolving `.` or `..`), which must be UTF-8.
fn torrent_name(path: &Path) -> Result<String, CreateError> {
    let named = match path.file_name() {
        Some(name) => name.to_owned(),
        None => fs::canonicalize(path)
            .map_err(io_error(path))?
            .file_name()
            .ok_or_else(|| CreateError::NoName(path.to_owned()))?
            .to_owned(),
    };
    named
        .into_string()
        .map_err(|_| CreateError::NotUtf8(path.to_owned()))
}

/// Every regular file beneath `root`, in torrent order; without following symbolic links.
fn walk(root: &Path) -> Result<Vec<Source>, CreateError> {
    let mut found = Vec::new();
    let mut pending = vec![(root.to_owned(), Vec::<String>::new())];
    while let Some((dir, prefix)) = pending.pop() {
        for entry in fs::read_dir(&dir).map_err(io_error(&dir))? {
            let entry = entry.map_err(io_error(&dir))?;
            let path = entry.path();
            // DirEntry::file_type does not follow symbolic links.
            let kind = entry.file_type().map_err(io_error(&path))?;
            let name = entry
                .file_name()
                .into_string()
                .map_err(|_| CreateError::NotUtf8(path.clone()))?;
            let mut components = prefix.clone();
            components.push(name);
            if kind.is_dir() {
                pending.push((path, components));
            } else if kind.is_file() {
                let length = entry.metadata().map_err(io_error(&path))?.len();
                found.push(Source {
                    components,
                    path,
                    length,
                });
                if found.len() > MAX_FILES {
                    return Err(CreateError::TooManyFiles);
                }
            }
        }
    }
    // mktorrent's order (the whole relative path, byte by byte), so that both make the same
    // info dictionary for the same directory and piece length.
    found.sort_by_cached_key(|source| source.components.join("/"));
    Ok(found)
}

fn checked_piece_length(chosen: Option<u32>, total: u64) -> Result<u32, CreateError> {
    let length = chosen.unwrap_or_else(|| choose_piece_length(total));
    if piece_length(i64::from(length)).is_err() {
        return Err(CreateError::BadPieceLength(length));
    }
    if total.div_ceil(u64::from(length)) > u64::from(MAX_PIECES) {
        return Err(CreateError::TooManyPieces(length));
    }
    Ok(length)
}

/// SHA-1 of every piece of the files' concatenation, read a piece at a time.
fn hash_pieces(
    sources: &[Source],
    piece_length: u32,
    progress: &mut dyn FnMut(u64),
) -> Result<Vec<u8>, CreateError> {
    let mut buffer = vec![0u8; usize::try_from(piece_length).unwrap_or(usize::MAX)];
    let mut filled = 0;
    let mut hashed = 0u64;
    let mut pieces = Vec::new();
    for source in sources {
        let file = File::open(&source.path).map_err(io_error(&source.path))?;
        // Only the length we list: a file that grew meanwhile still matches the torrent.
        let mut reader = file.take(source.length);
        let mut read = 0u64;
        loop {
            let n = match reader.read(&mut buffer[filled..]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(&source.path)(e)),
            };
            filled += n;
            read += n as u64;
            if filled == buffer.len() {
                pieces.extend_from_slice(&Sha1::digest(&buffer));
                hashed += filled as u64;
                filled = 0;
                progress(hashed);
            }
        }
        if read != source.length {
            return Err(CreateError::Changed(source.path.clone()));
        }
    }
    if filled > 0 {
        pieces.extend_from_slice(&Sha1::digest(&buffer[..filled]));
        progress(hashed + filled as u64);
    }
    Ok(pieces)
}

fn info_dict(
    name: &str,
    piece_length: u32,
    pieces: Vec<u8>,
    sources: &[Source],
    single_file: bool,
    options: &CreateOptions,
) -> Owned {
    let mut info = vec![
        ("name", Owned::bytes(name)),
        ("piece length", Owned::Int(i64::from(piece_length))),
        ("pieces", Owned::Bytes(pieces)),
    ];
    if single_file {
        let length = sources.first().map_or(0, |s| s.length);
        info.push(("length", int(length)));
    } else {
        let files = sources.iter().map(|source| {
            let path = source
                .components
                .iter()
                .map(|c| Owned::bytes(c.as_str()))
                .collect();
            Owned::dict([("length", int(source.length)), ("path", Owned::List(path))])
        });
        info.push(("files", Owned::List(files.collect())));
    }
    if options.private {
        info.push(("private", Owned::Int(1)));
    }
    Owned::dict(info)
}

fn root_dict(info: Owned, options: &CreateOptions) -> Owned {
    let created = options.creation_date.unwrap_or_else(now);
    let mut root = vec![
        ("info", info),
        (
            "created by",
            Owned::bytes(concat!("appnet ", env!("CARGO_PKG_VERSION"))),
        ),
        ("creation date", Owned::Int(created)),
    ];
    if let Some(first) = options.trackers.first() {
        root.push(("announce", Owned::bytes(first.as_str())));
    }
    if options.trackers.len() > 1 {
        let tiers = options
            .trackers
            .iter()
            .map(|url| Owned::List(vec![Owned::bytes(url.as_str())]));
        root.push(("announce-list", Owned::List(tiers.collect())));
    }
    if let Some(comment) = &options.comment {
        root.push(("comment", Owned::bytes(comment.as_str())));
    }
    Owned::dict(root)
}

/// Lengths are below MAX_TOTAL_LENGTH, far inside i64.
fn int(value: u64) -> Owned {
    Owned::Int(i64::try_from(value).unwrap_or(i64::MAX))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    const KIB16: u32 = 16 * 1024;

    /// Zeroed piece hashes for `total` bytes in pieces of `piece_length`.
    fn hashes(total: u64, piece_length: u32) -> Owned {
        let count = usize::try_from(total.div_ceil(u64::from(piece_length))).unwrap();
        Owned::Bytes(vec![0; count * 20])
    }

    fn single_info(length: u64) -> BTreeMap<&'static str, Owned> {
        BTreeMap::from([
            ("name", Owned::bytes("file.bin")),
            ("piece length", Owned::Int(i64::from(KIB16))),
            ("length", int(length)),
            ("pieces", hashes(length, KIB16)),
        ])
    }

    fn multi_info(files: &[(&[&str], u64)]) -> BTreeMap<&'static str, Owned> {
        let total = files.iter().map(|(_, len)| len).sum();
        let list = files.iter().map(|(path, len)| {
            let path = path.iter().map(|c| Owned::bytes(*c)).collect();
            Owned::dict([("length", int(*len)), ("path", Owned::List(path))])
        });
        BTreeMap::from([
            ("name", Owned::bytes("dir")),
            ("piece length", Owned::Int(i64::from(KIB16))),
            ("files", Owned::List(list.collect())),
            ("pieces", hashes(total, KIB16)),
        ])
    }

    fn torrent(info: BTreeMap<&'static str, Owned>) -> Vec<u8> {
        Owned::dict([
            ("announce", Owned::bytes("http://127.0.0.1:6969/announce")),
            ("info", Owned::dict(info)),
        ])
        .encode()
    }

    fn parse_info(info: BTreeMap<&'static str, Owned>) -> Result<Metainfo, MetainfoError> {
        Metainfo::parse(&torrent(info))
    }

    #[test]
    fn single_file_torrent_parses_and_hashes_the_exact_info_bytes() {
        let bytes = torrent(single_info(40_000));
        let meta = Metainfo::parse(&bytes).unwrap();
        let info = meta.info();
        assert_eq!(info.name(), "file.bin");
        assert!(info.is_single_file());
        assert_eq!(info.total_length(), 40_000);
        assert_eq!(info.piece_count(), 3);
        assert_eq!(info.piece_len(0), Some(KIB16));
        assert_eq!(info.piece_len(2), Some(40_000 - 2 * KIB16));
        assert_eq!(info.piece_len(3), None);
        assert_eq!(info.files()[0].path, ["file.bin"]);
        assert_eq!(meta.announce(), Some("http://127.0.0.1:6969/announce"));
        // The info dictionary is the encoded bytes between "4:info" and the root's final "e".
        let at = bytes.windows(6).position(|w| w == b"4:info").unwrap() + 6;
        assert_eq!(meta.info_bytes(), &bytes[at..bytes.len() - 1]);
        assert_eq!(
            meta.info_hash(),
            InfoHash(Sha1::digest(meta.info_bytes()).into())
        );
    }

    #[test]
    fn multi_file_torrent_lays_files_end_to_end() {
        let meta = parse_info(multi_info(&[
            (&["a.txt"], 10_000),
            (&["empty"], 0),
            (&["sub", "b.bin"], 30_000),
        ]))
        .unwrap();
        let info = meta.info();
        assert!(!info.is_single_file());
        let offsets: Vec<u64> = info.files().iter().map(|f| f.offset).collect();
        assert_eq!(offsets, [0, 10_000, 10_000]);
        assert_eq!(info.files()[2].path, ["dir", "sub", "b.bin"]);
        assert_eq!(info.files()[2].relative_path(), Path::new("dir/sub/b.bin"));
        let spans: Vec<FileSpan> = info.piece_spans(0).unwrap().collect();
        assert_eq!(
            spans,
            [
                FileSpan {
                    file: 0,
                    offset: 0,
                    length: 10_000
                },
                FileSpan {
                    file: 2,
                    offset: 0,
                    length: u64::from(KIB16) - 10_000
                },
            ]
        );
        let last: Vec<FileSpan> = info.piece_spans(2).unwrap().collect();
        assert_eq!(
            last,
            [FileSpan {
                file: 2,
                offset: 2 * u64::from(KIB16) - 10_000,
                length: 40_000 - 2 * u64::from(KIB16)
            }]
        );
        assert!(info.spans(39_999, 2).is_none());
    }

    #[test]
    fn block_spans_refuse_blocks_outside_their_piece() {
        let meta = parse_info(single_info(40_000)).unwrap();
        let info = meta.info();
        assert!(info.block_spans(0, 0, KIB16).is_some());
        assert!(info.block_spans(0, 1, KIB16).is_none());
        assert!(info.block_spans(0, 0, 0).is_none());
        assert!(
            info.block_spans(2, 0, KIB16).is_none(),
            "the last piece is short"
        );
        assert!(info.block_spans(2, 0, 40_000 - 2 * KIB16).is_some());
        assert!(info.block_spans(3, 0, 1).is_none());
        assert!(info.block_spans(0, u32::MAX, 2).is_none());
    }

    #[test]
    fn announce_list_tiers_replace_announce() {
        let info = Owned::dict(single_info(1));
        let tiers = Owned::List(vec![
            Owned::List(vec![
                Owned::bytes("http://a/announce"),
                Owned::bytes("http://b/announce"),
            ]),
            Owned::List(vec![]),
            Owned::List(vec![Owned::bytes("udp://c:80")]),
        ]);
        let bytes = Owned::dict([
            ("announce", Owned::bytes("http://x/announce")),
            ("announce-list", tiers),
            ("comment", Owned::Bytes(b"caf\xe9".to_vec())),
            ("created by", Owned::bytes("test")),
            ("creation date", Owned::Int(1_700_000_000)),
            ("info", info),
        ])
        .encode();
        let meta = Metainfo::parse(&bytes).unwrap();
        assert_eq!(
            meta.trackers(),
            [
                vec!["http://a/announce", "http://b/announce"],
                vec!["udp://c:80"]
            ]
        );
        assert_eq!(meta.comment(), Some("caf\u{fffd}"));
        assert_eq!(meta.created_by(), Some("test"));
        assert_eq!(meta.creation_date(), Some(1_700_000_000));
        let plain = Metainfo::parse(&torrent(single_info(1))).unwrap();
        assert_eq!(plain.trackers(), [vec!["http://127.0.0.1:6969/announce"]]);
    }

    #[test]
    fn private_flag_is_0_or_1() {
        let mut info = single_info(1);
        info.insert("private", Owned::Int(1));
        assert!(parse_info(info.clone()).unwrap().info().is_private());
        info.insert("private", Owned::Int(0));
        assert!(!parse_info(info.clone()).unwrap().info().is_private());
        info.insert("private", Owned::Int(2));
        assert_eq!(parse_info(info).unwrap_err(), MetainfoError::BadPrivate(2));
    }

    #[test]
    fn unsafe_paths_are_refused() {
        for path in [
            &[".."][..],
            &["."],
            &[""],
            &["a", "..", "b"],
            &["a/b"],
            &["/etc", "passwd"],
            &["nul\0"],
        ] {
            let err = parse_info(multi_info(&[(path, 1)])).unwrap_err();
            assert!(
                matches!(err, MetainfoError::UnsafeComponent { .. }),
                "{path:?}: {err}"
            );
        }
        let long = "x".repeat(256);
        assert!(parse_info(multi_info(&[(&[long.as_str()], 1)])).is_err());
        assert!(
            parse_info(multi_info(&[(&[], 1)])).is_err(),
            "an empty path"
        );
        let mut bad_name = single_info(1);
        bad_name.insert("name", Owned::bytes(".."));
        assert!(parse_info(bad_name).is_err());
        let mut not_utf8 = single_info(1);
        not_utf8.insert("name", Owned::Bytes(vec![0xff]));
        assert_eq!(
            parse_info(not_utf8).unwrap_err(),
            MetainfoError::NotUtf8("path")
        );
    }

    #[test]
    fn paths_may_not_collide() {
        let twice = multi_info(&[(&["a"], 1), (&["a"], 1)]);
        assert_eq!(
            parse_info(twice).unwrap_err(),
            MetainfoError::PathConflict("dir/a".into())
        );
        let file_and_dir = multi_info(&[(&["a"], 1), (&["a", "b"], 1)]);
        assert_eq!(
            parse_info(file_and_dir).unwrap_err(),
            MetainfoError::PathConflict("dir/a".into())
        );
        assert!(parse_info(multi_info(&[(&["a", "b"], 1), (&["a", "c"], 1)])).is_ok());
    }

    #[test]
    fn piece_length_and_hashes_must_fit_the_data() {
        for bad in [0, -1, 1000, 8 * 1024, 3 * 16 * 1024, 128 * 1024 * 1024] {
            let mut info = single_info(1);
            info.insert("piece length", Owned::Int(bad));
            assert_eq!(
                parse_info(info).unwrap_err(),
                MetainfoError::BadPieceLength(bad)
            );
        }
        let mut short = single_info(40_000);
        short.insert("pieces", Owned::Bytes(vec![0; 40]));
        assert_eq!(
            parse_info(short).unwrap_err(),
            MetainfoError::PieceCount {
                got: 2,
                expected: 3
            }
        );
        let mut ragged = single_info(40_000);
        ragged.insert("pieces", Owned::Bytes(vec![0; 61]));
        assert_eq!(
            parse_info(ragged).unwrap_err(),
            MetainfoError::BadPieces(61)
        );
    }

    #[test]
    fn lengths_and_counts_are_bounded() {
        assert_eq!(
            parse_info(single_info(0)).unwrap_err(),
            MetainfoError::Empty
        );
        let mut negative = single_info(1);
        negative.insert("length", Owned::Int(-1));
        assert_eq!(
            parse_info(negative).unwrap_err(),
            MetainfoError::NegativeLength { file: 0 }
        );
        // Lengths are checked before the hashes, which are left out here.
        let mut huge = single_info(1);
        huge.insert("length", int(MAX_TOTAL_LENGTH + 1));
        assert_eq!(parse_info(huge).unwrap_err(), MetainfoError::TooLong);
        let mut big = multi_info(&[(&["a"], 1)]);
        let file = |name: &str| {
            let path = Owned::List(vec![Owned::bytes(name)]);
            Owned::dict([("length", int(MAX_TOTAL_LENGTH)), ("path", path)])
        };
        big.insert("files", Owned::List(vec![file("a"), file("b")]));
        assert_eq!(parse_info(big).unwrap_err(), MetainfoError::TooLong);
        let many: Vec<Owned> = (0..=MAX_FILES)
            .map(|_| Owned::dict([("length", Owned::Int(0))]))
            .collect();
        let mut info = multi_info(&[]);
        info.insert("files", Owned::List(many));
        assert_eq!(parse_info(info).unwrap_err(), MetainfoError::TooManyFiles);
        let mut too_many_pieces = single_info(1);
        too_many_pieces.insert("length", int(u64::from(MAX_PIECES) * u64::from(KIB16) + 1));
        too_many_pieces.insert("pieces", Owned::Bytes(Vec::new()));
        assert_eq!(
            parse_info(too_many_pieces).unwrap_err(),
            MetainfoError::TooManyPieces
        );
    }

    #[test]
    fn structure_errors_name_the_field() {
        assert!(matches!(
            Metainfo::parse(b"i1e"),
            Err(MetainfoError::WrongType(_))
        ));
        assert_eq!(
            Metainfo::parse(b"de").unwrap_err(),
            MetainfoError::Missing("info")
        );
        let mut both = single_info(1);
        both.insert("files", Owned::List(vec![]));
        assert_eq!(parse_info(both).unwrap_err(), MetainfoError::BothModes);
        let mut v2 = single_info(1);
        v2.remove("length");
        v2.insert("file tree", Owned::dict::<&str>([]));
        assert_eq!(parse_info(v2).unwrap_err(), MetainfoError::V2Only);
        let mut no_pieces = single_info(1);
        no_pieces.remove("pieces");
        assert_eq!(
            parse_info(no_pieces).unwrap_err(),
            MetainfoError::Missing("pieces")
        );
        assert!(matches!(
            Metainfo::parse(b"d4:infod"),
            Err(MetainfoError::Bencode(BencodeError::Truncated))
        ));
    }

    #[test]
    fn info_hash_hex_round_trips() {
        let hash = InfoHash([0xab; 20]);
        assert_eq!(hash.to_string(), "ab".repeat(20));
        assert_eq!(InfoHash::from_hex(&"AB".repeat(20)), Some(hash));
        assert_eq!(InfoHash::from_hex(&"ab".repeat(19)), None);
        assert_eq!(InfoHash::from_hex(&format!("+f{}", "ab".repeat(19))), None);
    }

    #[test]
    fn chosen_piece_lengths_give_1000_to_2000_pieces() {
        assert_eq!(choose_piece_length(0), MIN_PIECE_LENGTH);
        assert_eq!(choose_piece_length(1), MIN_PIECE_LENGTH);
        assert_eq!(choose_piece_length(64 << 20), 64 * 1024);
        assert_eq!(choose_piece_length(1 << 40), MAX_CHOSEN_PIECE_LENGTH);
        for shift in 25..=45u32 {
            for total in [1u64 << shift, (1u64 << shift) + 12345, (3u64 << shift) / 2] {
                let length = choose_piece_length(total);
                assert!(length.is_power_of_two());
                let pieces = total.div_ceil(u64::from(length));
                if length > MIN_PIECE_LENGTH && length < MAX_CHOSEN_PIECE_LENGTH {
                    assert!((1000..=2000).contains(&pieces), "{total}: {pieces}");
                }
            }
        }
    }

    fn write(path: &Path, bytes: &[u8]) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }

    /// Bytes 0, 1, 2, … (mod 251, so pieces differ), `len` of them from `start`.
    fn pattern(start: usize, len: usize) -> Vec<u8> {
        (start..start + len).map(|i| (i % 251) as u8).collect()
    }

    /// Every piece's hash matches the data read through the layout's spans.
    fn assert_hashes_match(meta: &Metainfo, root: &Path) {
        let info = meta.info();
        for index in 0..info.piece_count() {
            let mut data = Vec::new();
            for span in info.piece_spans(index).unwrap() {
                let file = fs::read(root.join(info.files()[span.file].relative_path())).unwrap();
                let start = usize::try_from(span.offset).unwrap();
                data.extend_from_slice(&file[start..start + usize::try_from(span.length).unwrap()]);
            }
            assert_eq!(data.len(), info.piece_len(index).unwrap() as usize);
            let hash: [u8; 20] = Sha1::digest(&data).into();
            assert_eq!(info.piece_hash(index), Some(&hash), "piece {index}");
        }
    }

    #[test]
    fn created_directory_torrent_covers_every_file_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("share");
        write(&root.join("b.bin"), &pattern(0, 50_000));
        write(&root.join("a/z.txt"), &pattern(7, 3));
        write(&root.join(".hidden"), b"h");
        write(&root.join("empty"), b"");
        std::os::unix::fs::symlink("/etc/passwd", root.join("link")).unwrap();
        let mut seen = Vec::new();
        let options = CreateOptions {
            trackers: vec!["http://a/announce".into(), "udp://b:1".into()],
            comment: Some("hello".into()),
            private: true,
            creation_date: Some(1_234_567_890),
            ..CreateOptions::default()
        };
        let bytes = create_with(&root, &options, &mut |done| seen.push(done)).unwrap();
        let meta = Metainfo::parse(&bytes).unwrap();
        let paths: Vec<String> = meta
            .info()
            .files()
            .iter()
            .map(|f| f.path.join("/"))
            .collect();
        assert_eq!(
            paths,
            [
                "share/.hidden",
                "share/a/z.txt",
                "share/b.bin",
                "share/empty"
            ]
        );
        assert_eq!(meta.info().total_length(), 50_004);
        assert_eq!(meta.info().piece_length(), MIN_PIECE_LENGTH);
        assert!(meta.info().is_private());
        assert_eq!(
            meta.trackers(),
            [vec!["http://a/announce"], vec!["udp://b:1"]]
        );
        assert_eq!(meta.announce(), Some("http://a/announce"));
        assert_eq!(meta.comment(), Some("hello"));
        assert_eq!(meta.creation_date(), Some(1_234_567_890));
        assert!(meta.created_by().unwrap().starts_with("appnet "));
        assert_eq!(seen, [16_384, 32_768, 49_152, 50_004]);
        assert_hashes_match(&meta, dir.path());
    }

    #[test]
    fn created_single_file_torrent_has_length_not_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("one.bin");
        write(&file, &pattern(3, 70_000));
        let bytes = create(&file, &[], Some(32 * 1024), &mut |_| {}).unwrap();
        let meta = Metainfo::parse(&bytes).unwrap();
        assert!(meta.info().is_single_file());
        assert_eq!(meta.info().piece_count(), 3);
        assert_eq!(meta.trackers(), Vec::<Vec<String>>::new());
        let root = bencode::decode(meta.info_bytes()).unwrap();
        assert_eq!(root.as_dict().unwrap().int("length"), Some(70_000));
        assert_hashes_match(&meta, dir.path());
    }

    #[test]
    fn create_refuses_what_cannot_be_shared() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("empty/zero"), b"");
        let err = create(&dir.path().join("empty"), &[], None, &mut |_| {}).unwrap_err();
        assert!(matches!(err, CreateError::Empty), "{err}");
        write(&dir.path().join("f"), b"x");
        let err = create(&dir.path().join("f"), &[], Some(1000), &mut |_| {}).unwrap_err();
        assert!(matches!(err, CreateError::BadPieceLength(1000)), "{err}");
        let err = create(&dir.path().join("missing"), &[], None, &mut |_| {}).unwrap_err();
        assert!(matches!(err, CreateError::Io { .. }), "{err}");
    }

    /// Files of random lengths laid out in a torrent's multi-file info.
    fn layout(lengths: &[u64], piece_length: u32) -> Info {
        let files: Vec<(Vec<String>, u64)> = lengths
            .iter()
            .enumerate()
            .map(|(i, len)| (vec![format!("f{i}")], *len))
            .collect();
        let refs: Vec<(Vec<&str>, u64)> = files
            .iter()
            .map(|(p, l)| (p.iter().map(String::as_str).collect(), *l))
            .collect();
        let spec: Vec<(&[&str], u64)> = refs.iter().map(|(p, l)| (p.as_slice(), *l)).collect();
        let mut info = multi_info(&spec);
        let total = lengths.iter().sum();
        info.insert("piece length", Owned::Int(i64::from(piece_length)));
        info.insert("pieces", hashes(total, piece_length));
        parse_info(info).unwrap().info().clone()
    }

    proptest! {
        #[test]
        fn piece_spans_tile_the_files_exactly(
            lengths in proptest::collection::vec(0u64..100_000, 1..12),
            shift in 14u32..18,
        ) {
            prop_assume!(lengths.iter().sum::<u64>() > 0);
            let info = layout(&lengths, 1 << shift);
            let mut cursor = vec![0u64; lengths.len()];
            let mut total = 0;
            for index in 0..info.piece_count() {
                let spans: Vec<FileSpan> = info.piece_spans(index).unwrap().collect();
                let sum: u64 = spans.iter().map(|s| s.length).sum();
                prop_assert_eq!(sum, u64::from(info.piece_len(index).unwrap()));
                for span in spans {
                    prop_assert!(span.length > 0);
                    // Spans run through each file in order.
                    prop_assert_eq!(span.offset, cursor[span.file]);
                    cursor[span.file] += span.length;
                }
                total += sum;
            }
            prop_assert_eq!(cursor, lengths);
            prop_assert_eq!(total, info.total_length());
        }

        #[test]
        fn any_range_maps_to_spans_of_its_length(
            lengths in proptest::collection::vec(0u64..50_000, 1..8),
            offset in 0u64..400_000,
            length in 0u64..100_000,
        ) {
            prop_assume!(lengths.iter().sum::<u64>() > 0);
            let info = layout(&lengths, 1 << 14);
            match info.spans(offset, length) {
                Some(spans) => {
                    let spans: Vec<FileSpan> = spans.collect();
                    prop_assert_eq!(spans.iter().map(|s| s.length).sum::<u64>(), length);
                    for span in spans {
                        let file = &info.files()[span.file];
                        prop_assert!(span.offset + span.length <= file.length);
                    }
                }
                None => prop_assert!(offset + length > info.total_length()),
            }
        }

        #[test]
        fn any_bytes_parse_or_fail_cleanly(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            if let Ok(meta) = Metainfo::parse(&bytes) {
                prop_assert_eq!(meta.info_hash(), InfoHash::of(meta.info_bytes()));
            }
        }

        #[test]
        fn mutated_torrents_parse_or_fail_cleanly(at in 0usize..400, byte in any::<u8>()) {
            let mut bytes = torrent(multi_info(&[(&["a"], 20_000), (&["b", "c"], 30)]));
            let at = at % bytes.len();
            bytes[at] = byte;
            if let Ok(meta) = Metainfo::parse(&bytes) {
                for file in meta.info().files() {
                    for part in &file.path {
                        let dots = part == "." || part == "..";
                        prop_assert!(!part.is_empty() && !dots && !part.contains('/'));
                    }
                }
            }
        }
    }
}
