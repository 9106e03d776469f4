//! The sans-IO core of the UDP programs: what the upper-case server answers to a datagram, how a ping
//! probe is written and its reply recognised, and the ping statistics. No sockets here.
//!
//! The service is the classic first socket program: the client sends a line of text, the server
//! sends it back in upper case. Upper-casing is Unicode-aware (`ß` → `SS`, `é` → `É`); scripts
//! without case, such as Korean Hangul, pass through unchanged.

use std::time::Duration;

/// The largest UDP payload over IPv4: 65,535 − 8 (UDP header) − 20 (IPv4 header).
pub const MAX_DATAGRAM: usize = 65_507;

/// The server's answer to one datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EchoReply {
    /// The datagram's text in upper case.
    Upper(String),
    /// The datagram could not be answered; the text explains why and is sent back as is.
    Error(String),
}

impl EchoReply {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            EchoReply::Upper(text) | EchoReply::Error(text) => text.as_bytes(),
        }
    }
}

/// Prefix of every error reply, so clients can tell an error from an upper-cased text.
pub const ERROR_PREFIX: &str = "ERROR: ";

/// Answers one datagram: its text upper-cased, or an error reply for invalid UTF-8 or for a text
/// whose upper case would not fit in one datagram.
pub fn answer(datagram: &[u8]) -> EchoReply {
    let text = match std::str::from_utf8(datagram) {
        Ok(text) => text,
        Err(err) => {
            return EchoReply::Error(format!(
                "{ERROR_PREFIX}datagram is not valid UTF-8 (invalid byte at offset {})",
                err.valid_up_to()
            ));
        }
    };
    let upper = text.to_uppercase();
    if upper.len() > MAX_DATAGRAM {
        return EchoReply::Error(format!(
            "{ERROR_PREFIX}upper-case text is {} bytes, more than one datagram holds ({MAX_DATAGRAM})",
            upper.len()
        ));
    }
    EchoReply::Upper(upper)
}

/// A one-line, quoted, length-bounded rendering of a datagram for traces and output.
pub fn summarize(datagram: &[u8]) -> String {
    const SHOWN_CHARS: usize = 60;
    let text = String::from_utf8_lossy(datagram);
    let mut shown: String = text
        .chars()
        .take(SHOWN_CHARS)
        .collect::<String>()
        .escape_debug()
        .collect();
    if text.chars().count() > SHOWN_CHARS {
        shown.push('…');
    }
    format!("\"{shown}\" ({} bytes)", datagram.len())
}

/// The text of ping probe `seq`: `ping <seq> xxx…`, padded with `x` to `size` bytes when that is longer.
/// The server's upper-case reply (`PING <seq> ...`) still carries the sequence number.
pub fn ping_probe(seq: u32, size: usize) -> Vec<u8> {
    let mut probe = format!("ping {seq} ").into_bytes();
    let len = size.clamp(probe.len(), MAX_DATAGRAM);
    probe.resize(len, b'x');
    probe
}

/// The sequence number a reply to [`ping_probe`] answers, if it is one.
pub fn ping_reply_seq(reply: &[u8]) -> Option<u32> {
    let rest = reply.strip_prefix(b"PING ")?;
    let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// Round-trip statistics of a ping run, reported like ping(8).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PingStats {
    pub transmitted: u32,
    rtts: Vec<Duration>,
}

impl PingStats {
    pub fn record_sent(&mut self) {
        self.transmitted += 1;
    }

    pub fn record_reply(&mut self, rtt: Duration) {
        self.rtts.push(rtt);
    }

    pub fn received(&self) -> u32 {
        u32::try_from(self.rtts.len()).unwrap_or(u32::MAX)
    }

    /// Lost probes as a percentage of those sent (0 when none were sent).
    pub fn loss_percent(&self) -> f64 {
        if self.transmitted == 0 {
            return 0.0;
        }
        100.0 * f64::from(self.transmitted.saturating_sub(self.received()))
            / f64::from(self.transmitted)
    }

    /// min/avg/max/mdev in milliseconds, like ping's `rtt` line; `None` when nothing came back.
    pub fn rtt_summary_ms(&self) -> Option<[f64; 4]> {
        let ms: Vec<f64> = self
            .rtts
            .iter()
            .map(|rtt| rtt.as_secs_f64() * 1e3)
            .collect();
        let min = ms.iter().copied().reduce(f64::min)?;
        let max = ms.iter().copied().reduce(f64::max)?;
        let avg = ms.iter().sum::<f64>() / ms.len() as f64;
        let mdev = (ms.iter().map(|x| (x - avg).powi(2)).sum::<f64>() / ms.len() as f64).sqrt();
        Some([min, avg, max, mdev])
    }

