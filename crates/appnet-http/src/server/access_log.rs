//! The access log in the combined format that nginx and Apache write by default, so the usual
//! log tools read it: `peer - - [time] "request line" status bytes "referer" "user agent"`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

use crate::proto::Request;

/// Where log lines go.
pub enum AccessLog {
    Off,
    Stdout,
    File(Mutex<BufWriter<File>>),
}

/// One served request.
pub struct LogLine<'a> {
    pub peer: SocketAddr,
    pub time: SystemTime,
    pub request: &'a Request,
    pub status: u16,
    pub bytes: u64,
}

impl AccessLog {
    /// `off`, `-` (standard output) or a file to append to.
    pub fn open(target: &str) -> io::Result<AccessLog> {
        Ok(match target {
            "off" => AccessLog::Off,
            "-" => AccessLog::Stdout,
            path => AccessLog::File(Mutex::new(BufWriter::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(Path::new(path))?,
            ))),
        })
    }

    /// Writes one line; a failing log never fails a request.
    pub fn write(&self, line: &LogLine<'_>) {
        match self {
            AccessLog::Off => {}
            AccessLog::Stdout => {
                let _ = writeln!(io::stdout().lock(), "{}", combined(line));
            }
            AccessLog::File(file) => {
                if let Ok(mut file) = file.lock() {
                    let _ = writeln!(file, "{}", combined(line));
                    let _ = file.flush();
                }
            }
        }
    }
}

/// The combined log format line.
pub fn combined(line: &LogLine<'_>) -> String {
    let request = line.request;
    let quoted = |value: Option<&str>| value.map_or_else(|| "-".to_owned(), escape);
    format!(
        "{} - - [{}] \"{} {} {}\" {} {} \"{}\" \"{}\"",
        line.peer.ip(),
        clf_time(line.time),
        request.method.as_str(),
        escape(&request.target),
        request.version,
        line.status,
        line.bytes,
        quoted(request.headers.get("referer")),
        quoted(request.headers.get("user-agent")),
    )
}

/// Quotes and backslashes escaped, control bytes as `\xHH`, as nginx logs them: a request line
/// must not be able to forge a log line.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\x{:02X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// `10/Oct/2000:13:55:36 +0000` (always UTC).
fn clf_time(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let (year, month, day) = crate::semantics::date::civil_from_days(days as i64);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS
        .get(usize::from(month).saturating_sub(1))
        .copied()
        .unwrap_or("Jan");
    let rest = secs % 86_400;
    format!(
        "{day:02}/{month}/{year}:{:02}:{:02}:{:02} +0000",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Method;
    use std::time::Duration;

    #[test]
    fn lines_follow_the_combined_format() {
        let mut request = Request::new(Method::Get, "/a\"b");
        request.headers.append("User-Agent", "curl/8.0");
        let line = LogLine {
            peer: "127.0.0.1:5555".parse().unwrap(),
            time: SystemTime::UNIX_EPOCH + Duration::from_secs(971_186_136),
            request: &request,
            status: 200,
            bytes: 2326,
        };
        assert_eq!(
            combined(&line),
            "127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"GET /a\\\"b HTTP/1.1\" 200 2326 \"-\" \"curl/8.0\""
        );
    }
}
