//! Helpers for the FTP interop and bad-input tests: a "lab" that runs our FTP server on a
//! runtime of its own over a temporary tree, so the tests stay plain blocking code that runs
//! peer programs or speaks raw FTP; a deadline for peers; a raw control-connection client.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use appnet_core::config::Seconds;
use appnet_core::lifecycle::Shutdown;
use appnet_core::password::hash_password;
use appnet_core::tls::TlsMaterial;
use appnet_core::trace::Tracer;
use appnet_ftp::config::{FtpConfig, FtpUser};
use appnet_ftp::server::FtpServer;

/// The test account: full access to the root.
pub const USER: &str = "bob";
pub const PASSWORD: &str = "pw";
/// How long a peer program may run before it is killed and the test fails.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(60);

/// Our FTP server over a temporary tree; it stops when the lab is dropped.
pub struct Lab {
    runtime: tokio::runtime::Runtime,
    shutdown: Shutdown,
    pub dir: tempfile::TempDir,
    pub addr: SocketAddr,
}

impl Lab {
    /// A server with TLS and the test account, tuned by `tune`.
    pub fn start(tune: impl FnOnce(&mut FtpConfig)) -> Lab {
        Lab::start_with_tls(true, tune)
    }

    pub fn start_with_tls(tls: bool, tune: impl FnOnce(&mut FtpConfig)) -> Lab {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::create_dir(dir.path().join("root")).unwrap();
        let mut config = FtpConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            root: dir.path().join("root"),
            users: vec![FtpUser {
                name: USER.into(),
                password: hash_password(PASSWORD),
                root: None,
                write: true,
            }],
            data_timeout: Seconds::from_millis(10_000),
            ..FtpConfig::default()
        };
        tune(&mut config);
        let tls = tls.then(|| {
            let material = TlsMaterial::generate(&["localhost", "127.0.0.1"]).unwrap();
            std::fs::write(dir.path().join("ca.pem"), material.ca_pem()).unwrap();
            material.server_config().unwrap()
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(config.listen))
            .expect("listen");
        let addr = listener.local_addr().unwrap();
        let server = FtpServer::new(&config, tls, Tracer::off()).expect("the server starts");
        let shutdown = Shutdown::new();
        runtime.spawn(server.run(listener, shutdown.clone()));
        Lab {
            runtime,
            shutdown,
            dir,
            addr,
        }
    }

    /// The served tree.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A scratch directory for a client, outside the served tree.
    pub fn client_dir(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(&path).unwrap();
        path
    }

    pub fn url(&self, path: &str) -> String {
        format!("ftp://{}{path}", self.addr)
    }

    /// Writes a file under the served tree.
    pub fn put_file(&self, relative: &str, contents: &[u8]) {
        let path = self.root().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Runs a peer program to completion within [`PEER_TIMEOUT`]; its output.
pub fn run_peer(command: &mut Command) -> Output {
    appnet_testkit::run_to_completion(command, b"", PEER_TIMEOUT)
}

/// Runs a peer and fails the test unless it succeeds; its stdout.
pub fn run_ok(command: &mut Command) -> String {
    let output = run_peer(command);
    assert!(
        output.status.success(),
        "{command:?} failed ({})\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Every file and directory under `dir`: relative path, size and a hash of the contents
/// (directories: 0, 0), for comparing trees.
pub fn tree(dir: &Path) -> Vec<(PathBuf, usize, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path.clone());
                out.push((path.strip_prefix(dir).unwrap().to_path_buf(), 0, 0));
            } else {
                let contents = std::fs::read(&path).unwrap();
                let mut hasher = std::hash::DefaultHasher::new();
                std::hash::Hash::hash(&contents, &mut hasher);
                let hash = std::hash::Hasher::finish(&hasher);
                out.push((
                    path.strip_prefix(dir).unwrap().to_path_buf(),
                    contents.len(),
                    hash,
                ));
            }
        }
    }
    out.sort();
    out
}

/// A raw control connection, for speaking FTP byte by byte.
pub struct Control {
    reader: BufReader<TcpStream>,
}

impl Control {
    /// Connects and reads the greeting.
    pub fn connect(addr: SocketAddr) -> Control {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut control = Control {
            reader: BufReader::new(stream),
        };
        let greeting = control.reply();
        assert!(greeting.starts_with("220"), "{greeting}");
        control
    }

    /// Connects and logs in as the test user.
    pub fn login(addr: SocketAddr) -> Control {
        let mut control = Control::connect(addr);
        control.expect(&format!("USER {USER}"), "331");
        control.expect(&format!("PASS {PASSWORD}"), "230");
        control
    }

    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).unwrap();
    }

    /// Sends a command line; the reply.
    pub fn command(&mut self, line: &str) -> String {
        self.send_raw(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// Sends a command and fails unless the reply has `code`; the reply.
    pub fn expect(&mut self, line: &str, code: &str) -> String {
        let reply = self.command(line);
        assert!(reply.starts_with(code), "{line} → {reply}");
        reply
    }

    /// One whole reply (all lines of a multi-line one), or "" when the server closed.
    pub fn reply(&mut self) -> String {
        let mut text = String::new();
        let mut first = String::new();
        if self.reader.read_line(&mut first).unwrap_or(0) == 0 {
            return text;
        }
        text.push_str(&first);
        if first.len() >= 4 && first.as_bytes()[3] == b'-' {
            let end = format!("{} ", &first[..3]);
            loop {
                let mut line = String::new();
                if self.reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                text.push_str(&line);
                if line.starts_with(&end) {
                    break;
                }
            }
        }
        text
    }

    /// EPSV; the data port's address.
    pub fn passive(&mut self) -> SocketAddr {
        let reply = self.expect("EPSV", "229");
        let port: u16 = reply
            .split("|||")
            .nth(1)
            .and_then(|rest| rest.split('|').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("no port in {reply}"));
        SocketAddr::new(self.stream().peer_addr().unwrap().ip(), port)
    }

    /// Runs a passive transfer command and reads all its data; the data and final reply.
    pub fn fetch(&mut self, line: &str) -> (Vec<u8>, String) {
        let data_addr = self.passive();
        let mut data = TcpStream::connect(data_addr).unwrap();
        let opening = self.command(line);
        assert!(opening.starts_with("150"), "{line} → {opening}");
        let mut bytes = Vec::new();
        data.read_to_end(&mut bytes).unwrap();
        (bytes, self.reply())
    }
}
