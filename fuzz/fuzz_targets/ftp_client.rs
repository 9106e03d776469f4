//! The FTP client's side on any bytes a server might send: replies cut into reads through the
//! reply parser, then into the login and data-exchange state machines, and the same bytes as
//! an MLSD and a LIST listing. Never a panic; the state machines always end or ask for more.
#![no_main]

mod common;

use appnet_ftp::client::{
    Channel, Credentials, DataExchange, ListingFormat, ListingParser, Login, LoginStep,
};
use appnet_ftp::proto::command::Command;
use appnet_ftp::proto::reply::ReplyParser;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&seed, stream)) = input.split_first() else {
        return;
    };
    for format in [ListingFormat::Mlsd, ListingFormat::List] {
        let mut listing = ListingParser::new(format);
        let fed = common::reads(seed, stream).all(|piece| listing.feed(piece).is_ok());
        if fed {
            let _ = listing.finish();
        }
    }

    let mut replies = ReplyParser::default();
    let mut login = Login::new(
        Credentials {
            user: "u".into(),
            password: "p".into(),
        },
        seed & 1 == 1,
    );
    let channel = if seed & 2 == 0 {
        Channel::Passive {
            control_peer: "127.0.0.1".parse().unwrap(),
            epsv: true,
        }
    } else {
        Channel::Active {
            listener: "127.0.0.1:40000".parse().unwrap(),
            eprt: true,
        }
    };
    let (mut exchange, _first) = DataExchange::new(Command::Retr(b"f".to_vec()), Some(5), channel);
    let mut logged_in = false;
    for piece in common::reads(seed, stream) {
        replies.feed(piece);
        while let Some(reply) = replies.next_reply() {
            let Ok(reply) = reply else { return };
            if !logged_in {
                match login.on_reply(&reply) {
                    Ok(LoginStep::StartTls) => {
                        let _ = login.tls_established();
                    }
                    Ok(_) => logged_in = login.is_done(),
                    Err(_) => return,
                }
            } else if exchange.on_reply(&reply).is_err() {
                return;
            }
        }
    }
});
