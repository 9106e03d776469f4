//! One transfer's dialogue on the control connection (RFC 959 §3.2–3.3 and §5.4): set up the
//! data connection, optionally restart at an offset, send the transfer command, and read its
//! preliminary and final replies.
//!
//! Passive (the default, since clients sit behind NAT): `EPSV` (RFC 2428 §3), falling back to
//! `PASV` when the server does not know EPSV. The data connection always goes to the control
//! connection's peer address: EPSV names no address by design, and the address in PASV's 227
//! is ignored (as curl's `--ftp-skip-pasv-ip` does), because a server behind NAT names its
//! private address, and a hostile one could name a third host for the client to connect to.
//!
//! Active: the driver listens on the control connection's local address; `EPRT` (RFC 2428
//! §2) names it, with `PORT` as the IPv4 fallback.
//!
//! `REST n` (RFC 3659 §5, STREAM mode) goes right before the transfer command it modifies.

use std::net::{IpAddr, SocketAddr};

use crate::proto::command::Command;
use crate::proto::reply::Reply;

use super::ClientError;
use super::replies::{parse_epsv, parse_pasv, size_hint};
use super::request::summary;

/// How the data connection is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The client connects; `control_peer` is where. `epsv`: try EPSV first.
    Passive { control_peer: IpAddr, epsv: bool },
    /// The server connects to `listener`. `eprt`: try EPRT first.
    Active { listener: SocketAddr, eprt: bool },
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataStep {
    /// Read another reply without sending.
    Wait,
    Send(Command),
    /// Passive: open the data connection to `addr` now, then call [`DataExchange::connected`].
    /// `announced` is the address PASV named, when it is not the one used, for the trace.
    Connect {
        addr: SocketAddr,
        announced: Option<SocketAddr>,
    },
    /// The transfer started (1yz): move the data (in active mode, accept the server's
    /// connection first), then keep feeding replies until [`DataStep::Done`].
    Transfer {
        size_hint: Option<u64>,
    },
    /// The final reply; the transfer is complete. If no [`DataStep::Transfer`] came before,
    /// the server finished without a data connection.
    Done(Reply),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Epsv,
    Pasv,
    Connecting,
    Eprt,
    Port,
    Rest,
    Command,
    Transferring,
    Done,
}

/// One transfer on the control connection.
#[derive(Debug)]
pub struct DataExchange {
    channel: Channel,
    command: Command,
    rest: Option<u64>,
    stage: Stage,
    epsv_refused: bool,
    eprt_refused: bool,
}

impl DataExchange {
    /// Starts a transfer of `command` (RETR, STOR, APPE, LIST, NLST, MLSD), restarting at
    /// `rest` if given; returns the first command to send.
    pub fn new(command: Command, rest: Option<u64>, channel: Channel) -> (DataExchange, Command) {
        let mut exchange = DataExchange {
            channel,
            command,
            rest: rest.filter(|&offset| offset > 0),
            stage: Stage::Done,
            epsv_refused: false,
            eprt_refused: false,
        };
        let first = match channel {
            Channel::Passive { epsv: true, .. } => {
                exchange.go(Stage::Epsv, Command::Epsv { all: false })
            }
            Channel::Passive { epsv: false, .. } => exchange.go(Stage::Pasv, Command::Pasv),
            Channel::Active {
                listener,
                eprt: true,
            } => exchange.go(Stage::Eprt, Command::Eprt(listener)),
            Channel::Active {
                listener,
                eprt: false,
            } => exchange.go(Stage::Port, Command::Port(listener)),
        };
        (exchange, first)
    }

    fn go(&mut self, stage: Stage, command: Command) -> Command {
        self.stage = stage;
        command
    }

    /// Whether the server refused EPSV (the driver then starts with PASV next time).
    pub fn epsv_refused(&self) -> bool {
        self.epsv_refused
    }

    /// Whether the server refused EPRT (the driver then starts with PORT next time).
    pub fn eprt_refused(&self) -> bool {
        self.eprt_refused
    }

