//! `appnet get URL`: a curl-like command on the appnet-http client. The flags are curl's (`-o`,
//! `-I`, `-i`, `-r`, `-H`, `-L`, `-X`, `-d`, `-f`, `-s`, `-S`, `-v`, `--cacert`,
//! `--connect-timeout`, `-m`), and so are the exit codes of the failures users meet most: 6 could
//! not resolve, 7 could not connect, 22 HTTP error with `-f`, 28 timeout, 47 too many redirects.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use appnet_core::trace::Tracer;
use appnet_http::client::range::check_partial;
use appnet_http::client::{
    Client, ClientConfig, ClientError, Observed, Request, ResponseStream, Url, UrlError,
};
use appnet_http::proto::{Method, RequestHead, ResponseHead};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The `appnet get` flags (curl's names).
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The URL: http:// or https:// (without a scheme, http:// is assumed).
    pub url: String,
    /// Write the body to FILE instead of standard output (`-` is standard output).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Send HEAD and print the response head.
    #[arg(short = 'I', long = "head")]
    pub head: bool,
    /// Print the response head before the body.
    #[arg(short = 'i', long = "include")]
    pub include: bool,
    /// Ask for a byte range: `0-99`, `100-`, `-500` or several joined by commas.
    #[arg(short = 'r', long = "range", value_name = "RANGE")]
    pub range: Option<String>,
    /// Add a header field, `-H 'Name: value'` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Follow redirects (301, 302, 303, 307, 308).
    #[arg(short = 'L', long = "location")]
    pub location: bool,
    /// Redirects followed at most with -L.
    #[arg(long = "max-redirs", value_name = "N", default_value_t = 10)]
    pub max_redirs: u32,
    /// The request method (default GET, or POST with -d).
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub method: Option<String>,
    /// Send DATA as the body (POST unless -X says otherwise); `@FILE` sends a file.
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    pub data: Option<String>,
    /// Trust the CA certificates in this PEM file for https [default: appnet's local CA].
    #[arg(long = "cacert", value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Seconds allowed for resolving, connecting and the TLS handshake.
    #[arg(long = "connect-timeout", value_name = "SECONDS", value_parser = crate::cli::parse_seconds)]
    pub connect_timeout: Option<f64>,
    /// Seconds allowed for the whole transfer.
    #[arg(short = 'm', long = "max-time", value_name = "SECONDS", value_parser = crate::cli::parse_seconds)]
    pub max_time: Option<f64>,
    /// Fail with exit code 22 on HTTP status 400 and above, writing no body.
    #[arg(short = 'f', long = "fail")]
    pub fail: bool,
    /// No progress bar and no error messages.
    #[arg(short = 's', long = "silent")]
    pub silent: bool,
    /// With -s, still print error messages.
    #[arg(short = 'S', long = "show-error")]
    pub show_error: bool,
    /// Print the request and response heads on standard error (`> ` and `< ` lines).
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
}

/// curl's exit codes (see curl's `libcurl-errors(3)`).
mod exit {
    pub const UNSUPPORTED_PROTOCOL: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const URL_MALFORMAT: u8 = 3;
    pub const COULDNT_RESOLVE_HOST: u8 = 6;
    pub const COULDNT_CONNECT: u8 = 7;
    pub const WEIRD_SERVER_REPLY: u8 = 8;
    pub const HTTP_RETURNED_ERROR: u8 = 22;
    pub const WRITE_ERROR: u8 = 23;
    pub const READ_ERROR: u8 = 26;
    pub const OPERATION_TIMEDOUT: u8 = 28;
    pub const RANGE_ERROR: u8 = 33;
    pub const SSL_CONNECT_ERROR: u8 = 35;
    pub const TOO_MANY_REDIRECTS: u8 = 47;
    pub const GOT_NOTHING: u8 = 52;
    pub const SEND_ERROR: u8 = 55;
    pub const RECV_ERROR: u8 = 56;
    pub const FILESIZE_EXCEEDED: u8 = 63;
    pub const SSL_CACERT_BADFILE: u8 = 77;
}

/// A failure and the exit code it earns.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Failure {
        Failure::new(exit_code(&error), error.to_string())
    }
}

