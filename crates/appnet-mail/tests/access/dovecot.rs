//! A private Dovecot (imap only, no TLS) serving users from Maildirs our server wrote.
//!
//! The recipe, and why: `dovecot -F -c CONFIG` in the foreground, with `base_dir`, `state_dir`
//! and the log in a temporary directory, so that it shares nothing with a system instance. The
//! passdb is a passwd-file with a `{PLAIN}` password. Dovecot refuses to run a mail process as
//! uid 0 ("userdb returned 0 as uid"), so a static userdb maps the user to the `dovecot`
//! system user and the Maildir is handed to that user (chown -R) before Dovecot starts. It is
//! stopped with SIGTERM by its pid (SIGKILL if it is still there after 10 s) when dropped, also
//! when the test fails.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Dovecot {
    child: Child,
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Dovecot {
    /// Dovecot on a free loopback port for `users` (all with `password`), each one's INBOX the
    /// Maildir++ directory `<mail>/<local part>`.
    pub fn start_for(users: &[String], password: &str, mail: &Path) -> Dovecot {
        let dovecot = appnet_testkit::require_peer("dovecot");
        let dir = tempfile::tempdir().expect("a directory for Dovecot");
        let root = dir.path();
        set_mode(root, 0o755);
        let (uid, gid) = user_ids("dovecot").expect("the `dovecot` system user (dovecot-core)");
        // Dovecot's mail processes run as `dovecot`: they must reach and own the Maildirs.
        let mut up = Some(mail);
        while let Some(dir) = up {
            if dir == Path::new("/") {
                break;
            }
            set_mode(dir, 0o755);
            up = dir.parent();
        }
        chown_tree(mail, uid, gid);
        let home = root.join("home");
        std::fs::create_dir(&home).unwrap();
        for user in users {
            let local = user.split('@').next().unwrap_or(user);
            let user_home = home.join(local);
            std::fs::create_dir(&user_home).unwrap();
            std::os::unix::fs::chown(&user_home, Some(uid), Some(gid)).unwrap();
        }
        let port = appnet_testkit::free_port_on(&[IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        let passwd = root.join("passwd");
        let entries: String = users
            .iter()
            .map(|user| format!("{user}:{{PLAIN}}{password}\n"))
            .collect();
        std::fs::write(&passwd, entries).unwrap();
        let config = root.join("dovecot.conf");
        std::fs::write(
            &config,
            format!(
                "base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
first_valid_uid = 1
mail_location = maildir:{mail}/%n:INDEX=MEMORY
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={home}/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
",
                root = root.display(),
                mail = mail.display(),
                passwd = passwd.display(),
                home = home.display(),
            ),
        )
        .unwrap();
        let out = std::fs::File::create(root.join("dovecot.out")).unwrap();
        let child = Command::new(dovecot)
            .arg("-F")
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start dovecot");
        let mut instance = Dovecot {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            dir,
        };
        if let Err(why) = appnet_testkit::wait_listening(
            instance.addr,
            Duration::from_secs(15),
            Some(&mut instance.child),
        ) {
            panic!("Dovecot {why}:\n{}", instance.log());
        }
        instance
    }

    /// Dovecot's log and what it printed.
    pub fn log(&self) -> String {
        ["dovecot.out", "dovecot.log"]
            .iter()
            .map(|name| {
                let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
                format!("--- {name}\n{text}")
            })
            .collect()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: SIGTERM to the Dovecot master this instance started (its own pid).
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("Dovecot {pid} did not stop on SIGTERM within 10 s; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
    if path.is_dir() {
        let entries: Vec<PathBuf> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        for entry in entries {
            chown_tree(&entry, uid, gid);
        }
    }
}

/// The uid and gid of `user` from /etc/passwd.
fn user_ids(user: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&user) && fields.len() > 3)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    })
}