    /// The closing lines ping prints, for `target`, after `elapsed`.
    pub fn report(&self, target: &str, elapsed: Duration) -> String {
        let mut out = format!(
            "--- {target} ping statistics ---\n{} packets transmitted, {} received, {}% packet loss, time {}ms\n",
            self.transmitted,
            self.received(),
            format_percent(self.loss_percent()),
            elapsed.as_millis()
        );
        if let Some([min, avg, max, mdev]) = self.rtt_summary_ms() {
            out.push_str(&format!(
                "rtt min/avg/max/mdev = {min:.3}/{avg:.3}/{max:.3}/{mdev:.3} ms\n"
            ));
        }
        out
    }
}

fn format_percent(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ascii_is_upper_cased() {
        assert_eq!(
            answer(b"hello, world 42"),
            EchoReply::Upper("HELLO, WORLD 42".into())
        );
    }

    #[test]
    fn unicode_is_upper_cased_and_korean_passes_through() {
        assert_eq!(
            answer("안녕하세요 hello".as_bytes()),
            EchoReply::Upper("안녕하세요 HELLO".into())
        );
        assert_eq!(
            answer("straße é".as_bytes()),
            EchoReply::Upper("STRASSE É".into())
        );
    }

    #[test]
    fn invalid_utf8_gets_an_error_reply() {
        let reply = answer(b"ab\xffcd");
        let EchoReply::Error(text) = reply else {
            panic!("expected an error reply")
        };
        assert!(text.starts_with(ERROR_PREFIX));
        assert!(text.contains("offset 2"), "{text}");
    }

    #[test]
    fn the_largest_datagram_is_answered_and_growth_past_it_is_refused() {
        let largest = vec![b'a'; MAX_DATAGRAM];
        assert_eq!(
            answer(&largest).as_bytes(),
            vec![b'A'; MAX_DATAGRAM].as_slice()
        );
        // "ß" (2 bytes) upper-cases to "SS" (2 bytes), but "ŉ" (2 bytes) becomes "ʼN" (3 bytes).
        let growing = "ŉ".repeat(MAX_DATAGRAM / 2);
        assert!(matches!(answer(growing.as_bytes()), EchoReply::Error(_)));
    }

    #[test]
    fn summaries_are_quoted_and_bounded() {
        assert_eq!(summarize(b"hi\n"), "\"hi\\n\" (3 bytes)");
        let long = summarize(&[b'a'; 1000]);
        assert!(long.ends_with("…\" (1000 bytes)"));
        assert!(long.chars().count() < 80);
    }

    #[test]
    fn ping_replies_carry_their_sequence_number() {
        let probe = ping_probe(7, 64);
        assert_eq!(probe.len(), 64);
        assert_eq!(ping_reply_seq(answer(&probe).as_bytes()), Some(7));
        assert_eq!(
            ping_reply_seq(answer(&ping_probe(12, 0)).as_bytes()),
            Some(12)
        );
        assert_eq!(ping_reply_seq(b"PONG 1"), None);
        assert_eq!(ping_reply_seq(b"PING x"), None);
    }

    #[test]
    fn statistics_match_ping() {
        let mut stats = PingStats::default();
        for ms in [1, 2, 3] {
            stats.record_sent();
            stats.record_reply(Duration::from_millis(ms));
        }
        stats.record_sent();
        assert_eq!(stats.loss_percent(), 25.0);
        let [min, avg, max, mdev] = stats.rtt_summary_ms().unwrap();
        assert_eq!((min, avg, max), (1.0, 2.0, 3.0));
        assert!((mdev - 0.816).abs() < 0.001);
        let report = stats.report("127.0.0.1:12000", Duration::from_millis(3010));
        assert!(report.contains("4 packets transmitted, 3 received, 25% packet loss, time 3010ms"));
        assert!(report.contains("rtt min/avg/max/mdev = 1.000/2.000/3.000/0.816 ms"));
    }

    #[test]
    fn no_replies_means_no_rtt_line() {
        let mut stats = PingStats::default();
        stats.record_sent();
        assert!(stats.rtt_summary_ms().is_none());
        assert!(
            stats
                .report("x", Duration::ZERO)
                .contains("100% packet loss")
        );
    }

    proptest! {
        #[test]
        fn any_datagram_gets_a_bounded_reply(datagram in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let reply = answer(&datagram);
            prop_assert!(reply.as_bytes().len() <= MAX_DATAGRAM);
            if let EchoReply::Upper(text) = reply {
                prop_assert_eq!(text, String::from_utf8(datagram).unwrap().to_uppercase());
            }
        }

        #[test]
        fn probes_round_trip_their_sequence(seq in any::<u32>(), size in 0usize..2000) {
            prop_assert_eq!(ping_reply_seq(answer(&ping_probe(seq, size)).as_bytes()), Some(seq));
        }
    }
}