/// The curl exit code for a client error.
fn exit_code(error: &ClientError) -> u8 {
    use ClientError::*;
    match error {
        Url(UrlError::UnsupportedScheme(_)) | RedirectDowngrade { .. } => {
            exit::UNSUPPORTED_PROTOCOL
        }
        Url(_) => exit::URL_MALFORMAT,
        InvalidRequest(_) | Encode(_) => exit::USAGE,
        Resolve { .. } => exit::COULDNT_RESOLVE_HOST,
        Connect { .. } => exit::COULDNT_CONNECT,
        ConnectTimeout { .. } | ReadTimeout { .. } => exit::OPERATION_TIMEDOUT,
        TlsConfig(_) => exit::SSL_CACERT_BADFILE,
        Tls { .. } => exit::SSL_CONNECT_ERROR,
        Send { .. } => exit::SEND_ERROR,
        Receive { .. } => exit::RECV_ERROR,
        EmptyReply { .. } => exit::GOT_NOTHING,
        Protocol { .. } | BadLocation { .. } => exit::WEIRD_SERVER_REPLY,
        TooManyRedirects { .. } => exit::TOO_MANY_REDIRECTS,
        RangeMismatch { .. } | RangeIgnored { .. } => exit::RANGE_ERROR,
        BodyTooLarge { .. } => exit::FILESIZE_EXCEEDED,
    }
}

/// Runs `appnet get`.
pub async fn run(args: GetArgs, tracer: &Tracer) -> anyhow::Result<ExitCode> {
    let quiet = args.silent && !args.show_error;
    let fetching = fetch(&args, tracer);
    let outcome = match args.max_time.map(Duration::from_secs_f64) {
        None => fetching.await,
        Some(limit) => tokio::time::timeout(limit, fetching)
            .await
            .unwrap_or_else(|_| {
                Err(Failure::new(
                    exit::OPERATION_TIMEDOUT,
                    format!("operation took longer than {limit:?} (--max-time)"),
                ))
            }),
    };
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(failure) => {
            if !quiet {
                eprintln!("appnet get: ({}) {}", failure.code, failure.message);
            }
            Ok(ExitCode::from(failure.code))
        }
    }
}

/// The heads `-i` and `-I` print: one per response, redirects included.
type Heads = Arc<Mutex<Vec<ResponseHead>>>;

async fn fetch(args: &GetArgs, tracer: &Tracer) -> Result<(), Failure> {
    let request = build_request(args)?;
    let heads: Heads = Arc::default();
    let client = build_client(args, tracer, heads.clone())?;
    let mut stream = client.start(request).await?;
    if args.fail && stream.status() >= 400 {
        return Err(Failure::new(
            exit::HTTP_RETURNED_ERROR,
            format!("the requested URL returned error: {}", stream.status()),
        ));
    }
    check_range(args, &stream)?;
    let mut sink = open_sink(args)?;
    if args.include || args.head {
        let heads = std::mem::take(&mut *heads.lock().unwrap_or_else(|p| p.into_inner()));
        for head in heads {
            write(&mut sink, &head.encode().unwrap_or_default())?;
        }
    }
    if !args.head {
        copy_body(args, &mut stream, &mut sink).await?;
    }
    sink.flush()
        .map_err(|err| Failure::new(exit::WRITE_ERROR, format!("cannot write output: {err}")))
}

/// The request the flags describe.
fn build_request(args: &GetArgs) -> Result<Request, Failure> {
    let text = if args.url.contains("://") {
        args.url.clone()
    } else {
        format!("http://{}", args.url)
    };
    let url = Url::parse(&text).map_err(ClientError::from)?;
    let method = match (&args.method, args.head, &args.data) {
        (Some(name), _, _) => Method::parse(name.as_bytes())
            .map_err(|_| Failure::new(exit::USAGE, format!("`{name}` is not a method")))?,
        (None, true, _) => Method::Head,
        (None, false, Some(_)) => Method::Post,
        (None, false, None) => Method::Get,
    };
    let mut request = Request::new(method, url);
    for line in &args.headers {
        let (name, value) = line.split_once(':').ok_or_else(|| {
            Failure::new(
                exit::USAGE,
                format!("`{line}` is not a `Name: value` header"),
            )
        })?;
        request.headers.append(name.trim(), value.trim());
    }
    if let Some(range) = &args.range {
        request.headers.insert("Range", format!("bytes={range}"));
    }
    if let Some(data) = &args.data {
        request.body = Some(read_data(data)?);
        if !request.headers.contains("content-type") {
            request
                .headers
                .append("Content-Type", "application/x-www-form-urlencoded");
        }
    }
    Ok(request)
}

