//! From the greeting to a session ready for transfers, as a state machine fed the server's
//! replies:
//!
//! 1. the greeting (RFC 959 §5.4: `120` means wait for the `220`);
//! 2. with TLS, `AUTH TLS` → `234`, then the handshake (RFC 4217 §4), before anything secret
//!    is sent;
//! 3. `USER` → `331` → `PASS` → `230` (RFC 959 §4.1.1), anonymous per RFC 1635 when no user
//!    is given;
//! 4. with TLS, `PBSZ 0` and `PROT P` (RFC 4217 §8–9), so data connections are encrypted too;
//! 5. `FEAT` (RFC 2389), and `OPTS UTF8 ON` when UTF8 is listed (RFC 2640 §3.2; some servers
//!    only switch to UTF-8 names when asked);
//! 6. `TYPE I`: every transfer is binary, so files arrive byte for byte;
//! 7. `PWD`, the login directory, for the shell's prompt.

use crate::proto::command::{Command, TransferType};
use crate::proto::reply::Reply;

use super::ClientError;
use super::replies::{Features, parse_pwd};
use super::request::summary;

/// Who logs in.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl Credentials {
    /// RFC 1635 §2: user `anonymous`, and by custom an e-mail-like password.
    pub fn anonymous() -> Credentials {
        Credentials {
            user: "anonymous".into(),
            password: "appnet@".into(),
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"****")
            .finish()
    }
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginStep {
    /// Read another reply without sending (after a 1yz).
    Wait,
    Send(Command),
    /// Run the TLS handshake on the control connection, then call [`Login::tls_established`].
    StartTls,
    /// Logged in and ready.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Greeting,
    Auth,
    Handshake,
    User,
    Pass,
    Pbsz,
    Prot,
    Feat,
    Utf8,
    Type,
    Pwd,
    Done,
}

/// The login dialogue.
#[derive(Debug)]
pub struct Login {
    state: State,
    credentials: Credentials,
    tls: bool,
    features: Features,
    home: Option<String>,
    greeting: Option<Reply>,
}

impl Login {
    /// `tls`: require explicit TLS (the login fails if the server refuses `AUTH TLS`).
    pub fn new(credentials: Credentials, tls: bool) -> Login {
        Login {
            state: State::Greeting,
            credentials,
            tls,
            features: Features::default(),
            home: None,
            greeting: None,
        }
    }

    pub fn features(&self) -> &Features {
        &self.features
    }

    /// The login directory PWD named, if the server answered it.
    pub fn home(&self) -> Option<&str> {
        self.home.as_deref()
    }

