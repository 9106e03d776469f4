//! Hostile peers against our seeder and downloader: oversized length prefixes, requests
//! outside a piece, blocks nobody asked for, a flood of `have` messages, a peer that never
//! answers. Each is dropped (or shrugged off) with bounded memory, and the honest transfer
//! goes on.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use appnet_core::lifecycle::Shutdown;
use appnet_core::trace::Tracer;
use appnet_testkit::pseudo_random;
use appnet_torrent::metainfo::{self, Metainfo};
use appnet_torrent::peer::driver::{self, Identity, PeerOptions, Status};
use appnet_torrent::peer::storage::{Placement, Storage};
use appnet_torrent::peer::torrent::{Settings, Torrent};
use appnet_torrent::wire::{BlockRequest, Handshake, Message};

const PIECE: u32 = 64 * 1024;

struct Lab {
    runtime: tokio::runtime::Runtime,
    shutdown: Shutdown,
    dir: tempfile::TempDir,
    data: Vec<u8>,
    meta: Metainfo,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let data = pseudo_random(1 << 20, 5);
        let file = dir.path().join("data.bin");
        std::fs::write(&file, &data).unwrap();
        let bytes = metainfo::create(&file, &[], Some(PIECE), &mut |_| {}).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        Lab {
            runtime,
            shutdown: Shutdown::new(),
            meta: Metainfo::parse(&bytes).unwrap(),
            dir,
            data,
        }
    }

    fn identity(&self) -> Identity {
        Identity {
            info_hash: self.meta.info_hash(),
            piece_count: self.meta.info().piece_count(),
            total_length: self.meta.info().total_length(),
            trackers: Vec::new(),
        }
    }

    /// Our peer over the data at `placement`, as `options` say.
    fn peer(
        &self,
        placement: Placement<'_>,
        options: PeerOptions,
    ) -> impl Future<Output = std::io::Result<Status>> + Send + 'static {
        let writable = matches!(placement, Placement::Into(_));
        let storage = Storage::open(self.meta.info(), placement, writable).unwrap();
        let have = storage.check_all(&mut |_| {}).unwrap();
        let torrent = Torrent::new(storage, have, Settings::default());
        driver::run(
            torrent,
            self.identity(),
            options,
            Tracer::off(),
            self.shutdown.clone(),
            |_| {},
        )
    }

    /// Our seeder on `listen`.
    fn seeder(&self, listen: SocketAddr) {
        let data = self.dir.path().join("data.bin");
        let options = PeerOptions {
            listen,
            ..PeerOptions::default()
        };
        self.runtime.spawn(self.peer(Placement::At(&data), options));
    }

    /// Our downloader, connecting to `peers`, until complete; its final status.
    fn download(&self, into: &Path, listen: SocketAddr, peers: Vec<SocketAddr>) -> Status {
        let options = PeerOptions {
            listen,
            peers,
            stop_when_complete: true,
            ..PeerOptions::default()
        };
        let run = self.peer(Placement::Into(into), options);
        self.runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(60), run).await })
            .expect("the download finishes within a minute")
            .unwrap()
    }

    fn copy(&self, into: &Path) -> Vec<u8> {
        std::fs::read(into.join("data.bin")).unwrap()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn free(ip: &str) -> SocketAddr {
    let port = appnet_testkit::free_port_on(&[ip.parse().unwrap()]);
    SocketAddr::new(ip.parse().unwrap(), port)
}

/// A raw connection to `to` that has exchanged handshakes.
fn handshaken(lab: &Lab, to: SocketAddr) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stream = loop {
        match TcpStream::connect(to) {
            Ok(stream) => break stream,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(err) => panic!("cannot connect to {to}: {err}"),
        }
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut id = [7u8; 20];
    id[..8].copy_from_slice(b"-XX0001-");
    stream
        .write_all(&Handshake::new(lab.meta.info_hash(), id).encode())
        .unwrap();
    let mut theirs = [0u8; 68];
    stream.read_exact(&mut theirs).unwrap();
    stream
}

/// Reads until the peer closes the connection; whether it did within `limit`.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 65536];
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(err) => return err.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
    false
}

