//! The .torrent parser on any bytes: never a panic; whatever it accepts has its info-hash over
//! its info bytes, only safe path components, and pieces whose file spans add up to the
//! piece lengths and the torrent's total length.
#![no_main]

use appnet_torrent::metainfo::{Info, InfoHash, Metainfo};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(meta) = Metainfo::parse(input) else {
        return;
    };
    assert_eq!(meta.info_hash(), InfoHash::of(meta.info_bytes()));
    let info = meta.info();
    for file in info.files() {
        for part in &file.path {
            assert!(!part.is_empty() && part != "." && part != ".." && !part.contains('/'));
        }
    }
    check_layout(info);
});

fn check_layout(info: &Info) {
    let mut total = 0u64;
    for index in 0..info.piece_count() {
        let length = u64::from(info.piece_len(index).expect("every piece has a length"));
        let spans = info.piece_spans(index).expect("every piece has spans");
        let mut covered = 0;
        for span in spans {
            assert!(span.offset + span.length <= info.files()[span.file].length);
            covered += span.length;
        }
        assert_eq!(covered, length);
        total += length;
    }
    assert_eq!(total, info.total_length());
    assert!(info.piece_len(info.piece_count()).is_none());
}
