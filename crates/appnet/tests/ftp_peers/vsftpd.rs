//! A private vsftpd (Debian's 3.0.3) for driving with our FTP client: anonymous only, on a
//! free loopback port, serving a throw-away tree; plain, or with explicit TLS required.
//!
//! The recipe, and why:
//! - `listen=YES`, `listen_ipv6=NO`, `background=NO`: a standalone listener in the
//!   foreground, so the test owns the process and stops it by its pid (SIGTERM when the
//!   [`Vsftpd`] is dropped, also when the test fails).
//! - Run as root (as the tests are here), vsftpd chroots each anonymous session into
//!   `anon_root` and runs it as `ftp_username` (the `ftp` system user), with `nopriv_user`
//!   (`nobody`) for the unprivileged half. It refuses a chroot root that session user can
//!   write ("refusing to run with writable root inside chroot()"), so the root is root's
//!   and 0755, with `pub/` to read and `upload/` (0777) to write in. Run as another user,
//!   `run_as_launching_user=YES` replaces all that (no chroot: PWD then shows the real path).
//! - Anonymous writes need `write_enable`, `anon_upload_enable` (STOR), `anon_mkdir_write_enable`
//!   (MKD) and `anon_other_write_enable` (DELE, RMD, RNFR/RNTO); `anon_umask=022` makes
//!   uploads world-readable, which vsftpd requires before it lets anonymous users download
//!   them (`anon_world_readable_only`).
//! - `secure_chroot_dir` is an empty directory of our own (the default, /var/run/vsftpd/empty,
//!   may not exist); `seccomp_sandbox=NO` because the sandbox kills sessions under some
//!   kernels and containers; `xferlog_enable=NO` so nothing is written outside the tree.
//! - Passive ports are left to the kernel (`pasv_min_port`/`pasv_max_port` unset): several
//!   instances run at once in the test suite, and fixed ranges would collide.
//! - TLS: `ssl_enable=YES` with the certificate chain and key of an appnet TLS material
//!   (`TlsMaterial::load_or_generate`: a private CA, and a leaf for 127.0.0.1 it signs; the
//!   client trusts `ca.pem` through `--cacert`); `allow_anon_ssl=YES` and
//!   `force_anon_logins_ssl=YES`/`force_anon_data_ssl=YES` so a client that skips TLS, or
//!   PROT P, is refused; `require_ssl_reuse=YES` (the default, stated) so each data
//!   connection must resume the control connection's TLS session; `ssl_ciphers=HIGH`, since
//!   the compiled-in default (DES-CBC3-SHA) leaves TLS 1.2 clients without a cipher.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Vsftpd {
    child: Child,
    pub addr: SocketAddr,
    /// The anonymous root: `pub/` (read-only) and `upload/` (writable) are in it.
    pub root: PathBuf,
    /// With TLS: the CA certificate that signed vsftpd's certificate.
    pub ca_file: Option<PathBuf>,
    /// The vsftpd.conf it runs with.
    pub config: String,
    dir: tempfile::TempDir,
}

impl Vsftpd {
    /// vsftpd without TLS.
    pub fn start() -> Vsftpd {
        Vsftpd::launch(false)
    }

    /// vsftpd that requires explicit TLS for the login and for data.
    pub fn start_tls() -> Vsftpd {
        Vsftpd::launch(true)
    }

    fn launch(tls: bool) -> Vsftpd {
        let vsftpd = appnet_testkit::require_peer("vsftpd");
        let dir = tempfile::tempdir().expect("a directory for vsftpd");
        let base = dir.path();
        set_mode(base, 0o755);
        let root = base.join("root");
        let empty = base.join("empty");
        for (path, mode) in [
            (&root, 0o755),
            (&root.join("pub"), 0o755),
            (&root.join("upload"), 0o777),
            (&empty, 0o755),
        ] {
            std::fs::create_dir(path).unwrap();
            set_mode(path, mode);
        }
        let port = appnet_testkit::free_port_on(&[IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        // SAFETY: geteuid(2) has no preconditions and cannot fail.
        let as_root = unsafe { libc::geteuid() } == 0;
        let identity = if as_root {
            "nopriv_user=nobody\nftp_username=ftp\n"
        } else {
            "run_as_launching_user=YES\n"
        };
        let mut config = format!(
            "listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port={port}
background=NO
anonymous_enable=YES
local_enable=NO
anon_root={root}
write_enable=YES
anon_upload_enable=YES
anon_mkdir_write_enable=YES
anon_other_write_enable=YES
anon_umask=022
secure_chroot_dir={empty}
seccomp_sandbox=NO
xferlog_enable=NO
{identity}",
            root = root.display(),
            empty = empty.display(),
        );
        let mut ca_file = None;
        if tls {
            let tls_dir = base.join("tls");
            appnet_core::tls::TlsMaterial::load_or_generate(&tls_dir, &["127.0.0.1", "localhost"])
                .expect("TLS material for vsftpd");
            config.push_str(&format!(
                "ssl_enable=YES
rsa_cert_file={dir}/cert.pem
rsa_private_key_file={dir}/key.pem
allow_anon_ssl=YES
force_anon_logins_ssl=YES
force_anon_data_ssl=YES
require_ssl_reuse=YES
ssl_ciphers=HIGH
",
                dir = tls_dir.display()
            ));
            ca_file = Some(tls_dir.join("ca.pem"));
        }
        let config_file = base.join("vsftpd.conf");
        std::fs::write(&config_file, &config).unwrap();
        let out = std::fs::File::create(base.join("vsftpd.out")).unwrap();
        let child = Command::new(vsftpd)
            .arg(&config_file)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start vsftpd");
        let mut instance = Vsftpd {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            root,
            ca_file,
            config,
            dir,
        };
        if let Err(why) = appnet_testkit::wait_listening(
            instance.addr,
            Duration::from_secs(15),
            Some(&mut instance.child),
        ) {
            panic!("vsftpd {why}:\n{}", instance.log());
        }
        instance
    }

    /// `ftp://127.0.0.1:PORT/PATH`.
    pub fn url(&self, path: &str) -> String {
        format!("ftp://{}/{path}", self.addr)
    }

    /// The read-only public directory (`pub/` in URLs).
    pub fn public(&self) -> PathBuf {
        self.root.join("pub")
    }

    /// The writable directory (`upload/` in URLs).
    pub fn uploads(&self) -> PathBuf {
        self.root.join("upload")
    }

    /// What vsftpd printed (its `500 OOPS:` lines when a setting is wrong).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("vsftpd.out")).unwrap_or_default()
    }
}

impl Drop for Vsftpd {
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: SIGTERM to the vsftpd listener this instance started (its own pid).
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
