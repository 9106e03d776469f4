//! What several targets share: cutting a byte stream into reads the way a socket might, and a
//! small Maildir to log in to.
#![allow(dead_code)]

use std::path::PathBuf;

use appnet_mail::maildir::Maildir;

/// `stream` cut into reads of 1 to 64 bytes, the sizes drawn by xorshift from `seed`: the same
/// cuts for the same input, so a crash reproduces.
pub fn reads(seed: u8, mut stream: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut state = u32::from(seed) | 1;
    std::iter::from_fn(move || {
        if stream.is_empty() {
            return None;
        }
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let len = usize::try_from(state % 64).unwrap_or(0) + 1;
        let (piece, rest) = stream.split_at(len.min(stream.len()));
        stream = rest;
        Some(piece)
    })
}

/// A Maildir named `name` in shared memory (or the temporary directory), emptied and filled
/// with `messages` afresh.
pub fn fresh_maildir(name: &str, messages: &[&[u8]]) -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("appnet-fuzz-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let maildir = Maildir::create(&dir).expect("a Maildir");
    for message in messages {
        maildir.deliver(message).expect("a message");
    }
    dir
}