#[test]
fn a_huge_length_prefix_or_a_request_outside_a_piece_ends_the_connection() {
    let lab = Lab::new();
    let seeder = free("127.0.0.41");
    lab.seeder(seeder);

    let mut huge = handshaken(&lab, seeder);
    huge.write_all(&u32::MAX.to_be_bytes()).unwrap();
    assert!(
        closed_within(&mut huge, Duration::from_secs(10)),
        "a 4 GiB prefix"
    );

    let mut outside = handshaken(&lab, seeder);
    outside.write_all(&Message::Interested.encode()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let request = BlockRequest {
        index: 0,
        begin: PIECE - 8,
        length: 16,
    };
    outside
        .write_all(&Message::Request(request).encode())
        .unwrap();
    assert!(
        closed_within(&mut outside, Duration::from_secs(10)),
        "a request past the piece"
    );

    let mut garbage = TcpStream::connect(seeder).unwrap();
    garbage.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    assert!(
        closed_within(&mut garbage, Duration::from_secs(10)),
        "not a handshake"
    );

    // The seeder still serves an honest peer.
    let into = lab.path("copy");
    lab.download(&into, free("127.0.0.42"), vec![seeder]);
    assert!(lab.copy(&into) == lab.data);
}

#[test]
fn a_flood_of_haves_costs_nothing_and_a_piece_that_does_not_exist_ends_it() {
    let lab = Lab::new();
    let seeder = free("127.0.0.43");
    lab.seeder(seeder);
    let mut flood = handshaken(&lab, seeder);
    let pieces = lab.meta.info().piece_count();
    let mut burst = Vec::new();
    for n in 0..200_000u32 {
        Message::Have(n % pieces).encode_into(&mut burst);
    }
    flood.write_all(&burst).unwrap();
    // Still connected after a megabyte of haves (they only set bits already set)...
    let into = lab.path("copy");
    lab.download(&into, free("127.0.0.44"), vec![seeder]);
    assert!(lab.copy(&into) == lab.data);
    // ...until it names a piece the torrent does not have.
    flood.write_all(&Message::Have(pieces).encode()).unwrap();
    assert!(closed_within(&mut flood, Duration::from_secs(10)));
}

#[test]
fn a_silent_peer_and_one_sending_unasked_blocks_do_not_stop_the_download() {
    let lab = Lab::new();
    let seeder = free("127.0.0.45");
    lab.seeder(seeder);

    // A peer that completes the handshake and then says nothing, ever.
    let silent = std::net::TcpListener::bind("127.0.0.46:0").unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let info_hash = lab.meta.info_hash();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().take(4) {
            let mut stream = stream.unwrap();
            let mut theirs = [0u8; 68];
            if stream.read_exact(&mut theirs).is_ok() {
                let _ = stream.write_all(&Handshake::new(info_hash, [9u8; 20]).encode());
            }
            held.push(stream);
        }
    });

    // A peer that claims every piece, unchokes, and sends a block it was never asked for.
    let pusher = std::net::TcpListener::bind("127.0.0.47:0").unwrap();
    let pusher_addr = pusher.local_addr().unwrap();
    let pieces = lab.meta.info().piece_count();
    std::thread::spawn(move || {
        if let Some(Ok(mut stream)) = pusher.incoming().next() {
            let mut theirs = [0u8; 68];
            if stream.read_exact(&mut theirs).is_ok() {
                let mut out = Handshake::new(info_hash, [8u8; 20]).encode().to_vec();
                Message::Bitfield(appnet_torrent::wire::Bitfield::full(pieces))
                    .encode_into(&mut out);
                Message::Unchoke.encode_into(&mut out);
                Message::Piece {
                    index: 3,
                    begin: 0,
                    block: vec![0xAA; 16_384],
                }
                .encode_into(&mut out);
                let _ = stream.write_all(&out);
                let mut sink = [0u8; 65536];
                while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
            }
        }
    });

    let into = lab.path("copy");
    let status = lab.download(
        &into,
        free("127.0.0.48"),
        vec![silent_addr, pusher_addr, seeder],
    );
    assert!(status.complete);
    assert!(
        lab.copy(&into) == lab.data,
        "nothing from the pusher was kept"
    );
}
