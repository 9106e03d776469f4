//! A torrent's data on disk: pieces laid end to end over its files (BEP 3: a multi-file
//! torrent is one byte stream cut into pieces, files concatenated in order), read and written
//! a block at a time, and each complete piece checked against its SHA-1 before it counts.
//!
//! On start the files already there are hashed piece by piece, so a download resumes from what
//! is on disk and a seeder proves it has what it offers.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};

use sha1::{Digest, Sha1};

use crate::metainfo::{FileEntry, Info};
use crate::wire::Bitfield;

/// Where a torrent's files are on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement<'a> {
    /// Downloading into a directory: the files go to `dir/<name>` (a single file) or
    /// `dir/<name>/…` (a directory), as the torrent names them.
    Into(&'a Path),
    /// Seeding from the data itself: the file, or the directory whose contents the torrent
    /// lists, wherever it is and whatever it is called.
    At(&'a Path),
}

pub struct Storage {
    info: Info,
    files: Vec<File>,
}

impl Storage {
    /// Opens the torrent's files: created at full length where missing when `writable`, to be
    /// read only otherwise. Every path is plain names (metainfo parsing checks, and so does
    /// this), so nothing is ever opened outside the chosen place.
    pub fn open(info: &Info, placement: Placement<'_>, writable: bool) -> io::Result<Storage> {
        let mut files = Vec::with_capacity(info.files().len());
        for entry in info.files() {
            let path = locate(info, entry, placement)?;
            let file = if writable {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&path)?;
                if file.metadata()?.len() != entry.length {
                    file.set_len(entry.length)?;
                }
                file
            } else {
                File::open(&path)?
            };
            files.push(file);
        }
        Ok(Storage {
            info: info.clone(),
            files,
        })
    }

    pub fn piece_count(&self) -> u32 {
        self.info.piece_count()
    }

    pub fn info(&self) -> &Info {
        &self.info
    }

    /// Reads `length` bytes at `begin` of `piece`.
    pub fn read(&self, piece: u32, begin: u32, length: u32) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; length as usize];
        self.each_span(piece, begin, &mut buf, |file, offset, chunk| {
            file.read_exact_at(chunk, offset)
        })?;
        Ok(buf)
    }

    /// Writes a block at `begin` of `piece`.
    pub fn write(&self, piece: u32, begin: u32, data: &[u8]) -> io::Result<()> {
        let mut data = data.to_vec();
        self.each_span(piece, begin, &mut data, |file, offset, chunk| {
            file.write_all_at(chunk, offset)
        })
    }

    /// Whether the piece on disk matches its hash.
    pub fn verify(&self, piece: u32) -> io::Result<bool> {
        let (Some(length), Some(hash)) = (self.info.piece_len(piece), self.info.piece_hash(piece))
        else {
            return Ok(false);
        };
        let data = self.read(piece, 0, length)?;
        Ok(Sha1::digest(&data).as_slice() == hash)
    }

    /// Hashes every piece on disk; which ones are good. `progress` hears each piece's bytes.
    pub fn check_all(&self, progress: &mut dyn FnMut(u64)) -> io::Result<Bitfield> {
        let mut good = Bitfield::new(self.piece_count());
        for piece in 0..self.piece_count() {
            if self.verify(piece)? {
                good.set(piece);
            }
            progress(u64::from(self.info.piece_len(piece).unwrap_or(0)));
        }
        Ok(good)
    }

    /// Runs `io` over the parts of `buf` that fall in each file, for the block of `piece`
    /// that starts at `begin`.
    fn each_span(
        &self,
        piece: u32,
        begin: u32,
        buf: &mut [u8],
        mut io: impl FnMut(&File, u64, &mut [u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let spans = self
            .info
            .block_spans(piece, begin, buf.len() as u32)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "outside the piece"))?;
        let mut rest = buf;
        for span in spans {
            let (chunk, tail) = rest.split_at_mut(span.length as usize);
            io(&self.files[span.file], span.offset, chunk)?;
            rest = tail;
        }
        Ok(())
    }
}

/// Where one file of the torrent is, for `placement`.
fn locate(info: &Info, entry: &FileEntry, placement: Placement<'_>) -> io::Result<PathBuf> {
    let path = match placement {
        Placement::Into(dir) => dir.join(confined(&entry.relative_path())?),
        Placement::At(data) if info.is_single_file() => data.to_path_buf(),
        Placement::At(data) => {
            // The first component is the torrent's name; the data may be called otherwise.
            let inner: PathBuf = entry.path.iter().skip(1).collect();
            data.join(confined(&inner)?)
        }
    };
    Ok(path)
}

/// `relative` if it is nothing but plain names.
fn confined(relative: &Path) -> io::Result<&Path> {
    let plain = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if !plain || relative.as_os_str().is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a plain relative path", relative.display()),
        ));
    }
    Ok(relative)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metainfo::{Metainfo, create};

    /// A three-file torrent (one file empty): 40,000 bytes in three 16 KiB pieces.
    fn tree() -> (tempfile::TempDir, Vec<u8>, Metainfo) {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let root = dir.path().join("src/album");
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::write(root.join("a/one"), &data[..30_000]).unwrap();
        std::fs::write(root.join("b-empty"), b"").unwrap();
        std::fs::write(root.join("c-two"), &data[30_000..]).unwrap();
        let bytes = create(&root, &[], Some(16 * 1024), &mut |_| {}).unwrap();
        (dir, data, Metainfo::parse(&bytes).unwrap())
    }

    #[test]
    fn pieces_span_files_and_verify_in_both_placements() {
        let (dir, data, meta) = tree();
        let seeding = Storage::open(
            meta.info(),
            Placement::At(&dir.path().join("src/album")),
            false,
        )
        .unwrap();
        assert!(seeding.check_all(&mut |_| {}).unwrap().all());
        // Across the end of the first file (byte 30,000 of the torrent, 13,616 into piece 1).
        assert_eq!(seeding.read(1, 13_612, 8).unwrap(), &data[29_996..30_004]);

        let out = dir.path().join("out");
        let fresh = Storage::open(meta.info(), Placement::Into(&out), true).unwrap();
        assert!(fresh.check_all(&mut |_| {}).unwrap().none());
        for piece in 0..3 {
            let len = meta.info().piece_len(piece).unwrap();
            fresh
                .write(piece, 0, &seeding.read(piece, 0, len).unwrap())
                .unwrap();
        }
        assert!(fresh.check_all(&mut |_| {}).unwrap().all());
        assert_eq!(
            std::fs::read(out.join("album/a/one")).unwrap(),
            &data[..30_000]
        );
        assert_eq!(
            std::fs::read(out.join("album/c-two")).unwrap(),
            &data[30_000..]
        );
        assert!(out.join("album/b-empty").exists());
        assert!(fresh.read(2, 0, 16_384).is_err(), "the last piece is short");
        fresh.write(1, 0, &[0; 4]).unwrap();
        assert!(!fresh.verify(1).unwrap());
    }
}
