//! Media types for the static server (RFC 9110 §8.3): the `Content-Type` for a file by its
//! extension, and whether a type is worth compressing.
//!
//! Types are the IANA-registered ones where one exists (`text/javascript` per RFC 9239,
//! `font/woff2` per RFC 8081, `application/dash+xml` for MPEG-DASH manifests), otherwise what
//! nginx's `mime.types` sends. Textual types carry `charset=utf-8`, since that is what files in
//! a repository are in practice and browsers otherwise guess. Unknown extensions get
//! `application/octet-stream` (§8.3: the recipient may then treat it as bytes, and browsers
//! will not sniff it into something executable).

/// For files whose extension is not in the table.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// Longer than any extension in the table; longer ones are not looked up.
const MAX_EXTENSION_LEN: usize = 16;

/// The `Content-Type` for `path`, decided by the extension of its last segment
/// (case-insensitively). A dot file such as `.profile` has no extension.
pub fn content_type_for_path(path: &str) -> &'static str {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return DEFAULT_CONTENT_TYPE;
    };
    if stem.is_empty() {
        return DEFAULT_CONTENT_TYPE;
    }
    content_type_for_extension(ext)
}

/// The `Content-Type` for a bare extension such as `"html"` (no dot, any case).
pub fn content_type_for_extension(ext: &str) -> &'static str {
    if ext.is_empty() || ext.len() > MAX_EXTENSION_LEN || !ext.is_ascii() {
        return DEFAULT_CONTENT_TYPE;
    }
    let mut buf = [0u8; MAX_EXTENSION_LEN];
    let Some(lower) = buf.get_mut(..ext.len()) else {
        return DEFAULT_CONTENT_TYPE;
    };
    lower.copy_from_slice(ext.as_bytes());
    lower.make_ascii_lowercase();
    lookup(lower).unwrap_or(DEFAULT_CONTENT_TYPE)
}

fn lookup(ext: &[u8]) -> Option<&'static str> {
    Some(match ext {
        // Text and the web platform.
        b"html" | b"htm" => "text/html; charset=utf-8",
        b"xhtml" => "application/xhtml+xml",
        b"css" => "text/css; charset=utf-8",
        b"js" | b"mjs" | b"cjs" => "text/javascript; charset=utf-8",
        b"json" | b"map" => "application/json",
        b"jsonld" => "application/ld+json",
        b"webmanifest" => "application/manifest+json",
        b"xml" => "application/xml",
        b"rss" => "application/rss+xml",
        b"atom" => "application/atom+xml",
        b"txt" | b"text" | b"log" => "text/plain; charset=utf-8",
        b"md" | b"markdown" => "text/markdown; charset=utf-8",
        b"csv" => "text/csv; charset=utf-8",
        b"tsv" => "text/tab-separated-values; charset=utf-8",
        b"ics" => "text/calendar; charset=utf-8",
        b"vtt" => "text/vtt; charset=utf-8",
        b"wasm" => "application/wasm",
        // Images.
        b"svg" | b"svgz" => "image/svg+xml",
        b"png" => "image/png",
        b"jpg" | b"jpeg" => "image/jpeg",
        b"gif" => "image/gif",
        b"webp" => "image/webp",
        b"avif" => "image/avif",
        b"ico" => "image/x-icon",
        b"bmp" => "image/bmp",
        b"tif" | b"tiff" => "image/tiff",
        // Fonts.
        b"woff" => "font/woff",
        b"woff2" => "font/woff2",
        b"ttf" => "font/ttf",
        b"otf" => "font/otf",
        // Documents and archives.
        b"pdf" => "application/pdf",
        b"zip" => "application/zip",
        b"gz" | b"tgz" => "application/gzip",
        b"tar" => "application/x-tar",
        b"bz2" => "application/x-bzip2",
        b"xz" => "application/x-xz",
        b"zst" => "application/zstd",
        b"7z" => "application/x-7z-compressed",
        b"torrent" => "application/x-bittorrent",
        // Streaming media: MPEG-DASH and HLS.
        b"mpd" => "application/dash+xml",
        b"m3u8" => "application/vnd.apple.mpegurl",
        b"ts" => "video/mp2t",
        b"m4s" => "video/iso.segment",
        b"mp4" | b"m4v" => "video/mp4",
        b"m4a" => "audio/mp4",
        b"webm" => "video/webm",
        b"mkv" => "video/x-matroska",
        b"ogv" => "video/ogg",
        b"mov" => "video/quicktime",
        b"mp3" => "audio/mpeg",
        b"ogg" | b"oga" | b"opus" => "audio/ogg",
        b"wav" => "audio/wav",
        b"flac" => "audio/flac",
        b"aac" => "audio/aac",
        _ => return None,
    })
}

