//! The static server's file system side: opening a path under the root without following a
//! symbolic link out of it (appnet-core's `open_beneath`), listing a directory, and reading
//! requests into one buffer per thread.

use std::cell::RefCell;
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use appnet_core::files::open_beneath;
use tokio::io::Interest;
use tokio::net::TcpStream;

use crate::site::listing::Entry;

/// An opened file or directory under the root.
pub struct Opened {
    /// Its path (under the root, as asked: the kernel has checked it stays there).
    pub path: PathBuf,
    pub file: File,
    pub metadata: Metadata,
}

/// A directory served as a root, held open so that every lookup is resolved beneath it.
#[derive(Debug)]
pub struct Root {
    path: PathBuf,
    dir: File,
}

impl Root {
    pub fn open(path: &Path) -> io::Result<Root> {
        let path = path.canonicalize()?;
        let dir = File::open(&path)?;
        if !dir.metadata()?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "not a directory",
            ));
        }
        Ok(Root { path, dir })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `relative` beneath the root. The kernel resolves it with `RESOLVE_BENEATH`
    /// (`openat2(2)`): a `..` or a symbolic link that would leave the root fails, whatever the
    /// path looks like, in one system call and without a window for a swapped link. Relative
    /// links that stay inside work; absolute links are refused even when they point inside.
    pub fn open_beneath(&self, relative: &Path) -> io::Result<Opened> {
        let relative = if relative.as_os_str().is_empty() {
            Path::new(".")
        } else {
            relative
        };
        let fd = open_beneath(
            &self.dir,
            relative.as_os_str().as_bytes(),
            libc::O_RDONLY,
            0,
        )
        // EXDEV: the path tried to leave the root. Say "not found", as for any absent file.
        .map_err(|err| match err.raw_os_error() {
            Some(libc::EXDEV) => io::Error::new(io::ErrorKind::NotFound, "outside the root"),
            _ => err,
        })?;
        let file = File::from(fd);
        let metadata = file.metadata()?;
        Ok(Opened {
            path: self.path.join(relative),
            file,
            metadata,
        })
    }
}

/// The entries of a directory for a listing; hidden files (dot files) are left out, as servers
/// do by default, and so are entries that cannot be read.
pub fn list_directory(path: &Path) -> io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let Ok(entry) = entry else { continue };
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        entries.push(Entry {
            name,
            is_dir: metadata.is_dir(),
            size: metadata.len(),
            modified: metadata.modified().ok(),
        });
    }
    Ok(entries)
}

/// Writes all of `bytes` with `MSG_MORE`: the kernel holds them back until the next write or
/// `sendfile` fills the segment.
pub async fn send_more(stream: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        let sent = stream.try_io(Interest::WRITABLE, || {
            // SAFETY: the pointer and length describe a live slice; the descriptor is open.
            let sent = unsafe {
                libc::send(
                    stream.as_raw_fd(),
                    bytes.as_ptr().cast(),
                    bytes.len(),
                    libc::MSG_MORE | libc::MSG_NOSIGNAL,
                )
            };
            if sent < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(sent as usize)
            }
        });
        match sent {
            Ok(sent) => bytes = &bytes[sent.min(bytes.len())..],
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

thread_local! {
    /// What every plain-TCP connection on this thread reads into; the codec copies what it
    /// keeps, so no connection holds a read buffer of its own.
    static RECEIVE_BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; RECEIVE_CHUNK]);
}

/// The most [`receive`] reads at a time: most requests fit in one read, a larger head takes a
/// few more.
pub const RECEIVE_CHUNK: usize = 4 * 1024;

/// Waits until `stream` is readable, reads up to `max` bytes and hands them to `sink` (an empty
/// slice at the end of the stream); returns how many.
///
/// A read that fills less than asked has drained the socket, so its readiness is cleared at
/// once, as nginx does with edge-triggered epoll: the next wait sleeps until new bytes come
/// instead of first spending a system call to hear `EAGAIN`. Bytes that arrive meanwhile raise
/// a new edge, which the cleared readiness does not hide.
pub async fn receive(
    stream: &TcpStream,
    max: usize,
    mut sink: impl FnMut(&[u8]),
) -> io::Result<usize> {
    loop {
        stream.readable().await?;
        let mut received = None;
        let outcome = stream.try_io(Interest::READABLE, || {
            RECEIVE_BUFFER.with_borrow_mut(|buf| {
                let want = max.clamp(1, buf.len());
                // SAFETY: the pointer and length describe a live buffer; the descriptor is open.
                let n = unsafe { libc::recv(stream.as_raw_fd(), buf.as_mut_ptr().cast(), want, 0) };
                let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
                sink(&buf[..n]);
                received = Some(n);
                if n > 0 && n < want {
                    Err(io::ErrorKind::WouldBlock.into())
                } else {
                    Ok(())
                }
            })
        });
        match (received, outcome) {
            (Some(n), _) => return Ok(n),
            (None, Err(err)) if err.kind() == io::ErrorKind::WouldBlock => continue,
            (None, Err(err)) => return Err(err),
            (None, Ok(())) => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use appnet_core::files::send_file;

    use super::*;

    #[test]
    fn a_symlink_out_of_the_root_is_refused() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "no").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("public"), "yes").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root.path().join("link"))
            .unwrap();
        std::os::unix::fs::symlink("public", root.path().join("inside")).unwrap();
        std::os::unix::fs::symlink(root.path().join("public"), root.path().join("absolute"))
            .unwrap();
        let root = Root::open(root.path()).unwrap();
        assert!(root.open_beneath(Path::new("public")).is_ok());
        assert!(
            root.open_beneath(Path::new("inside")).is_ok(),
            "links inside the root are fine"
        );
        assert!(
            root.open_beneath(Path::new("")).unwrap().metadata.is_dir(),
            "the root itself"
        );
        // RESOLVE_BENEATH refuses absolute links even when they land inside: no way to tell.
        for escape in ["link", "absolute", "../secret", "/etc/passwd"] {
            let refused = root.open_beneath(Path::new(escape)).err().unwrap();
            assert_eq!(refused.kind(), io::ErrorKind::NotFound, "{escape}");
        }
    }

    #[test]
    fn listings_leave_out_dot_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".hidden"), "").unwrap();
        std::fs::write(dir.path().join("shown"), "abc").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let mut names: Vec<(String, bool, u64)> = list_directory(dir.path())
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.is_dir, e.size))
            .collect();
        names.sort();
        assert_eq!(names[0], ("shown".to_owned(), false, 3));
        assert_eq!(names[1].0, "sub");
        assert_eq!(names.len(), 2);
    }

    #[tokio::test]
    async fn send_file_moves_a_slice_of_a_file() {
        use tokio::io::AsyncReadExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            stream.read_to_end(&mut got).await.unwrap();
            got
        });
        let stream = TcpStream::connect(addr).await.unwrap();
        let file = File::open(&path).unwrap();
        send_file(&stream, &file, 1000, 150_000).await.unwrap();
        drop(stream);
        assert_eq!(reader.await.unwrap(), data[1000..151_000]);
    }
}
