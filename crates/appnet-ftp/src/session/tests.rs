//! The session driven directly, as the driver would: bytes in, outputs out, over a
//! temporary tree.

use std::net::SocketAddr;

use proptest::prelude::*;

use super::*;

const PEER: &str = "192.0.2.7";

struct Harness {
    session: Session,
    dir: tempfile::TempDir,
}

impl Harness {
    fn new(write: bool) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file.txt"), b"0123456789").unwrap();
        std::fs::create_dir(dir.path().join("docs")).unwrap();
        let session = Session::new(SessionConfig {
            greeting: "test".into(),
            peer: PEER.parse().unwrap(),
            tls_available: false,
            plaintext_login: true,
            anonymous: Some(Access {
                root: dir.path().to_path_buf(),
                write,
            }),
        });
        let mut harness = Harness { session, dir };
        assert_eq!(harness.replies(), ["220 test"]);
        harness
    }

    fn logged_in(write: bool) -> Harness {
        let mut harness = Harness::new(write);
        harness.feed("USER anonymous\r\nPASS me@example.com\r\n");
        assert_eq!(harness.codes(), [331, 230]);
        harness
    }

    fn feed(&mut self, text: &str) {
        self.session.feed(text.as_bytes());
    }

    /// The outputs until the session waits, replies as text (traces dropped).
    fn outputs(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.session.poll_output())
            .filter(|output| !matches!(output, Output::Received(_)))
            .collect()
    }

    fn replies(&mut self) -> Vec<String> {
        self.outputs()
            .into_iter()
            .map(|output| match output {
                Output::Send(bytes) => String::from_utf8(bytes).unwrap().trim_end().to_string(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    fn codes(&mut self) -> Vec<u16> {
        self.replies()
            .iter()
            .map(|reply| reply[..3].parse().unwrap_or(0))
            .collect()
    }

    fn command(&mut self, line: &str) -> Vec<String> {
        self.feed(&format!("{line}\r\n"));
        self.replies()
    }
}

#[test]
fn navigation_and_changes_answer_with_rfc_959_codes() {
    let mut ftp = Harness::logged_in(true);
    assert_eq!(ftp.command("PWD"), ["257 \"/\" is the current directory."]);
    assert_eq!(ftp.command("MKD new dir")[0], "257 \"/new dir\" created.");
    assert_eq!(
        ftp.command("CWD new dir")[0],
        "250 Directory changed to \"/new dir\"."
    );
    assert_eq!(ftp.command("CDUP")[0][..3], *"250");
    assert_eq!(ftp.command("CWD file.txt")[0], "550 Not a directory.");
    assert_eq!(
        ftp.command("CWD nowhere")[0],
        "550 No such file or directory."
    );
    assert_eq!(ftp.command("RNTO x")[0][..3], *"503");
    assert_eq!(ftp.command("RNFR file.txt")[0][..3], *"350");
    assert_eq!(ftp.command("RNTO docs/moved.txt")[0][..3], *"250");
    assert!(ftp.dir.path().join("docs/moved.txt").exists());
    assert_eq!(ftp.command("SIZE docs/moved.txt"), ["213 10"]);
    assert_eq!(ftp.command("DELE docs/moved.txt")[0][..3], *"250");
    assert_eq!(ftp.command("RMD new dir")[0][..3], *"250");
    let mlst = ftp.command("MLST docs").join("");
    assert!(
        mlst.starts_with("250-") && mlst.contains("\r\n type=dir;modify="),
        "{mlst}"
    );
    assert!(mlst.contains("; /docs\r\n250 End."), "{mlst}");
    assert_eq!(ftp.command("QUIT"), ["221 Goodbye.", "Close"]);
}

#[test]
fn read_only_logins_cannot_change_anything() {
    let mut ftp = Harness::logged_in(false);
    for line in [
        "STOR x",
        "APPE file.txt",
        "DELE file.txt",
        "MKD d",
        "RMD docs",
        "RNFR file.txt",
        "STOU",
        "SITE CHMOD 777 file.txt",
    ] {
        assert_eq!(
            ftp.command(line)[0],
            "550 Permission denied: this login is read-only.",
            "{line}"
        );
    }
    assert!(ftp.dir.path().join("file.txt").exists());
}

#[test]
fn commands_pipelined_behind_a_password_check_wait_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut session = Session::new(SessionConfig {
        greeting: "hi".into(),
        peer: PEER.parse().unwrap(),
        tls_available: false,
        plaintext_login: true,
        anonymous: None,
    });
    session.feed(b"USER bob\r\nPASS secret\r\nPWD\r\n");
    let outputs: Vec<_> = std::iter::from_fn(|| session.poll_output()).collect();
    assert!(matches!(
        outputs.last(),
        Some(Output::Authenticate { user, password }) if user == "bob" && password == "secret"
    ));
    session.login_result(Some(Access {
        root: dir.path().to_path_buf(),
        write: true,
    }));
    let replies: Vec<String> = std::iter::from_fn(|| session.poll_output())
        .filter_map(|output| match output {
            Output::Send(bytes) => Some(String::from_utf8(bytes).unwrap()),
            _ => None,
        })
        .collect();
    assert_eq!(
        replies,
        [
            "230 Login successful.\r\n",
            "257 \"/\" is the current directory.\r\n"
        ]
    );
}

#[test]
fn clear_text_passwords_are_refused_where_tls_is_required() {
    let mut session = Session::new(SessionConfig {
        greeting: "hi".into(),
        peer: PEER.parse().unwrap(),
        tls_available: true,
        plaintext_login: false,
        anonymous: None,
    });
    session.feed(b"USER bob\r\nAUTH TLS\r\n");
    let outputs: Vec<String> = std::iter::from_fn(|| session.poll_output())
        .map(|output| match output {
            Output::Send(bytes) => String::from_utf8(bytes).unwrap(),
            other => format!("{other:?}"),
        })
        .collect();
    let text = outputs.join("\n");
    assert!(text.contains("530 Log in over TLS"), "{text}");
    assert!(
        text.contains("234 AUTH TLS") && text.ends_with("StartTls"),
        "{text}"
    );
}

#[test]
fn passive_replies_name_the_address_and_port() {
    let mut ftp = Harness::logged_in(false);
    ftp.feed("PASV\r\nNOOP\r\n");
    assert_eq!(ftp.replies(), ["OpenPassive"]);
    ftp.session
        .passive_opened(Some("127.0.0.1:50000".parse::<SocketAddr>().unwrap()));
    assert_eq!(
        ftp.replies(),
        [
            "227 Entering Passive Mode (127,0,0,1,195,80).",
            "200 NOOP ok."
        ]
    );
    ftp.feed("EPSV\r\n");
    ftp.replies();
    ftp.session
        .passive_opened(Some("[::1]:50001".parse().unwrap()));
    assert_eq!(
        ftp.replies(),
        ["229 Entering Extended Passive Mode (|||50001|)"]
    );
    ftp.feed("PASV\r\n");
    ftp.replies();
    ftp.session.passive_opened(None);
    assert_eq!(ftp.replies()[0][..3], *"425");
}

#[test]
fn rest_applies_to_the_next_transfer_only() {
    let mut ftp = Harness::logged_in(false);
    ftp.feed(&format!("PORT {},195,80\r\n", PEER.replace('.', ",")));
    assert_eq!(ftp.codes(), [200]);
    ftp.feed("REST 4\r\nRETR file.txt\r\n");
    let outputs = ftp.outputs();
    let Some(Output::Transfer(transfer)) = outputs.last() else {
        panic!("{outputs:?}");
    };
    assert!(matches!(transfer.connect, DataConnect::Active(a) if a.port() == 50000));
    assert!(matches!(
        transfer.payload,
        Payload::Send {
            offset: 4,
            length: 6,
            ..
        }
    ));
    ftp.session.data_opened(transfer.opening.clone());
    ftp.session
        .transfer_finished(TransferOutcome::Complete { bytes: 6 });
    assert_eq!(ftp.codes(), [150, 226]);
    // The data connection was for one transfer, and REST for one command.
    ftp.feed("REST 4\r\nNOOP\r\nRETR file.txt\r\n");
    assert_eq!(ftp.codes(), [350, 200, 425]);
}

#[test]
fn abor_during_a_transfer_then_the_held_commands_run() {
    let mut ftp = Harness::logged_in(false);
    ftp.feed("EPSV\r\n");
    ftp.replies();
    ftp.session
        .passive_opened(Some("127.0.0.1:50000".parse().unwrap()));
    ftp.feed("LIST\r\n");
    assert!(matches!(ftp.outputs().last(), Some(Output::Transfer(_))));
    ftp.feed("PWD\r\nSTAT\r\nABOR\r\n");
    assert_eq!(ftp.replies(), ["213 A transfer is in progress.", "Abort"]);
    ftp.session.transfer_finished(TransferOutcome::Aborted);
    assert_eq!(ftp.codes(), [229, 426, 226, 257][1..]);
}

proptest! {
    #[test]
    fn any_bytes_get_bounded_answers_and_never_panic(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20)
    ) {
        let mut ftp = Harness::logged_in(true);
        for chunk in &chunks {
            ftp.session.feed(chunk);
            let outputs = ftp.outputs();
            prop_assert!(outputs.len() <= 2 * chunk.len() + 4);
            for output in outputs {
                match output {
                    Output::Authenticate { .. } => ftp.session.login_result(None),
                    Output::OpenPassive => ftp.session.passive_opened(None),
                    Output::Transfer(_) => ftp.session.transfer_finished(TransferOutcome::Broken),
                    Output::StartTls => ftp.session.tls_established(),
                    _ => {}
                }
            }
        }
    }
}