/// Whether a response of this `Content-Type` is worth compressing: text and text-like
/// structured formats, yes; images, audio, video, fonts in compressed containers and archives,
/// no (they are compressed already, and gzip would only cost CPU).
pub fn is_compressible(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim_matches([' ', '\t']);
    let Some((top, sub)) = essence.split_once('/') else {
        return false;
    };
    let top = top.to_ascii_lowercase();
    let sub = sub.to_ascii_lowercase();
    if top == "text" {
        return true;
    }
    // RFC 6838 §4.2.8 structured syntax suffixes: +xml and +json are text underneath.
    if sub.ends_with("+xml") || sub.ends_with("+json") {
        return true;
    }
    matches!(
        (top.as_str(), sub.as_str()),
        ("application", "json")
            | ("application", "javascript")
            | ("application", "xml")
            | ("application", "wasm")
            | ("application", "vnd.apple.mpegurl")
            | ("application", "x-mpegurl")
            | ("font", "ttf")
            | ("font", "otf")
            | ("image", "x-icon")
            | ("image", "bmp")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases = [
            ("index.html", "text/html; charset=utf-8"),
            ("a/b/style.CSS", "text/css; charset=utf-8"),
            ("app.mjs", "text/javascript; charset=utf-8"),
            ("data.json", "application/json"),
            ("README.md", "text/markdown; charset=utf-8"),
            ("logo.svg", "image/svg+xml"),
            ("photo.JPEG", "image/jpeg"),
            ("font.woff2", "font/woff2"),
            ("module.wasm", "application/wasm"),
            ("manifest.mpd", "application/dash+xml"),
            ("seg-1.m4s", "video/iso.segment"),
            ("index.m3u8", "application/vnd.apple.mpegurl"),
            ("chunk.ts", "video/mp2t"),
            ("ubuntu.iso.torrent", "application/x-bittorrent"),
            ("archive.tar.gz", "application/gzip"),
            ("song.mp3", "audio/mpeg"),
        ];
        for (path, expected) in cases {
            assert_eq!(content_type_for_path(path), expected, "{path}");
        }
    }

    #[test]
    fn defaults() {
        for path in [
            "",
            "Makefile",
            ".profile",
            "dir.d/file",
            "x.",
            "x.unknownext",
            "x.aaaaaaaaaaaaaaaaaaaaaaaaa",
            "x.h\u{e9}",
        ] {
            assert_eq!(content_type_for_path(path), DEFAULT_CONTENT_TYPE, "{path}");
        }
    }

    #[test]
    fn compressible() {
        for t in [
            "text/html; charset=utf-8",
            "TEXT/CSS",
            "application/json",
            "image/svg+xml",
            "application/dash+xml",
            "application/ld+json",
            "application/vnd.apple.mpegurl",
            "application/wasm",
        ] {
            assert!(is_compressible(t), "{t}");
        }
        for t in [
            "image/png",
            "video/mp4",
            "application/gzip",
            "font/woff2",
            "application/octet-stream",
            "garbage",
            "",
        ] {
            assert!(!is_compressible(t), "{t}");
        }
    }

    #[test]
    fn every_table_entry_has_a_consistent_charset() {
        // Text types carry charset=utf-8, and only they do.
        for ext in [
            "html", "css", "js", "txt", "md", "csv", "json", "svg", "png",
        ] {
            let t = content_type_for_extension(ext);
            assert_eq!(t.starts_with("text/"), t.ends_with("charset=utf-8"), "{t}");
        }
    }
}
