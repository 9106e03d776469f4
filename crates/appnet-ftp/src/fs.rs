//! A user's file tree, confined by the kernel: every path is opened with `openat2(2)` and
//! `RESOLVE_BENEATH` from a descriptor of the root ([`open_beneath`]), so neither `..`, an absolute symlink nor
//! a symlink climbing out can reach anything outside it, even if the tree changes between a
//! check and a use (RFC 2577 §4's concern about a user escaping their area).
//!
//! Uploads that replace a file are written under a hidden temporary name next to it and
//! renamed over the final name only once complete and on disk, so a dropped upload never
//! leaves a half file under the real name, and an acknowledged one survives a crash.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{self, Seek};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use appnet_core::files::open_beneath;

use crate::proto::path::VirtualPath;

/// Names of uploads in progress start with this; listings never show them.
pub const UPLOAD_PREFIX: &[u8] = b".appnet-upload-";
/// A listing stops here: it bounds the memory one LIST can take.
pub const MAX_LISTING_ENTRIES: usize = 200_000;

/// What a listing or SIZE/MDTM needs to know about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    pub size: u64,
    /// Seconds since the Unix epoch.
    pub modified: i64,
    pub mode: u32,
    pub links: u64,
    /// Device and inode: MLSD's `unique` fact.
    pub device: u64,
    pub inode: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    /// Devices, sockets, pipes: listed, never transferred.
    Other,
}

/// One name in a directory, with what it names (a symlink's target, if inside the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: Vec<u8>,
    pub meta: Meta,
}

/// How an upload treats an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadMode {
    /// STOR: a new file replaces the old one once complete.
    Replace,
    /// APPE: bytes go on the end (the file is made if missing).
    Append,
    /// REST n then STOR: the file is kept up to byte n and written from there.
    Resume(u64),
}

/// An upload in progress: the file to write, and how to make it final. Dropped without
/// [`Upload::commit`] (the transfer failed, was aborted, or its task was cancelled), a
/// replacing upload's temporary file is removed; an in-place upload keeps what arrived, for
/// the client to resume.
#[derive(Debug)]
pub struct Upload {
    pub file: File,
    /// `None` once committed.
    finish: Option<Finish>,
}

#[derive(Debug)]
enum Finish {
    /// Rename the temporary name in this directory to the final name.
    Rename {
        dir: OwnedFd,
        temp: CString,
        name: CString,
    },
    /// Written in place (APPE, REST+STOR): flush and done.
    InPlace,
}

