//! The FTP server session on any bytes, logged in (anonymous, with write access) to a small
//! tree rebuilt for every input, so file commands really run: never a panic, nothing after
//! Close, every reply ended by CRLF, and nothing created outside the tree.
#![no_main]

mod common;

use std::path::{Path, PathBuf};

use appnet_ftp::session::{Access, Output, Session, SessionConfig, TransferOutcome};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&seed, stream)) = input.split_first() else {
        return;
    };
    let base = fresh_tree();
    let root = base.join("root");
    let mut session = Session::new(SessionConfig {
        greeting: "fuzz".into(),
        peer: "127.0.0.1".parse().unwrap(),
        tls_available: seed & 1 == 1,
        plaintext_login: true,
        anonymous: Some(Access {
            root: root.clone(),
            write: true,
        }),
    });
    session.feed(b"USER ftp\r\nPASS x\r\n");
    let mut closed = false;
    for piece in common::reads(seed, stream) {
        session.feed(piece);
        drain(&mut session, &mut closed, seed);
    }
    let outside: Vec<_> = std::fs::read_dir(&base).unwrap().collect();
    assert_eq!(outside.len(), 2, "something was made beside the root");
});

fn drain(session: &mut Session, closed: &mut bool, seed: u8) {
    while let Some(output) = session.poll_output() {
        assert!(!*closed, "output after Close: {output:?}");
        match output {
            Output::Send(bytes) => assert!(bytes.ends_with(b"\r\n")),
            Output::Authenticate { .. } => session.login_result(None),
            Output::StartTls => session.tls_established(),
            Output::OpenPassive => {
                let port = if seed & 2 == 0 { None } else { Some("127.0.0.1:50000".parse().unwrap()) };
                session.passive_opened(port);
            }
            Output::Transfer(transfer) => {
                session.data_opened(transfer.opening);
                let outcome = if seed & 4 == 0 {
                    TransferOutcome::Complete { bytes: 0 }
                } else {
                    TransferOutcome::Aborted
                };
                session.transfer_finished(outcome);
            }
            Output::Close => *closed = true,
            Output::Received(_) | Output::DropPassive | Output::Abort => {}
        }
    }
}

/// `base/root` with a file and a directory, and `base/outside` beside it; made afresh.
fn fresh_tree() -> PathBuf {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
    let base = base.join(format!("appnet-fuzz-ftp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(base.join("root/docs")).unwrap();
    std::fs::write(base.join("root/file.txt"), b"line one\nline two\n").unwrap();
    std::fs::write(base.join("outside"), b"not yours").unwrap();
    base
}
