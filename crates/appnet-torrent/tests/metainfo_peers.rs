//! Metainfo interop: .torrent files made by mktorrent load here with the info-hash, files and
//! pieces that transmission-show and aria2c report; ours load in transmission-show and aria2c
//! with the same; and for one directory and piece length ours equals mktorrent's byte for byte
//! in the info dictionary.

use std::fs;
use std::path::Path;
use std::process::Command;

use appnet_testkit::require_peer;
use appnet_torrent::metainfo::{CreateOptions, InfoHash, Metainfo, create, create_with};

/// What a peer program says about a .torrent.
#[derive(Debug, PartialEq, Eq)]
struct Shown {
    info_hash: InfoHash,
    /// Paths relative to the download directory, in torrent order.
    files: Vec<String>,
    pieces: u32,
}

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(require_peer(program))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The value after `label` on the first line that has it.
fn field<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.trim().strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} in {text}"))
        .trim()
}

/// `transmission-show`: `Hash: …`, `Piece Count: …`, and under FILES lines `  path (size)`.
fn transmission_show(torrent: &Path) -> Shown {
    let text = run("transmission-show", &[torrent.to_str().unwrap()]);
    let files = text
        .lines()
        .skip_while(|line| line.trim() != "FILES")
        .skip(1)
        .filter_map(|line| line.strip_prefix("  "))
        .filter_map(|line| line.rsplit_once(" (").map(|(path, _)| path.to_owned()))
        .collect();
    Shown {
        info_hash: InfoHash::from_hex(field(&text, "Hash:")).unwrap(),
        files,
        pieces: field(&text, "Piece Count:").parse().unwrap(),
    }
}

/// `aria2c -S`: `Info Hash: …`, `The Number of Pieces: …`, and files as `  1|./path`.
fn aria2_show(torrent: &Path) -> Shown {
    let text = run("aria2c", &["-S", torrent.to_str().unwrap()]);
    let files = text
        .lines()
        .filter_map(|line| line.split_once("|./").map(|(_, path)| path.to_owned()))
        .collect();
    Shown {
        info_hash: InfoHash::from_hex(field(&text, "Info Hash:")).unwrap(),
        files,
        pieces: field(&text, "The Number of Pieces:").parse().unwrap(),
    }
}

fn ours(bytes: &[u8]) -> Shown {
    let meta = Metainfo::parse(bytes).unwrap();
    Shown {
        info_hash: meta.info_hash(),
        files: meta
            .info()
            .files()
            .iter()
            .map(|file| file.path.join("/"))
            .collect(),
        pieces: meta.info().piece_count(),
    }
}

/// A directory with nested, hidden, empty and oddly named files; 100,008 bytes in all.
fn sample_dir(parent: &Path) -> std::path::PathBuf {
    let root = parent.join("sample");
    fs::create_dir_all(root.join("sub/deeper")).unwrap();
    fs::create_dir_all(root.join("a")).unwrap();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 256) as u8).collect();
    fs::write(root.join("big.bin"), data).unwrap();
    fs::write(root.join("sub/deeper/note.txt"), b"note\n").unwrap();
    fs::write(root.join(".hidden"), b"h").unwrap();
    fs::write(root.join("a.b"), b"x").unwrap();
    fs::write(root.join("a/c"), b"y").unwrap();
    fs::write(root.join("empty"), b"").unwrap();
    root
}

fn mktorrent(args: &[&str], target: &Path, out: &Path) -> Vec<u8> {
    let mut all = args.to_vec();
    all.extend(["-o", out.to_str().unwrap(), target.to_str().unwrap()]);
    run("mktorrent", &all);
    fs::read(out).unwrap()
}

#[test]
fn mktorrent_multi_file_torrent_loads_with_the_peers_info_hash() {
    let dir = tempfile::tempdir().unwrap();
    let root = sample_dir(dir.path());
    let out = dir.path().join("multi.torrent");
    let bytes = mktorrent(
        &[
            "-a",
            "http://127.0.0.1:6969/announce,http://127.0.0.2:6969/announce",
            "-a",
            "udp://127.0.0.1:6969",
            "-p",
            "-c",
            "a comment",
            "-l",
            "15",
        ],
        &root,
        &out,
    );
    let shown = ours(&bytes);
    assert_eq!(shown, transmission_show(&out));
    assert_eq!(shown, aria2_show(&out));
    let meta = Metainfo::parse(&bytes).unwrap();
    assert!(meta.info().is_private());
    assert_eq!(meta.comment(), Some("a comment"));
    assert_eq!(meta.created_by(), Some("mktorrent 1.1"));
    assert_eq!(meta.info().total_length(), 100_008);
    assert_eq!(
        meta.trackers(),
        [
            vec![
                "http://127.0.0.1:6969/announce",
                "http://127.0.0.2:6969/announce"
            ],
            vec!["udp://127.0.0.1:6969"],
        ]
    );
}

#[test]
fn mktorrent_single_file_torrent_loads_with_the_peers_info_hash() {
    let dir = tempfile::tempdir().unwrap();
    let root = sample_dir(dir.path());
    let out = dir.path().join("single.torrent");
    let bytes = mktorrent(
        &["-a", "http://127.0.0.1:6969/announce"],
        &root.join("big.bin"),
        &out,
    );
    let shown = ours(&bytes);
    assert_eq!(shown.files, ["big.bin"]);
    assert_eq!(shown, transmission_show(&out));
    assert_eq!(shown, aria2_show(&out));
    assert!(Metainfo::parse(&bytes).unwrap().info().is_single_file());
}

#[test]
fn our_torrents_load_in_transmission_and_aria2() {
    let dir = tempfile::tempdir().unwrap();
    let root = sample_dir(dir.path());
    let options = CreateOptions {
        trackers: vec![
            "http://127.0.0.1:6969/announce".into(),
            "udp://127.0.0.1:6969".into(),
        ],
        comment: Some("made by appnet".into()),
        ..CreateOptions::default()
    };
    let multi = create_with(&root, &options, &mut |_| {}).unwrap();
    let single = create(
        &root.join("big.bin"),
        &options.trackers,
        Some(32 * 1024),
        &mut |_| {},
    )
    .unwrap();
    for (name, bytes) in [("multi", multi), ("single", single)] {
        let path = dir.path().join(format!("{name}.torrent"));
        fs::write(&path, &bytes).unwrap();
        let shown = ours(&bytes);
        assert_eq!(shown, transmission_show(&path), "{name}");
        assert_eq!(shown, aria2_show(&path), "{name}");
    }
}

#[test]
fn our_info_dictionary_equals_mktorrents_for_the_same_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = sample_dir(dir.path());
    let theirs = mktorrent(
        &["-a", "http://127.0.0.1:6969/announce", "-l", "15"],
        &root,
        &dir.path().join("theirs.torrent"),
    );
    let ours = create(
        &root,
        &["http://127.0.0.1:6969/announce".into()],
        Some(1 << 15),
        &mut |_| {},
    )
    .unwrap();
    let theirs = Metainfo::parse(&theirs).unwrap();
    let ours = Metainfo::parse(&ours).unwrap();
    assert_eq!(ours.info_bytes(), theirs.info_bytes());
    assert_eq!(ours.info_hash(), theirs.info_hash());
}