/// `-d DATA` or `-d @FILE`.
fn read_data(data: &str) -> Result<Vec<u8>, Failure> {
    match data.strip_prefix('@') {
        Some(path) => std::fs::read(path)
            .map_err(|err| Failure::new(exit::READ_ERROR, format!("cannot read {path}: {err}"))),
        None => Ok(data.as_bytes().to_vec()),
    }
}

fn build_client(args: &GetArgs, tracer: &Tracer, heads: Heads) -> Result<Client, Failure> {
    let ca_pem = match &args.cacert {
        None => None,
        Some(path) => Some(std::fs::read(path).map_err(|err| {
            Failure::new(
                exit::SSL_CACERT_BADFILE,
                format!("cannot read {}: {err}", path.display()),
            )
        })?),
    };
    let defaults = ClientConfig::default();
    let config = ClientConfig {
        connect_timeout: args
            .connect_timeout
            .map_or(defaults.connect_timeout, Duration::from_secs_f64),
        read_timeout: args
            .max_time
            .map_or(Duration::from_secs(300), Duration::from_secs_f64),
        follow_redirects: args.location,
        max_redirects: args.max_redirs,
        max_idle_per_host: 1,
        ca_pem,
        ..defaults
    };
    let verbose = args.verbose;
    let client = Client::new(config)?
        .with_tracer(tracer.clone())
        .with_observer(move |event| observe(event, verbose, &heads));
    Ok(client)
}

/// `-v` lines on stderr, and the heads `-i`/`-I` print later.
fn observe(event: &Observed<'_>, verbose: bool, heads: &Heads) {
    match event {
        Observed::Connection { peer, reused } if verbose => {
            let how = if *reused { "Re-using" } else { "Connected to" };
            eprintln!("* {how} {peer}");
        }
        Observed::Request(head) if verbose => print_request(head),
        Observed::Interim(head) if verbose => print_response(head),
        Observed::Response(head) => {
            if verbose {
                print_response(head);
            }
            heads
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((*head).clone());
        }
        _ => {}
    }
}

fn print_request(head: &RequestHead) {
    print_lines('>', &head.encode().unwrap_or_default());
}

fn print_response(head: &ResponseHead) {
    print_lines('<', &head.encode().unwrap_or_default());
}

/// curl's `-v` style: each head line after `> ` or `< `, the empty line as a bare marker.
fn print_lines(marker: char, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let mut err = std::io::stderr().lock();
    for line in text.split("\r\n").take_while(|line| !line.is_empty()) {
        let _ = writeln!(err, "{marker} {line}");
    }
    let _ = writeln!(err, "{marker}");
}

/// With `-r a-b` or `-r a-`, a 206 must carry exactly that range.
fn check_range(args: &GetArgs, stream: &ResponseStream) -> Result<(), Failure> {
    let Some(spec) = &args.range else {
        return Ok(());
    };
    if stream.status() != 206 {
        return Ok(());
    }
    let Some((start, end)) = spec.split_once('-') else {
        return Ok(());
    };
    let (Ok(start), end) = (start.parse::<u64>(), end.parse::<u64>().ok()) else {
        return Ok(());
    };
    if spec.contains(',') || (end.is_none() && !spec.ends_with('-')) {
        return Ok(());
    }
    check_partial(stream.headers(), start, end)?;
    Ok(())
}

fn open_sink(args: &GetArgs) -> Result<Box<dyn Write + Send>, Failure> {
    match &args.output {
        Some(path) if path.as_os_str() != "-" => {
            let file = File::create(path).map_err(|err| {
                Failure::new(
                    exit::WRITE_ERROR,
                    format!("cannot create {}: {err}", path.display()),
                )
            })?;
            Ok(Box::new(BufWriter::new(file)))
        }
        _ => Ok(Box::new(BufWriter::new(std::io::stdout()))),
    }
}

