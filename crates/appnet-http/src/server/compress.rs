//! On-the-fly compression of text files for clients that ask (RFC 9110 §8.4 Content-Encoding,
//! §12.5.3 Accept-Encoding, §12.5.5 Vary). Brotli or gzip, whichever the client prefers; only
//! whole (non-range) 200 responses of compressible types, and only files small enough to hold.

use std::io::{self, Write};

use crate::proto::ResponseHead;
use crate::semantics::{Segment, choose_encoding, is_compressible};

use super::files::Opened;

/// Larger files go out as they are: compressing them in memory per request costs too much.
const MAX_COMPRESSED_FILE: u64 = 8 * 1024 * 1024;
/// Smaller ones are not worth a coding: the headers would eat the saving.
const MIN_COMPRESSED_FILE: u64 = 256;
/// Codings offered, preferred first.
const OFFERED: &[&str] = &["br", "gzip"];

/// Replaces a whole-file body by its compressed form when the client accepts a coding and the
/// file is worth it. The ETag becomes weak: the bytes differ from the identity representation's.
pub fn maybe_compress(
    accept_encoding: Option<&str>,
    head: &mut ResponseHead,
    body: &mut Vec<Segment>,
    opened: &Opened,
) -> io::Result<()> {
    let len = opened.metadata.len();
    let whole_file = matches!(body.as_slice(), [Segment::File { start: 0, len: l }] if *l == len);
    let compressible = head
        .headers
        .get("content-type")
        .is_some_and(is_compressible);
    if head.status != 200
        || !whole_file
        || !compressible
        || !(MIN_COMPRESSED_FILE..=MAX_COMPRESSED_FILE).contains(&len)
    {
        return Ok(());
    }
    head.headers.append("Vary", "Accept-Encoding");
    let Some(coding) = choose_encoding(accept_encoding, OFFERED) else {
        return Ok(());
    };
    let mut plain = vec![0u8; usize::try_from(len).map_err(io::Error::other)?];
    std::os::unix::fs::FileExt::read_exact_at(&opened.file, &mut plain, 0)?;
    let compressed = encode(coding, &plain)?;
    head.headers
        .insert("Content-Length", compressed.len().to_string());
    head.headers.append("Content-Encoding", coding);
    if let Some(etag) = head
        .headers
        .get("etag")
        .filter(|tag| !tag.starts_with("W/"))
        .map(|tag| format!("W/{tag}"))
    {
        head.headers.insert("ETag", etag);
    }
    *body = vec![Segment::Bytes(compressed)];
    Ok(())
}

fn encode(coding: &str, plain: &[u8]) -> io::Result<Vec<u8>> {
    match coding {
        "br" => {
            let mut out = Vec::with_capacity(plain.len() / 3);
            // Quality 5: most of brotli's gain at a fraction of the top levels' time.
            let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
            writer.write_all(plain)?;
            drop(writer);
            Ok(out)
        }
        _ => {
            let mut writer = flate2::write::GzEncoder::new(
                Vec::with_capacity(plain.len() / 3),
                flate2::Compression::new(5),
            );
            writer.write_all(plain)?;
            writer.finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn both_codings_round_trip() {
        let text = "hello, appnet! ".repeat(200);
        let gz = encode("gzip", text.as_bytes()).unwrap();
        let mut back = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, text);
        let br = encode("br", text.as_bytes()).unwrap();
        let mut back = String::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, text);
        assert!(br.len() < text.len() / 10 && gz.len() < text.len() / 10);
    }
}