    /// The command the pending reply answers, for error messages.
    fn pending(&self) -> Command {
        match (self.stage, self.channel) {
            (Stage::Epsv, _) => Command::Epsv { all: false },
            (Stage::Pasv, _) => Command::Pasv,
            (Stage::Eprt, Channel::Active { listener, .. }) => Command::Eprt(listener),
            (Stage::Port, Channel::Active { listener, .. }) => Command::Port(listener),
            (Stage::Rest, _) => Command::Rest(self.rest.unwrap_or_default()),
            _ => self.command.clone(),
        }
    }

    fn refused(&self, reply: &Reply) -> ClientError {
        ClientError::Refused {
            command: summary(&self.pending()),
            reply: reply.clone(),
        }
    }

    /// After the channel is agreed (and, passive, connected): REST if asked, else the command.
    fn after_channel(&mut self) -> Command {
        match self.rest {
            Some(offset) => self.go(Stage::Rest, Command::Rest(offset)),
            None => {
                let command = self.command.clone();
                self.go(Stage::Command, command)
            }
        }
    }

    /// Passive: the data connection is open; returns the next command to send.
    pub fn connected(&mut self) -> Command {
        self.after_channel()
    }

    pub fn on_reply(&mut self, reply: &Reply) -> Result<DataStep, ClientError> {
        let code = reply.code;
        if reply.is_preliminary() && self.stage != Stage::Command {
            return Ok(DataStep::Wait);
        }
        Ok(match self.stage {
            Stage::Epsv if code == 229 => {
                let Channel::Passive { control_peer, .. } = self.channel else {
                    return Err(self.refused(reply));
                };
                self.stage = Stage::Connecting;
                DataStep::Connect {
                    addr: SocketAddr::new(control_peer, parse_epsv(reply)?),
                    announced: None,
                }
            }
            // 500/502: EPSV unknown; 501/522: a protocol it does not do. PASV may still work.
            Stage::Epsv if reply.is_permanent() => {
                self.epsv_refused = true;
                DataStep::Send(self.go(Stage::Pasv, Command::Pasv))
            }
            Stage::Pasv if code == 227 => {
                let Channel::Passive { control_peer, .. } = self.channel else {
                    return Err(self.refused(reply));
                };
                let named = SocketAddr::V4(parse_pasv(reply)?);
                let addr = SocketAddr::new(control_peer, named.port());
                self.stage = Stage::Connecting;
                DataStep::Connect {
                    addr,
                    announced: (named != addr).then_some(named),
                }
            }
            Stage::Eprt if code == 200 => DataStep::Send(self.after_channel()),
            Stage::Eprt if reply.is_permanent() => match self.channel {
                Channel::Active { listener, .. } if listener.is_ipv4() => {
                    self.eprt_refused = true;
                    DataStep::Send(self.go(Stage::Port, Command::Port(listener)))
                }
                _ => return Err(self.refused(reply)),
            },
            Stage::Port if code == 200 => DataStep::Send(self.after_channel()),
            Stage::Rest if code == 350 => {
                let command = self.command.clone();
                DataStep::Send(self.go(Stage::Command, command))
            }
            Stage::Command if reply.is_preliminary() => {
                self.stage = Stage::Transferring;
                DataStep::Transfer {
                    size_hint: size_hint(reply),
                }
            }
            // A final positive reply without a 1yz: done, nothing was transferred (RFC 959
            // §5.4 lists 226/250 for the transfer commands only after 125/150, but some
            // servers answer an empty LIST this way).
            Stage::Command | Stage::Transferring if (200..300).contains(&code) => {
                self.stage = Stage::Done;
                DataStep::Done(reply.clone())
            }
            _ => {
                let error = self.refused(reply);
                self.stage = Stage::Done;
                return Err(error);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(code: u16, text: &str) -> Reply {
        Reply::new(code, text)
    }

    fn passive(epsv: bool) -> Channel {
        Channel::Passive {
            control_peer: "127.0.0.1".parse().unwrap(),
            epsv,
        }
    }

    #[test]
    fn epsv_then_retr() {
        let (mut x, first) = DataExchange::new(Command::Retr(b"a".to_vec()), None, passive(true));
        assert_eq!(first, Command::Epsv { all: false });
        assert_eq!(
            x.on_reply(&r(229, "Entering Extended Passive Mode (|||40000|)"))
                .unwrap(),
            DataStep::Connect {
                addr: "127.0.0.1:40000".parse().unwrap(),
                announced: None
            }
        );
        assert_eq!(x.connected(), Command::Retr(b"a".to_vec()));
        assert_eq!(
            x.on_reply(&r(
                150,
                "Opening BINARY mode data connection for a (6 bytes)."
            ))
            .unwrap(),
            DataStep::Transfer { size_hint: Some(6) }
        );
        assert_eq!(
            x.on_reply(&r(226, "Transfer complete.")).unwrap(),
            DataStep::Done(r(226, "Transfer complete."))
        );
    }

    #[test]
    fn pasv_fallback_ignores_the_announced_address() {
        let (mut x, _) = DataExchange::new(Command::List(None), Some(0), passive(true));
        assert_eq!(
            x.on_reply(&r(500, "EPSV not understood")).unwrap(),
            DataStep::Send(Command::Pasv)
        );
        assert!(x.epsv_refused());
        assert_eq!(
            x.on_reply(&r(227, "Entering Passive Mode (10,1,2,3,156,64)."))
                .unwrap(),
            DataStep::Connect {
                addr: "127.0.0.1:40000".parse().unwrap(),
                announced: Some("10.1.2.3:40000".parse().unwrap()),
            }
        );
        // REST 0 is no restart at all.
        assert_eq!(x.connected(), Command::List(None));
    }

    #[test]
    fn rest_goes_right_before_the_transfer_and_its_refusal_is_an_error() {
        let (mut x, _) = DataExchange::new(Command::Retr(b"a".to_vec()), Some(100), passive(false));
        x.on_reply(&r(227, "(127,0,0,1,156,64)")).unwrap();
        assert_eq!(x.connected(), Command::Rest(100));
        assert_eq!(
            x.on_reply(&r(350, "Restart position accepted (100)."))
                .unwrap(),
            DataStep::Send(Command::Retr(b"a".to_vec()))
        );

        let (mut x, _) = DataExchange::new(Command::Retr(b"a".to_vec()), Some(100), passive(false));
        x.on_reply(&r(227, "(127,0,0,1,156,64)")).unwrap();
        x.connected();
        let err = x.on_reply(&r(502, "REST not implemented")).unwrap_err();
        assert_eq!(err.refused_verb(), Some("REST"));
    }

    #[test]
    fn active_mode_falls_back_from_eprt_to_port() {
        let listener: SocketAddr = "127.0.0.1:40001".parse().unwrap();
        let (mut x, first) = DataExchange::new(
            Command::Stor(b"up".to_vec()),
            None,
            Channel::Active {
                listener,
                eprt: true,
            },
        );
        assert_eq!(first, Command::Eprt(listener));
        assert_eq!(
            x.on_reply(&r(502, "no EPRT")).unwrap(),
            DataStep::Send(Command::Port(listener))
        );
        assert!(x.eprt_refused());
        assert_eq!(
            x.on_reply(&r(200, "PORT command successful")).unwrap(),
            DataStep::Send(Command::Stor(b"up".to_vec()))
        );
        assert_eq!(
            x.on_reply(&r(150, "Ok to send data.")).unwrap(),
            DataStep::Transfer { size_hint: None }
        );
        let err = x.on_reply(&r(552, "Quota exceeded")).unwrap_err();
        assert_eq!(err.refused_verb(), Some("STOR"));
    }

    #[test]
    fn refusals_of_the_transfer_command() {
        let (mut x, _) = DataExchange::new(Command::Retr(b"nope".to_vec()), None, passive(true));
        x.on_reply(&r(229, "(|||40000|)")).unwrap();
        x.connected();
        let err = x.on_reply(&r(550, "Failed to open file.")).unwrap_err();
        assert_eq!(err.refused_verb(), Some("RETR"));
        assert_eq!(err.reply().map(|r| r.code), Some(550));

        let (mut x, _) = DataExchange::new(Command::List(None), None, passive(true));
        assert!(
            x.on_reply(&r(425, "Can't open passive connection"))
                .is_err()
        );
        let (mut x, _) = DataExchange::new(Command::List(None), None, passive(true));
        assert!(matches!(
            x.on_reply(&r(229, "Entering Extended Passive Mode")),
            Err(ClientError::BadReply { what: "EPSV", .. })
        ));
    }
}