fn write(sink: &mut Box<dyn Write + Send>, bytes: &[u8]) -> Result<(), Failure> {
    sink.write_all(bytes)
        .map_err(|err| Failure::new(exit::WRITE_ERROR, format!("cannot write output: {err}")))
}

/// The body into `sink`, with a progress bar when writing to a file for a person watching.
async fn copy_body(
    args: &GetArgs,
    stream: &mut ResponseStream,
    sink: &mut Box<dyn Write + Send>,
) -> Result<(), Failure> {
    let to_file = args.output.as_ref().is_some_and(|p| p.as_os_str() != "-");
    let show = to_file && !args.silent && !args.verbose && std::io::stderr().is_terminal();
    let bar = show.then(|| progress_bar(stream.content_length()));
    while let Some(chunk) = stream.chunk().await? {
        write(sink, &chunk)?;
        if let Some(bar) = &bar {
            bar.inc(chunk.len() as u64);
        }
    }
    if let Some(bar) = bar {
        bar.finish();
    }
    Ok(())
}

/// Bytes, rate and ETA when the length is known; a spinner otherwise.
fn progress_bar(len: Option<u64>) -> ProgressBar {
    let template = match len {
        Some(_) => "{bytes:>10}/{total_bytes} [{wide_bar}] {bytes_per_sec} ETA {eta}",
        None => "{spinner} {bytes:>10} {bytes_per_sec}",
    };
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: GetArgs,
    }

    fn parse(argv: &[&str]) -> GetArgs {
        Wrapper::parse_from(std::iter::once("get").chain(argv.iter().copied())).args
    }

    #[test]
    fn flags_build_the_request() {
        let args = parse(&[
            "-X",
            "PUT",
            "-H",
            "X-One: 1",
            "-H",
            "Accept:text/plain",
            "-r",
            "0-9",
            "-d",
            "a=1",
            "127.0.0.1:8080/x",
        ]);
        let request = build_request(&args).ok().unwrap();
        assert_eq!(request.method, Method::Put);
        assert_eq!(request.url.to_string(), "http://127.0.0.1:8080/x");
        assert_eq!(request.headers.get("x-one"), Some("1"));
        assert_eq!(request.headers.get("accept"), Some("text/plain"));
        assert_eq!(request.headers.get("range"), Some("bytes=0-9"));
        assert_eq!(
            request.headers.get("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(request.body.as_deref(), Some(&b"a=1"[..]));
        assert_eq!(
            build_request(&parse(&["-I", "http://h/"]))
                .ok()
                .unwrap()
                .method,
            Method::Head
        );
        assert_eq!(
            build_request(&parse(&["-d", "x", "http://h/"]))
                .ok()
                .unwrap()
                .method,
            Method::Post
        );
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        let bad_header = build_request(&parse(&["-H", "NoColon", "http://h/"]));
        assert_eq!(bad_header.err().map(|f| f.code), Some(exit::USAGE));
        let bad_method = build_request(&parse(&["-X", "G T", "http://h/"]));
        assert_eq!(bad_method.err().map(|f| f.code), Some(exit::USAGE));
        let bad_url = build_request(&parse(&["http://h:99999/"]));
        assert_eq!(bad_url.err().map(|f| f.code), Some(exit::URL_MALFORMAT));
        let ftp = build_request(&parse(&["ftp://h/"]));
        assert_eq!(ftp.err().map(|f| f.code), Some(exit::UNSUPPORTED_PROTOCOL));
    }

    #[test]
    fn exit_codes_follow_curl() {
        let timeout = ClientError::ReadTimeout {
            peer: "127.0.0.1:1".parse().unwrap(),
            timeout: Duration::from_secs(1),
        };
        assert_eq!(exit_code(&timeout), 28);
        assert_eq!(exit_code(&ClientError::TooManyRedirects { max: 1 }), 47);
        let refused = ClientError::Connect {
            host: "h".into(),
            source: std::io::ErrorKind::ConnectionRefused.into(),
        };
        assert_eq!(exit_code(&refused), 7);
        let unknown = ClientError::Resolve {
            host: "h".into(),
            reason: "no".into(),
        };
        assert_eq!(exit_code(&unknown), 6);
    }
}
