//! Bounces: delivery status notifications (RFC 3464) in a `multipart/report` (RFC 6522),
//! sent from the null sender `<>` so that a bounce is never bounced back (RFC 5321 §4.5.5).
//!
//! The report has three parts: a human explanation, the machine-readable
//! `message/delivery-status` with a block per failed recipient, and the original message's
//! header section (`text/rfc822-headers`), which lets the sender recognise what failed without
//! the whole message coming back.

use std::time::SystemTime;

use crate::message::{format_date, new_message_id};
use crate::smtp::Reply;

/// A recipient that could not be delivered and why.
#[derive(Debug, Clone)]
pub struct Failure {
    pub rcpt: String,
    /// The last reply, ours or the remote server's.
    pub reply: Reply,
    /// The server that gave the reply, when it was a remote one.
    pub remote_mta: Option<String>,
}

/// What a bounce is about.
pub struct Bounce<'a> {
    /// Our host name: the reporting MTA.
    pub reporting_mta: &'a str,
    /// The original sender, who gets the bounce.
    pub to: &'a str,
    pub arrival: SystemTime,
    pub failures: &'a [Failure],
    /// The original message; only its header section is returned.
    pub original: &'a [u8],
}

impl Bounce<'_> {
    /// The bounce message in wire form (CRLF lines, 7-bit).
    pub fn to_bytes(&self) -> Vec<u8> {
        let boundary = format!("=_appnet-report-{:016x}", rand::random::<u64>());
        let mut out = String::new();
        let now = SystemTime::now();
        push_line(
            &mut out,
            &format!(
                "From: Mail Delivery System <MAILER-DAEMON@{}>",
                self.reporting_mta
            ),
        );
        push_line(&mut out, &format!("To: <{}>", self.to));
        push_line(&mut out, "Subject: Undelivered Mail Returned to Sender");
        push_line(&mut out, &format!("Date: {}", format_date(now)));
        push_line(
            &mut out,
            &format!("Message-ID: {}", new_message_id(self.reporting_mta)),
        );
        push_line(&mut out, "Auto-Submitted: auto-replied");
        push_line(&mut out, "MIME-Version: 1.0");
        push_line(
            &mut out,
            &format!(
                "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\""
            ),
        );
        push_line(&mut out, "");
        push_line(
            &mut out,
            "This is a MIME-encapsulated delivery status notification.",
        );
        push_line(&mut out, &format!("--{boundary}"));
        push_line(&mut out, "Content-Type: text/plain; charset=us-ascii");
        push_line(&mut out, "Content-Description: Notification");
        push_line(&mut out, "");
        push_line(
            &mut out,
            &format!("This is the mail system at host {}.", self.reporting_mta),
        );
        push_line(&mut out, "");
        push_line(
            &mut out,
            "Your message could not be delivered to one or more recipients:",
        );
        push_line(&mut out, "");
        for failure in self.failures {
            push_line(
                &mut out,
                &format!(
                    "<{}>: {}",
                    ascii(&failure.rcpt),
                    ascii(&failure.reply.to_string())
                ),
            );
        }
        push_line(&mut out, &format!("--{boundary}"));
        push_line(&mut out, "Content-Type: message/delivery-status");
        push_line(&mut out, "Content-Description: Delivery report");
        push_line(&mut out, "");
        push_line(
            &mut out,
            &format!("Reporting-MTA: dns; {}", self.reporting_mta),
        );
        push_line(
            &mut out,
            &format!("Arrival-Date: {}", format_date(self.arrival)),
        );
        for failure in self.failures {
            push_line(&mut out, "");
            push_line(
                &mut out,
                &format!("Final-Recipient: {}", recipient_field(&failure.rcpt)),
            );
            push_line(&mut out, "Action: failed");
            push_line(&mut out, &format!("Status: {}", status_of(&failure.reply)));
            if let Some(mta) = &failure.remote_mta {
                push_line(&mut out, &format!("Remote-MTA: dns; {mta}"));
            }
            // RFC 3464 §2.3.6: "smtp" only for a reply a server sent; our own diagnosis of a
            // failure (no answer, no MX) is ours.
            let kind = if failure.remote_mta.is_some() {
                "smtp"
            } else {
                "X-appnet"
            };
            push_line(
                &mut out,
                &format!(
                    "Diagnostic-Code: {kind}; {}",
                    ascii(&failure.reply.to_string())
                ),
            );
            push_line(
                &mut out,
                &format!("Last-Attempt-Date: {}", format_date(now)),
            );
        }
        push_line(&mut out, "");
        push_line(&mut out, &format!("--{boundary}"));
        push_line(&mut out, "Content-Type: text/rfc822-headers");
        push_line(&mut out, "Content-Description: Undelivered message headers");
        push_line(&mut out, "");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&crlf_lines(header_section(self.original)));
        bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        bytes
    }
}

fn push_line(out: &mut String, line: &str) {
    out.push_str(line);
    out.push_str("\r\n");
}

/// RFC 3464 §2.3.3 (and RFC 6533 for UTF-8 addresses): the address type and the address.
fn recipient_field(rcpt: &str) -> String {
    if rcpt.is_ascii() {
        format!("rfc822; {rcpt}")
    } else {
        format!("utf-8; {}", ascii(rcpt))
    }
}

/// The enhanced status code (RFC 3463), or one derived from the reply's class.
fn status_of(reply: &Reply) -> String {
    match reply.enhanced {
        Some(code) => code.to_string(),
        None if reply.is_permanent() => "5.0.0".into(),
        None => "4.0.0".into(),
    }
}

/// Non-ASCII text written as `\x{HEX}` (RFC 6533's embedded-unicode form), so the report stays
/// 7-bit.
fn ascii(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c.to_string()
            } else {
                format!("\\x{{{:X}}}", u32::from(c))
            }
        })
        .collect()
}

/// The bytes up to and including the blank line that ends the header section.
fn header_section(message: &[u8]) -> &[u8] {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 2)
        .or_else(|| {
            message
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|at| at + 1)
        });
    &message[..end.unwrap_or(message.len())]
}

/// `bytes` with every line ending a CRLF and the last line ended.
fn crlf_lines(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 2);
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let text = line
            .strip_suffix(b"\n")
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .unwrap_or(line);
        out.extend_from_slice(text);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    #[test]
    fn a_bounce_is_a_delivery_status_report_with_the_original_headers() {
        let original = b"From: alice@alpha.example\r\nSubject: lunch?\r\n\r\nsecret body\r\n";
        let failures = [Failure {
            rcpt: "nobody@beta.example".into(),
            reply: Reply::with_status(550, (5, 1, 1), "user unknown"),
            remote_mta: Some("mail.beta.example".into()),
        }];
        let bytes = Bounce {
            reporting_mta: "mail.alpha.example",
            to: "alice@alpha.example",
            arrival: SystemTime::UNIX_EPOCH,
            failures: &failures,
            original,
        }
        .to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("Final-Recipient: rfc822; nobody@beta.example\r\n"));
        assert!(text.contains("Status: 5.1.1\r\n"));
        assert!(text.contains("Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"));
        assert!(text.contains("Subject: lunch?\r\n"));
        assert!(!text.contains("secret body"));
        assert!(bytes.is_ascii());
        let parsed = Message::parse(&bytes).unwrap();
        assert_eq!(
            parsed.subject().as_deref(),
            Some("Undelivered Mail Returned to Sender")
        );
    }
}