impl Upload {
    /// Makes the upload final and durable: the data flushed to disk, and (for a replacing
    /// upload) renamed over the final name with the directory flushed too.
    pub fn commit(mut self) -> io::Result<()> {
        self.file.sync_data()?;
        match self.finish.take() {
            Some(Finish::Rename { dir, temp, name }) => {
                renameat(&dir, &temp, &dir, &name)?;
                File::from(dir).sync_all()
            }
            Some(Finish::InPlace) | None => Ok(()),
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(Finish::Rename { dir, temp, .. }) = &self.finish {
            // SAFETY: a valid directory descriptor and a NUL-terminated name.
            unsafe { libc::unlinkat(dir.as_raw_fd(), temp.as_ptr(), 0) };
        }
    }
}

/// The root of one user's tree.
#[derive(Debug)]
pub struct Root {
    dir: OwnedFd,
}

impl Root {
    pub fn open(path: &Path) -> io::Result<Root> {
        let path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: a NUL-terminated path; the descriptor is owned from here on.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and nothing else owns it.
        Ok(Root {
            dir: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// What `path` names, following symlinks that stay inside the root.
    pub fn stat(&self, path: &VirtualPath) -> io::Result<Meta> {
        let fd = self.beneath(&path.relative(), libc::O_PATH, 0)?;
        fstat(&fd)
    }

    /// Opens a regular file for reading.
    pub fn open_read(&self, path: &VirtualPath) -> io::Result<(File, Meta)> {
        let fd = self.beneath(&path.relative(), libc::O_RDONLY, 0)?;
        let meta = fstat(&fd)?;
        match meta.kind {
            Kind::File => Ok((File::from(fd), meta)),
            Kind::Dir => Err(io::Error::from(io::ErrorKind::IsADirectory)),
            Kind::Other => Err(io::Error::from(io::ErrorKind::PermissionDenied)),
        }
    }

    /// The entries of a directory, sorted by name, without `.`, `..`, uploads in progress
    /// and symlinks that lead out of the root or nowhere.
    pub fn list(&self, path: &VirtualPath) -> io::Result<Vec<Entry>> {
        let relative = path.relative();
        let dir = self.beneath(&relative, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
        let mut entries = Vec::new();
        for name in read_names(&dir)? {
            if name.starts_with(UPLOAD_PREFIX) {
                continue;
            }
            let Some(meta) = self.entry_meta(&dir, &relative, &name) else {
                continue;
            };
            entries.push(Entry { name, meta });
            if entries.len() >= MAX_LISTING_ENTRIES {
                break;
            }
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    fn entry_meta(&self, dir: &OwnedFd, dir_path: &[u8], name: &[u8]) -> Option<Meta> {
        let c_name = CString::new(name).ok()?;
        let meta = fstatat(dir, &c_name).ok()?;
        if meta.mode & libc::S_IFMT != libc::S_IFLNK {
            return Some(meta);
        }
        let mut full = dir_path.to_vec();
        if !full.is_empty() {
            full.push(b'/');
        }
        full.extend_from_slice(name);
        let target = self.beneath(&full, libc::O_PATH, 0).ok()?;
        fstat(&target).ok()
    }

    /// Starts an upload to `path` (its directory must exist).
    pub fn begin_upload(&self, path: &VirtualPath, mode: UploadMode) -> io::Result<Upload> {
        let (dir, name) = self.parent_of(path)?;
        let relative = path.relative();
        match mode {
            UploadMode::Replace => {
                if let Ok(meta) = self.stat(path)
                    && meta.kind != Kind::File
                {
                    return Err(io::Error::from(io::ErrorKind::IsADirectory));
                }
                let temp = temporary_name();
                let fd = openat_beneath(
                    &dir,
                    temp.as_bytes(),
                    libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
                    0o644,
                )?;
                Ok(Upload {
                    file: File::from(fd),
                    finish: Some(Finish::Rename { dir, temp, name }),
                })
            }
            UploadMode::Append => {
                let fd = self.beneath(
                    &relative,
                    libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND,
                    0o644,
                )?;
                regular(&fd)?;
                Ok(Upload {
                    file: File::from(fd),
                    finish: Some(Finish::InPlace),
                })
            }
            UploadMode::Resume(offset) => {
                let fd = self.beneath(&relative, libc::O_WRONLY | libc::O_CREAT, 0o644)?;
                let meta = regular(&fd)?;
                if offset > meta.size {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "restart offset past the end of the file",
                    ));
                }
                let mut file = File::from(fd);
                file.set_len(offset)?;
                file.seek(io::SeekFrom::Start(offset))?;
                Ok(Upload {
                    file,
                    finish: Some(Finish::InPlace),
                })
            }
        }
    }

    /// A name in `dir` that nothing has yet, from `base` (STOU).
    pub fn unique_name(&self, dir: &VirtualPath, base: &[u8]) -> io::Result<VirtualPath> {
        for attempt in 0..1000u32 {
            let mut name = base.to_vec();
            if attempt > 0 {
                name.extend_from_slice(format!(".{attempt}").as_bytes());
            }
            let candidate = dir
                .join(&name)
                .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
            match self.stat(&candidate) {
                Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(candidate),
                Err(err) => return Err(err),
                Ok(_) => {}
            }
        }
        Err(io::Error::from(io::ErrorKind::AlreadyExists))
    }

    pub fn make_dir(&self, path: &VirtualPath) -> io::Result<()> {
        let (dir, name) = self.parent_of(path)?;
        // SAFETY: a valid directory descriptor and a NUL-terminated name.
        check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755) })
    }

    pub fn remove_dir(&self, path: &VirtualPath) -> io::Result<()> {
        let (dir, name) = self.parent_of(path)?;
        // SAFETY: as in make_dir.
        check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), libc::AT_REMOVEDIR) })
    }

    /// Removes a file (or a symlink itself, never its target).
    pub fn remove_file(&self, path: &VirtualPath) -> io::Result<()> {
        let (dir, name) = self.parent_of(path)?;
        if fstatat(&dir, &name)?.kind == Kind::Dir {
            return Err(io::Error::from(io::ErrorKind::IsADirectory));
        }
        // SAFETY: as in make_dir.
        check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) })
    }

    /// SITE CHMOD: the permission bits of a file or directory (through a descriptor, so a
    /// symlink's target is changed only if it is inside the root).
    pub fn chmod(&self, path: &VirtualPath, mode: u32) -> io::Result<()> {
        let fd = self.beneath(&path.relative(), libc::O_RDONLY, 0)?;
        // SAFETY: a valid descriptor.
        check(unsafe { libc::fchmod(fd.as_raw_fd(), mode) })
    }

    pub fn rename(&self, from: &VirtualPath, to: &VirtualPath) -> io::Result<()> {
        let (from_dir, from_name) = self.parent_of(from)?;
        let (to_dir, to_name) = self.parent_of(to)?;
        renameat(&from_dir, &from_name, &to_dir, &to_name)
    }

    /// The directory holding `path`, opened beneath the root, and the last name. The root
    /// itself has no parent to change it in.
    fn parent_of(&self, path: &VirtualPath) -> io::Result<(OwnedFd, CString)> {
        let Some(name) = path.segments().last() else {
            return Err(io::Error::from(io::ErrorKind::PermissionDenied));
        };
        if name == b"." || name == b".." {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let name =
            CString::new(name.clone()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let dir = self.beneath(
            &path.parent().relative(),
            libc::O_RDONLY | libc::O_DIRECTORY,
            0,
        )?;
        Ok((dir, name))
    }

    fn beneath(&self, relative: &[u8], flags: i32, mode: u32) -> io::Result<OwnedFd> {
        openat_beneath(&self.dir, relative, flags, mode)
    }
}

/// [`open_beneath`], with a path that would leave the root (EXDEV) or loops reported as
/// permission denied.
fn openat_beneath(dir: &OwnedFd, path: &[u8], flags: i32, mode: u32) -> io::Result<OwnedFd> {
    open_beneath(dir, path, flags, mode).map_err(|err| match err.raw_os_error() {
        Some(libc::EXDEV) | Some(libc::ELOOP) => io::Error::from(io::ErrorKind::PermissionDenied),
        _ => err,
    })
}

/// The names in an open directory, read through a duplicate of its descriptor.
fn read_names(dir: &OwnedFd) -> io::Result<Vec<Vec<u8>>> {
    let copy = dir.try_clone()?;
    // SAFETY: fdopendir takes ownership of the duplicate on success.
    let stream = unsafe { libc::fdopendir(copy.as_raw_fd()) };
    if stream.is_null() {
        return Err(io::Error::last_os_error());
    }
    std::mem::forget(copy);
    let mut names = Vec::new();
    loop {
        // SAFETY: `stream` is a valid DIR*; the entry is read before the next call.
        let entry = unsafe { libc::readdir64(stream) };
        if entry.is_null() {
            break;
        }
        // SAFETY: d_name is NUL-terminated within the entry.
        let name = unsafe { CStr::from_ptr((*entry).d_name.as_ptr()) }.to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
        if names.len() > MAX_LISTING_ENTRIES {
            break;
        }
    }
    // SAFETY: closes the stream and its descriptor, once.
    unsafe { libc::closedir(stream) };
    Ok(names)
}

fn temporary_name() -> CString {
    let mut name = UPLOAD_PREFIX.to_vec();
    name.extend_from_slice(format!("{:016x}", rand::random::<u64>()).as_bytes());
    CString::new(name).expect("hex digits hold no NUL")
}

fn regular(fd: &OwnedFd) -> io::Result<Meta> {
    let meta = fstat(fd)?;
    match meta.kind {
        Kind::File => Ok(meta),
        Kind::Dir => Err(io::Error::from(io::ErrorKind::IsADirectory)),
        Kind::Other => Err(io::Error::from(io::ErrorKind::PermissionDenied)),
    }
}

fn fstat(fd: &OwnedFd) -> io::Result<Meta> {
    // SAFETY: stat is plain data, filled in by the kernel.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid descriptor and a stat buffer.
    check(unsafe { libc::fstat(fd.as_raw_fd(), &mut stat) })?;
    Ok(meta_of(&stat))
}

/// The entry itself, not following a symlink.
fn fstatat(dir: &OwnedFd, name: &CStr) -> io::Result<Meta> {
    // SAFETY: as in fstat.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid directory descriptor, a NUL-terminated name and a stat buffer.
    check(unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut stat,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    Ok(meta_of(&stat))
}

fn meta_of(stat: &libc::stat) -> Meta {
    let kind = match stat.st_mode & libc::S_IFMT {
        libc::S_IFREG => Kind::File,
        libc::S_IFDIR => Kind::Dir,
        _ => Kind::Other,
    };
    Meta {
        kind,
        size: stat.st_size.max(0) as u64,
        modified: stat.st_mtime,
        mode: stat.st_mode,
        links: stat.st_nlink,
        device: stat.st_dev,
        inode: stat.st_ino,
    }
}

fn renameat(from_dir: &OwnedFd, from: &CStr, to_dir: &OwnedFd, to: &CStr) -> io::Result<()> {
    // SAFETY: valid directory descriptors and NUL-terminated names.
    check(unsafe {
        libc::renameat(
            from_dir.as_raw_fd(),
            from.as_ptr(),
            to_dir.as_raw_fd(),
            to.as_ptr(),
        )
    })
}

fn check(result: libc::c_int) -> io::Result<()> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A modification time as a `SystemTime`, for formatting.
pub fn system_time(seconds: i64) -> SystemTime {
    if seconds >= 0 {
        UNIX_EPOCH + Duration::from_secs(seconds as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    fn tree() -> (tempfile::TempDir, Root) {
        let outside = tempfile::tempdir().unwrap();
        let root_path = outside.path().join("root");
        std::fs::create_dir_all(root_path.join("docs")).unwrap();
        std::fs::write(root_path.join("docs/readme.txt"), b"hello").unwrap();
        std::fs::write(outside.path().join("secret"), b"top secret").unwrap();
        std::os::unix::fs::symlink("/etc", root_path.join("etc-link")).unwrap();
        std::os::unix::fs::symlink("../secret", root_path.join("up-link")).unwrap();
        std::os::unix::fs::symlink("docs/readme.txt", root_path.join("inside-link")).unwrap();
        let root = Root::open(&root_path).unwrap();
        (outside, root)
    }

    fn path(text: &str) -> VirtualPath {
        VirtualPath::root().join(text.as_bytes()).unwrap()
    }

    #[test]
    fn symlinks_out_of_the_root_are_refused_and_hidden() {
        let (_dir, root) = tree();
        for escape in ["etc-link/passwd", "up-link", "etc-link"] {
            let err = root.open_read(&path(escape)).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{escape}");
        }
        let (mut file, meta) = root.open_read(&path("inside-link")).unwrap();
        assert_eq!(meta.size, 5);
        let mut text = String::new();
        file.read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello");
        let names: Vec<_> = root
            .list(&VirtualPath::root())
            .unwrap()
            .into_iter()
            .map(|e| String::from_utf8(e.name).unwrap())
            .collect();
        assert_eq!(names, ["docs", "inside-link"]);
    }

    #[test]
    fn a_replacing_upload_appears_only_when_committed() {
        let (dir, root) = tree();
        let target = path("docs/readme.txt");
        let mut upload = root.begin_upload(&target, UploadMode::Replace).unwrap();
        upload.file.write_all(b"new text").unwrap();
        let on_disk = dir.path().join("root/docs/readme.txt");
        assert_eq!(std::fs::read(&on_disk).unwrap(), b"hello");
        assert_eq!(root.list(&path("docs")).unwrap().len(), 1, "temp is hidden");
        upload.commit().unwrap();
        assert_eq!(std::fs::read(&on_disk).unwrap(), b"new text");

        let mut dropped = root
            .begin_upload(&path("docs/half"), UploadMode::Replace)
            .unwrap();
        dropped.file.write_all(b"half").unwrap();
        drop(dropped);
        assert_eq!(
            std::fs::read_dir(dir.path().join("root/docs"))
                .unwrap()
                .count(),
            1
        );
    }

    #[test]
    fn resume_and_append_write_in_place() {
        let (dir, root) = tree();
        let target = path("docs/readme.txt");
        let mut resumed = root.begin_upload(&target, UploadMode::Resume(3)).unwrap();
        resumed.file.write_all(b"p!").unwrap();
        resumed.commit().unwrap();
        let mut appended = root.begin_upload(&target, UploadMode::Append).unwrap();
        appended.file.write_all(b"?").unwrap();
        appended.commit().unwrap();
        let on_disk = dir.path().join("root/docs/readme.txt");
        assert_eq!(std::fs::read(on_disk).unwrap(), b"help!?");
        let past_end = root.begin_upload(&target, UploadMode::Resume(99));
        assert!(past_end.is_err());
    }

    #[test]
    fn directories_are_made_renamed_and_removed_but_never_the_root() {
        let (dir, root) = tree();
        root.make_dir(&path("new")).unwrap();
        root.rename(&path("new"), &path("docs/moved")).unwrap();
        assert!(dir.path().join("root/docs/moved").is_dir());
        root.remove_dir(&path("docs/moved")).unwrap();
        assert!(root.remove_dir(&VirtualPath::root()).is_err());
        assert!(root.remove_file(&path("docs")).is_err());
        root.remove_file(&path("up-link")).unwrap();
        assert!(
            dir.path().join("secret").exists(),
            "the link went, not its target"
        );
        let unique = root.unique_name(&path("docs"), b"readme.txt").unwrap();
        assert_eq!(unique, path("docs/readme.txt.1"));
    }
}
