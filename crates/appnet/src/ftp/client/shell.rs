//! `appnet ftp URL`: an interactive shell in the manner of BSD `ftp` and `sftp`. Commands
//! come from standard input, one per line, so a piped script works as well as a terminal
//! (the prompt appears only on a terminal). Output a script may want — listings, `pwd`,
//! `size` — goes to standard output; transfer summaries and errors go to standard error.
//! A failed command does not end the shell, but the exit status is 1 if any failed; a lost
//! connection ends it with that failure's code.

use std::ffi::OsStr;
use std::io::{IsTerminal, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

use appnet_core::trace::Tracer;
use appnet_ftp::client::{Client, ClientError, DataMode, FtpUrl, StoreMode};
use tokio::sync::mpsc;

use super::{ConnectFlags, Failure, Target, connect, download, format_entries, upload};

const HELP: &str = "\
ls [PATH]                 list a directory (MLSD if the server has it, else LIST)
cd PATH                   change the remote directory
pwd                       print the remote directory
get REMOTE [LOCAL]        download a file
reget REMOTE [LOCAL]      resume a download into LOCAL (REST)
put LOCAL [REMOTE]        upload a file (STOR)
append LOCAL [REMOTE]     append to a remote file (APPE)
mkdir PATH                make a remote directory
rmdir PATH                remove a remote directory
rm PATH                   delete a remote file
rename FROM TO            rename a remote file or directory
size PATH                 print a remote file's size
lcd [DIR]                 change (or print) the local directory
active | passive          how data connections are made
help                      this list
quit                      log out and leave
Names with spaces go in quotes: get \"annual report.pdf\"";

/// Runs the shell; `Err` only when connecting fails.
pub(super) async fn run(
    url_text: &str,
    flags: &ConnectFlags,
    tracer: &Tracer,
) -> Result<ExitCode, Failure> {
    let url = FtpUrl::parse(url_text).map_err(ClientError::from)?;
    let mut client = connect(&url, flags, tracer).await?;
    let interactive = std::io::stdin().is_terminal();
    eprintln!(
        "Connected to {}{}: {}",
        url.authority(),
        if client.is_tls() { " (TLS)" } else { "" },
        appnet_ftp::client::show(client.greeting())
    );
    let mut failures = 0u32;
    if !url.path.is_empty()
        && let Err(err) = client.cwd(&url.path).await
    {
        eprintln!("cd: {err}");
        failures += 1;
    }
    let mut input = read_lines();
    loop {
        if interactive {
            eprint!("ftp> ");
            let _ = std::io::stderr().flush();
        }
        let Some(line) = input.recv().await else {
            break;
        };
        let Ok(text) = std::str::from_utf8(&line) else {
            eprintln!("the line is not UTF-8");
            failures += 1;
            continue;
        };
        let words = match split_words(text) {
            Ok(words) => words,
            Err(message) => {
                eprintln!("{message}");
                failures += 1;
                continue;
            }
        };
        let Some(verb) = words.first() else { continue };
        if verb.starts_with('#') {
            continue;
        }
        match execute(&mut client, &words).await {
            Ok(Flow::Go) => {}
            Ok(Flow::Quit) => break,
            Err(failure) => {
                eprintln!("{verb}: {}", failure.message);
                failures += 1;
                if failure.fatal {
                    eprintln!("the connection is lost");
                    return Ok(ExitCode::from(failure.code));
                }
            }
        }
    }
    if let Err(err) = client.quit().await {
        eprintln!("quit: {err}");
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Standard input's lines, read on a thread of its own (the workspace's tokio has no
/// `io-std`; a thread blocked in `read` costs nothing while the user thinks). The channel
/// holds one line, so a piped script is read no further ahead than it is run.
fn read_lines() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(1);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        loop {
            let mut line = Vec::new();
            match std::io::BufRead::read_until(&mut stdin, b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.blocking_send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

enum Flow {
    Go,
    Quit,
}

fn usage(text: &str) -> Failure {
    Failure::new(2, format!("usage: {text}"))
}

/// The local name for a remote path: its last segment.
fn local_name(remote: &str) -> PathBuf {
    let name = remote.rsplit('/').next().unwrap_or(remote);
    PathBuf::from(OsStr::new(name))
}

async fn execute(client: &mut Client, words: &[String]) -> Result<Flow, Failure> {
    let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    match (words[0].as_str(), args.as_slice()) {
        ("ls" | "dir", [] | [_]) => {
            let path = args.first().map(|p| p.as_bytes());
            let entries = client.list(path).await?;
            print!("{}", format_entries(&entries));
        }
        ("cd", [path]) => client.cwd(path.as_bytes()).await?,
        ("cdup", []) => client.cwd(b"..").await?,
        ("pwd", []) => println!("{}", client.pwd().await?),
        ("get" | "reget", [remote, rest @ ..]) if rest.len() <= 1 => {
            let local = rest
                .first()
                .map_or_else(|| local_name(remote), PathBuf::from);
            let resume = words[0] == "reget";
            let moved = download(
                client,
                remote.as_bytes(),
                &Target::File(local.clone()),
                resume,
            )
            .await?;
            eprintln!("{remote} → {}: {}", local.display(), moved.describe());
        }
        ("put" | "append", [local, rest @ ..]) if rest.len() <= 1 => {
            let local = PathBuf::from(local);
            let remote = match rest.first() {
                Some(remote) => remote.as_bytes().to_vec(),
                None => local
                    .file_name()
                    .ok_or_else(|| usage("put LOCAL [REMOTE]"))?
                    .as_bytes()
                    .to_vec(),
            };
            let mode = if words[0] == "append" {
                StoreMode::Append
            } else {
                StoreMode::Replace
            };
            let moved = upload(client, &local, &remote, mode).await?;
            eprintln!(
                "{} → {}: {}",
                local.display(),
                String::from_utf8_lossy(&remote),
                moved.describe()
            );
        }
        ("mkdir", [path]) => {
            client.mkdir(path.as_bytes()).await?;
        }
        ("rmdir", [path]) => client.rmdir(path.as_bytes()).await?,
        ("rm" | "delete", [path]) => client.delete(path.as_bytes()).await?,
        ("rename" | "mv", [from, to]) => client.rename(from.as_bytes(), to.as_bytes()).await?,
        ("size", [path]) => println!("{}", client.size(path.as_bytes()).await?),
        ("lcd", []) => println!("{}", local_dir()?),
        ("lcd", [dir]) => {
            std::env::set_current_dir(dir)
                .map_err(|err| Failure::new(2, format!("{dir}: {err}")))?;
            println!("{}", local_dir()?);
        }
        ("active", []) => client.set_mode(DataMode::Active),
        ("passive", []) => client.set_mode(DataMode::Passive),
        ("help" | "?", _) => println!("{HELP}"),
        ("quit" | "exit" | "bye", []) => return Ok(Flow::Quit),
        (verb, _) => {
            let known = HELP
                .lines()
                .find(|line| line.split_whitespace().next() == Some(verb));
            return Err(match known {
                Some(line) => usage(line.split("  ").next().unwrap_or(line).trim()),
                None => Failure::new(2, "unknown command (help lists them)"),
            });
        }
    }
    Ok(Flow::Go)
}

fn local_dir() -> Result<String, Failure> {
    std::env::current_dir()
        .map(|dir| dir.display().to_string())
        .map_err(|err| Failure::new(2, err.to_string()))
}

/// Splits a command line into words: blanks separate them; single quotes keep everything
/// literal, double quotes keep blanks, a backslash escapes the next character.
fn split_words(line: &str) -> Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.trim_end_matches(['\r', '\n']).chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("a quote is not closed"),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => word.push(chars.next().ok_or("a line ends in \\")?),
                        Some(c) => word.push(c),
                        None => return Err("a quote is not closed"),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next().ok_or("a line ends in \\")?);
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(
            split_words("get \"annual report.pdf\" 'a b'\r\n").unwrap(),
            vec!["get", "annual report.pdf", "a b"]
        );
        assert_eq!(
            split_words("  put a\\ b   보고서.txt ").unwrap(),
            vec!["put", "a b", "보고서.txt"]
        );
        assert_eq!(split_words("ls \"\"").unwrap(), vec!["ls", ""]);
        assert!(split_words("get \"open").is_err());
        assert!(split_words("").unwrap().is_empty());
    }

    #[test]
    fn local_names_are_the_last_segment() {
        assert_eq!(local_name("pub/보고서.txt"), PathBuf::from("보고서.txt"));
        assert_eq!(local_name("a"), PathBuf::from("a"));
    }
}
