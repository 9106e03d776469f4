//! File access every server shares: opening a path confined beneath a directory, and sending
//! a file's bytes to a socket without copying them through user space.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use tokio::io::Interest;
use tokio::net::TcpStream;

/// `struct open_how` of `openat2(2)`, as the kernel lays it out (libc's is non-exhaustive).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// Opens `relative` beneath the directory `dir` with `openat2(2)` and `RESOLVE_BENEATH`: a `..`
/// or a symbolic link that would leave `dir` fails with EXDEV, whatever the path looks like,
/// in one system call and without a window for a swapped link. Relative links that stay
/// inside work; absolute links are refused even when they point inside. An empty path is
/// `dir` itself. `mode` applies with `O_CREAT`. EAGAIN (a rename raced the lookup) is retried.
pub fn open_beneath(dir: impl AsFd, relative: &[u8], flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let relative = if relative.is_empty() { b"." } else { relative };
    let name = CString::new(relative)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
    // openat2 refuses O_PATH with anything but O_CLOEXEC, O_DIRECTORY and O_NOFOLLOW.
    let no_tty = if flags & libc::O_PATH == 0 {
        libc::O_NOCTTY
    } else {
        0
    };
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC | no_tty) as u64,
        mode: if flags & libc::O_CREAT != 0 {
            u64::from(mode)
        } else {
            0
        },
        resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS,
    };
    for _ in 0..16 {
        // SAFETY: `name` is a NUL-terminated string and `how` a valid open_how, both alive
        // for the call; the returned descriptor, if any, is ours to own.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_fd().as_raw_fd(),
                name.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if fd >= 0 {
            // SAFETY: openat2 returned a fresh descriptor that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EAGAIN) {
            return Err(err);
        }
    }
    Err(io::Error::from(io::ErrorKind::ResourceBusy))
}

/// Sends `len` bytes of `file` from `offset` to `stream` with `sendfile(2)`, waiting for the
/// socket whenever its buffer is full.
pub async fn send_file(stream: &TcpStream, file: &File, offset: u64, len: u64) -> io::Result<()> {
    let mut offset = i64::try_from(offset).map_err(io::Error::other)?;
    let mut left = len;
    while left > 0 {
        stream.writable().await?;
        let chunk = usize::try_from(left.min(1 << 30)).unwrap_or(1 << 30);
        let mut sent = None;
        // A short send means the socket buffer is full: clear the readiness at once instead
        // of asking again only to hear `EAGAIN`.
        let outcome = stream.try_io(Interest::WRITABLE, || {
            // SAFETY: both descriptors are open for the duration of the call, and `offset` is
            // a valid pointer the kernel updates.
            let n =
                unsafe { libc::sendfile(stream.as_raw_fd(), file.as_raw_fd(), &mut offset, chunk) };
            let n = u64::try_from(n).map_err(|_| io::Error::last_os_error())?;
            sent = Some(n);
            if n > 0 && n < chunk as u64 {
                Err(io::ErrorKind::WouldBlock.into())
            } else {
                Ok(())
            }
        });
        match (sent, outcome) {
            (Some(0), _) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file is shorter than it was",
                ));
            }
            (Some(n), _) => left -= n.min(left),
            (None, Err(err)) if err.kind() == io::ErrorKind::WouldBlock => {}
            (None, Err(err)) => return Err(err),
            (None, Ok(())) => {}
        }
    }
    Ok(())
}