    pub fn greeting(&self) -> Option<&Reply> {
        self.greeting.as_ref()
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The command the last reply answered, for error messages.
    fn pending(&self) -> Command {
        match self.state {
            State::Auth | State::Handshake => Command::Auth("TLS".into()),
            State::User => Command::User(self.credentials.user.clone()),
            State::Pass => Command::Pass(String::new()),
            State::Pbsz => Command::Pbsz(0),
            State::Prot => Command::Prot('P'),
            State::Feat => Command::Feat,
            State::Utf8 => Command::Opts("UTF8 ON".into()),
            State::Type => Command::Type(TransferType::Image),
            State::Greeting | State::Pwd | State::Done => Command::Pwd,
        }
    }

    fn refused(&self, reply: &Reply) -> ClientError {
        let command = match self.state {
            State::Greeting => "(greeting)".to_string(),
            _ => summary(&self.pending()),
        };
        ClientError::Refused {
            command,
            reply: reply.clone(),
        }
    }

    fn send(&mut self, state: State, command: Command) -> LoginStep {
        self.state = state;
        LoginStep::Send(command)
    }

    fn user(&mut self) -> LoginStep {
        let user = Command::User(self.credentials.user.clone());
        self.send(State::User, user)
    }

    /// After USER/PASS: protect the data connections, then learn the features.
    fn logged_in(&mut self) -> LoginStep {
        if self.tls {
            self.send(State::Pbsz, Command::Pbsz(0))
        } else {
            self.send(State::Feat, Command::Feat)
        }
    }

    /// The next step after `reply`, the answer to the last command sent (or the greeting).
    pub fn on_reply(&mut self, reply: &Reply) -> Result<LoginStep, ClientError> {
        // RFC 959 §5.4: a 1yz is not the answer; the final reply follows.
        if reply.is_preliminary() && self.state != State::Done {
            return Ok(LoginStep::Wait);
        }
        let code = reply.code;
        Ok(match self.state {
            State::Greeting => {
                if code != 220 {
                    return Err(self.refused(reply));
                }
                self.greeting = Some(reply.clone());
                if self.tls {
                    self.send(State::Auth, Command::Auth("TLS".into()))
                } else {
                    self.user()
                }
            }
            State::Auth => {
                if code != 234 {
                    return Err(ClientError::TlsRefused(reply.clone()));
                }
                self.state = State::Handshake;
                LoginStep::StartTls
            }
            State::Handshake => {
                // Nothing may arrive between 234 and the handshake: a reply here was sent in
                // the clear after TLS was agreed, the injection RFC 4217 §4 warns against.
                return Err(self.refused(reply));
            }
            State::User => match code {
                230 => self.logged_in(),
                331 => {
                    let pass = Command::Pass(self.credentials.password.clone());
                    self.send(State::Pass, pass)
                }
                _ => return Err(ClientError::LoginRefused(reply.clone())),
            },
            State::Pass => match code {
                202 | 230 => self.logged_in(),
                // 332 wants ACCT; a client with no account to give cannot go on.
                _ => return Err(ClientError::LoginRefused(reply.clone())),
            },
            State::Pbsz => {
                if code != 200 {
                    return Err(self.refused(reply));
                }
                self.send(State::Prot, Command::Prot('P'))
            }
            State::Prot => {
                // Without PROT P the data would go in the clear though TLS was required.
                if code != 200 {
                    return Err(self.refused(reply));
                }
                self.send(State::Feat, Command::Feat)
            }
            State::Feat => {
                self.features = Features::parse(reply);
                if self.features.supports("UTF8") {
                    self.send(State::Utf8, Command::Opts("UTF8 ON".into()))
                } else {
                    self.send(State::Type, Command::Type(TransferType::Image))
                }
            }
            // A refusal is fine: the server said it uses UTF-8 already.
            State::Utf8 => self.send(State::Type, Command::Type(TransferType::Image)),
            State::Type => {
                if !(200..300).contains(&code) {
                    return Err(self.refused(reply));
                }
                self.send(State::Pwd, Command::Pwd)
            }
            State::Pwd => {
                self.home = (code == 257).then(|| parse_pwd(reply).ok()).flatten();
                self.state = State::Done;
                LoginStep::Done
            }
            State::Done => return Err(self.refused(reply)),
        })
    }

    /// The TLS handshake finished: log in, now encrypted.
    pub fn tls_established(&mut self) -> LoginStep {
        self.user()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(code: u16, text: &str) -> Reply {
        Reply::new(code, text)
    }

    fn feat() -> Reply {
        Reply::multiline(
            211,
            vec![
                "Features:".into(),
                "EPSV".into(),
                "UTF8".into(),
                "End".into(),
            ],
        )
    }

    #[test]
    fn a_plain_anonymous_login() {
        let mut login = Login::new(Credentials::anonymous(), false);
        assert_eq!(login.on_reply(&r(120, "soon")).unwrap(), LoginStep::Wait);
        assert_eq!(
            login.on_reply(&r(220, "ready")).unwrap(),
            LoginStep::Send(Command::User("anonymous".into()))
        );
        assert_eq!(
            login.on_reply(&r(331, "password")).unwrap(),
            LoginStep::Send(Command::Pass("appnet@".into()))
        );
        assert_eq!(
            login.on_reply(&r(230, "in")).unwrap(),
            LoginStep::Send(Command::Feat)
        );
        assert_eq!(
            login.on_reply(&feat()).unwrap(),
            LoginStep::Send(Command::Opts("UTF8 ON".into()))
        );
        assert_eq!(
            login.on_reply(&r(501, "no")).unwrap(),
            LoginStep::Send(Command::Type(TransferType::Image))
        );
        assert_eq!(
            login.on_reply(&r(200, "binary")).unwrap(),
            LoginStep::Send(Command::Pwd)
        );
        assert_eq!(
            login.on_reply(&r(257, "\"/\" is here")).unwrap(),
            LoginStep::Done
        );
        assert!(login.is_done());
        assert_eq!(login.home(), Some("/"));
        assert!(login.features().supports("EPSV"));
    }

    #[test]
    fn explicit_tls_comes_before_the_user_name() {
        let mut login = Login::new(Credentials::anonymous(), true);
        assert_eq!(
            login.on_reply(&r(220, "ready")).unwrap(),
            LoginStep::Send(Command::Auth("TLS".into()))
        );
        assert_eq!(login.on_reply(&r(234, "go")).unwrap(), LoginStep::StartTls);
        assert_eq!(
            login.tls_established(),
            LoginStep::Send(Command::User("anonymous".into()))
        );
        login.on_reply(&r(331, "pw")).unwrap();
        assert_eq!(
            login.on_reply(&r(230, "in")).unwrap(),
            LoginStep::Send(Command::Pbsz(0))
        );
        assert_eq!(
            login.on_reply(&r(200, "ok")).unwrap(),
            LoginStep::Send(Command::Prot('P'))
        );
        assert_eq!(
            login.on_reply(&r(200, "ok")).unwrap(),
            LoginStep::Send(Command::Feat)
        );
        assert_eq!(
            login.on_reply(&feat()).unwrap(),
            LoginStep::Send(Command::Opts("UTF8 ON".into()))
        );
    }

    #[test]
    fn refusals_end_the_login() {
        let mut login = Login::new(Credentials::anonymous(), true);
        login.on_reply(&r(220, "ready")).unwrap();
        assert!(matches!(
            login.on_reply(&r(500, "AUTH not understood")),
            Err(ClientError::TlsRefused(_))
        ));

        let mut login = Login::new(Credentials::anonymous(), false);
        login.on_reply(&r(220, "ready")).unwrap();
        login.on_reply(&r(331, "pw")).unwrap();
        assert!(matches!(
            login.on_reply(&r(530, "Login incorrect.")),
            Err(ClientError::LoginRefused(_))
        ));

        let mut login = Login::new(Credentials::anonymous(), false);
        assert!(matches!(
            login.on_reply(&r(421, "too many users")),
            Err(ClientError::Refused { .. })
        ));

        let mut login = Login::new(Credentials::anonymous(), true);
        login.on_reply(&r(220, "ready")).unwrap();
        login.on_reply(&r(234, "go")).unwrap();
        assert!(
            login
                .on_reply(&r(230, "injected before the handshake"))
                .is_err(),
            "a reply between 234 and the handshake is refused"
        );
    }

    #[test]
    fn the_password_is_not_in_debug_output() {
        let credentials = Credentials {
            user: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{credentials:?}").contains("hunter2"));
    }
}
