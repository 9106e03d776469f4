#!/usr/bin/env python3
"""Bench: the swarm experiment, `appnet torrent swarm` against the same swarm made of aria2c.

One seed and N downloading peers share one file (default 64 MiB), every upload held to the same
rate (default 2 MiB/s), no download limit, each node on its own loopback address. The figure is
the time until every peer has a complete, hash-checked copy, set against the course's P2P bound
D_p2p = max{F/u_s, N·F/(u_s + Σu_i)} (and D_cs = N·F/u_s for reference). Lower is better.
Settings (default N = 3 and N = 50) run one after the other; within a setting the two swarms
alternate (ours first in even rounds, aria2 first in odd ones) and the medians of --rounds runs
are compared, ours/peer.

  - ours: `appnet torrent swarm --peers N --file-size F --upload-limit U --seed-upload U
    --piece-length P --dir DIR --json`, one process holding our tracker (127.0.0.1), our seed
    (127.0.1.1) and the N peers (127.0.1.2 ...). Its JSON line gives each peer's finish time
    (from the moment its peers were started), the seed's uploaded bytes and the bounds.
  - aria2: our tracker alone (`appnet torrent track --interval 2`), a .torrent made by `appnet
    torrent create --piece-length P` from a file of os.urandom bytes, one aria2c seed
    (--seed-ratio=0.0 --check-integrity=true --bt-seed-unverified=true) and N aria2c leechers,
    every one with --max-overall-upload-limit=U, --interface and --bt-external-ip set to its own
    loopback address (127.0.1.1 for the seed, 127.0.1.2 ... as ours), DHT, PEX and LPD off,
    --bt-tracker-interval=2, --file-allocation=none, no config file, a private HOME. Leechers
    keep seeding (--seed-ratio=0.0, with a --seed-time that only caps a leftover process) until
    every copy is complete; then all are stopped. The leechers are started once the tracker
    counts the seed as complete (scrape); a leecher's finish time is when aria2 runs its
    --on-bt-download-complete hook (a shell script writing `date +%s.%N`; aria2 runs it after the
    last piece passed its SHA-1 check), measured from the moment the first leecher was started.
    Both clocks therefore include the peers' own start-up.
The piece length is what ours chooses for the file size (`appnet torrent create` without
--piece-length, read from the .torrent) unless --piece-length says otherwise; both get it
explicitly.

Measured upload rates. PEERS.md notes that aria2's upload limiter delivers ~88% of its nominal
rate, so each swarm is also set against the bound at the rates it really sent at: D_p2p' =
max{F/u_s', N·F/(u_s' + Σu_i')}, where a node's u' is the bytes it sent divided by the time it was
sending, from the start of the first sampling interval in which it sent at least one 16 KiB block
to the end of the last such interval (a contributor that never sent a block counts 0). The rates
come from `ss -tinpe`, sampled every --sample-interval seconds for the processes of the swarm
(bytes_acked per socket, the process by pid, the node by its local address: the same method for
both swarms, and blind to anyone else's swarm on these addresses). Peers' rates include waits for
someone to ask, so they are what was sent, not what could have been. ss misses what a connection
sent after its last sample if it closed before the next one (aria2 closes seed-to-seed
connections as soon as a peer completes), so its totals can read a little low; the seed's
uploaded bytes are therefore each program's own figure: ours's JSON, aria2's RPC
(aria2.tellActive's uploadLength; the aria2 seed alone runs with --enable-rpc on 127.0.0.1).
Before the swarms, each program's limiter is run alone once, for the record (step 2: a seed and
one peer that wants every piece, min(F, 16 MiB)): its rate while sending, how soon its first block
went out, and the peer's finish against F/u_s. (A short burst at the start lets a swarm finish a
little under the bound: ours's token bucket starts full with a quarter second of its rate.)

Free-riders: one more run, ours only (aria2 has no such mode), N = 10 with K = 3 peers that never
upload (--free-riders 10:3): contributors' mean finish vs free-riders' mean. A ratio above 1
means tit-for-tat holds the free-riders back.

Checked, not assumed: every peer must finish within max(10 × D_p2p, 60 s) (ours gives up at the
same point), and every copy must equal the seed's file (SHA-1 of the whole file); either failing
stops the bench with exit status 1. Timing never does. Neither swarm is pinned to a core: each
is the whole system under test and both use both cores (ours one process, aria2 N+1 processes);
the CPU seconds each swarm used are printed (wait4 rusage; for aria2 the sum over its processes).

Work files go under /var/tmp (a disk, not a tmpfs): up to N+1 copies of the file per run, removed
after each run; the whole directory is removed at the end.

Usage: bench/torrent_swarm.py [--quick] [--peers 3,50] [--file-size 64M] [--upload-limit 2M]
                              [--seed-upload RATE] [--rounds 3 | --rounds 3=3,50=1]
                              [--piece-length BYTES] [--free-riders 10:3 | --free-riders none]
                              [--sample-interval 0.5]
--quick: a smoke run (N = 3, 16 MiB, 1 round, no N = 50; free-riders 10:3 at 16 MiB) unless a
flag says otherwise. Full runs write bench/results/torrent-swarm-n<N>.json; --quick writes none.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import harness
from smtp import report

MIB = 1 << 20
RPC_SECRET = "appnet-bench"
CALIBRATION = 16 * MIB  # file size for step 2, each limiter alone (or F if smaller)
HOOK = '#!/bin/sh\n# aria2 --on-bt-download-complete: when this leecher had every piece, verified.\n' \
       'date +%s.%N > "$BENCH_DONE.tmp" && mv "$BENCH_DONE.tmp" "$BENCH_DONE"\n'
BLOCK = 16 * 1024  # an interval in which a node sent less than one block does not count as sending


class Failed(Exception):
    """A functional failure: the bench stops and exits 1."""


# --- small helpers -------------------------------------------------------------------------------

def parse_size(text: str) -> int:
    """`64M`, `2MiB`, `512K`, `1G` or bytes; K/M/G are powers of 1024 (as ours and aria2 read them)."""
    found = re.fullmatch(r"\s*([0-9.]+)\s*([kmg]?)(?:i?b)?\s*", text, re.IGNORECASE)
    if not found:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number with an optional K, M or G")
    scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[found.group(2).lower()]
    value = int(float(found.group(1)) * scale)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least one byte")
    return value


def mib(n: float) -> str:
    return f"{n / MIB:,.1f} MiB"


def node_ip(n: int) -> str:
    """Node n's loopback address (0 the seed, i+1 peer i), as `appnet torrent swarm` assigns them."""
    host = min(n + 1, 255)
    third = 1 + (n + 1) // 250
    return f"127.0.{third}.{host}"


def bounds(n: int, free_riders: int, size: int, seed_rate: float, peer_rates: list[float]) -> tuple[float, float]:
    """(D_cs, D_p2p) in seconds; `peer_rates` holds the contributors' upload rates."""
    d_cs = n * size / seed_rate
    d_p2p = max(size / seed_rate, n * size / (seed_rate + sum(peer_rates)))
    return d_cs, d_p2p


def sha1_file(path: pathlib.Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def check_copies(original: pathlib.Path, copies: list[pathlib.Path], label: str) -> None:
    """Every copy byte-exact (size, then SHA-1 of the whole file), or Failed."""
    want_size, want = original.stat().st_size, sha1_file(original)
    for copy in copies:
        if not copy.exists():
            raise Failed(f"{label}: {copy} is missing")
        if copy.stat().st_size != want_size:
            raise Failed(f"{label}: {copy} has {copy.stat().st_size} bytes, want {want_size}")
        if sha1_file(copy) != want:
            raise Failed(f"{label}: {copy} differs from the seed's file")


# --- processes: started here, ended here by pid ------------------------------------------------

STARTED: list[subprocess.Popen] = []


def spawn(argv: list[str], log: pathlib.Path, env: dict | None = None) -> subprocess.Popen:
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})})
    STARTED.append(proc)
    return proc


def reap(proc: subprocess.Popen, block: bool = True) -> float | None:
    """Waits for `proc` (or only checks, without `block`); its CPU seconds (user + system, from
    wait4's rusage) once it has exited, else None."""
    if proc.returncode is not None:
        return getattr(proc, "cpu", 0.0)
    try:
        pid, status, usage = os.wait4(proc.pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        proc.returncode, proc.cpu = -1, 0.0
        return 0.0
    if pid == 0:
        return None
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.cpu = usage.ru_utime + usage.ru_stime
    return proc.cpu


def stop(procs: list[subprocess.Popen], grace: float = 10.0) -> float:
    """SIGTERM to each (by pid), SIGKILL after `grace` seconds to any left; total CPU seconds."""
    for proc in procs:
        if proc.returncode is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for proc in procs:
        while reap(proc, block=False) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.returncode is None:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            reap(proc)
    for proc in procs:
        if proc in STARTED:
            STARTED.remove(proc)
    return sum(getattr(p, "cpu", 0.0) for p in procs)


# --- upload meter: ss, per node ----------------------------------------------------------------

class UploadMeter(threading.Thread):
    """Samples the TCP sockets of the processes in `pids` every `interval` seconds (`ss -tinpe`):
    per (pid, local address) the bytes acked so far, summed over every socket ever seen (a socket
    that closed keeps its last figure). Sockets to the tracker's port are left out."""

    def __init__(self, pids: set[int], interval: float, tracker_port: int | None = None):
        super().__init__(daemon=True)
        self.pids, self.interval, self.tracker_port = pids, interval, tracker_port
        self.sockets: dict[tuple[int, str], tuple[int, str, int]] = {}  # (inode, remote) -> (pid, ip, acked)
        self.samples: list[tuple[float, dict[tuple[int, str], int]]] = []
        self.halt = threading.Event()
        self.cost = 0.0  # wall seconds spent in ss

    def run(self) -> None:
        self.sample()
        while not self.halt.wait(self.interval):
            self.sample()

    def finish(self) -> None:
        self.halt.set()
        self.join()
        self.sample()

    def sample(self) -> None:
        before = time.monotonic()
        out = subprocess.run(["ss", "-tinpeHn", "src", "127.0.0.0/8"], capture_output=True, text=True).stdout
        now = time.monotonic()
        self.cost += now - before
        head = None
        for line in out.splitlines():
            if not line[:1].isspace():
                head = line
                continue
            if head is None:
                continue
            fields = head.split()
            pid = re.search(r"pid=(\d+)", head)
            inode = re.search(r"\bino:(\d+)", head)
            head_local, head_remote = (fields[3], fields[4]) if len(fields) >= 5 else ("", "")
            head = None
            if not pid or not inode or int(pid.group(1)) not in self.pids:
                continue
            if self.tracker_port and head_remote.endswith(f":{self.tracker_port}"):
                continue
            acked = re.search(r"\bbytes_acked:(\d+)", line)
            if not acked:
                continue
            key = (int(inode.group(1)), head_remote)
            ip = head_local.rsplit(":", 1)[0]
            old = self.sockets.get(key)
            self.sockets[key] = (int(pid.group(1)), ip, max(int(acked.group(1)), old[2] if old else 0))
        totals: dict[tuple[int, str], int] = {}
        for pid, ip, acked in self.sockets.values():
            totals[(pid, ip)] = totals.get((pid, ip), 0) + acked
        self.samples.append(((before + now) / 2, totals))

    def total(self, node: tuple[int, str]) -> int:
        return self.samples[-1][1].get(node, 0) if self.samples else 0

    def sending(self, node: tuple[int, str]) -> tuple[float, float] | None:
        """(bytes per second, seconds from the meter's start to its first block) for `node`: the
        bytes it sent divided by the time it was sending, from the start of the first sampling
        interval in which it sent at least one 16 KiB block to the end of the last such interval.
        None if it never sent a block."""
        active = [i for i, ((_, a), (_, b)) in enumerate(zip(self.samples, self.samples[1:]))
                  if b.get(node, 0) - a.get(node, 0) >= BLOCK]
        if not active:
            return None
        (t0, a), (t1, b) = self.samples[active[0]], self.samples[active[-1] + 1]
        return (b.get(node, 0) - a.get(node, 0)) / (t1 - t0), t0 - self.samples[0][0]


# --- one run's outcome -----------------------------------------------------------------------

@dataclasses.dataclass
class Run:
    finished: list[float]           # each peer's finish time, s
    riders: list[bool]              # which peers were free-riders
    uploaded: list[int]             # each peer's uploaded bytes (ours: its JSON; aria2: ss)
    seed_uploaded: int              # ours: its JSON; aria2: ss
    seed_uploaded_ss: int
    sent_ss: int                    # seed and peers together, as ss saw it
    seed_rate: float | None         # bytes the seed sent / time it was sending (ss)
    seed_first_block: float | None  # seconds from the meter's start to the seed's first block
    peer_rates: list[float | None]  # the same for each contributor (None: never sent a block)
    cpu: float                      # CPU seconds of the whole swarm
    meter: tuple[int, float]        # ss samples taken, wall seconds spent in ss

    @property
    def last(self) -> float:
        return max(self.finished)


def measured(meter: UploadMeter, seed: tuple[int, str], peers: list[tuple[int, str]], riders: list[bool]) -> dict:
    """The Run fields that come from the upload meter."""
    seed_sending = meter.sending(seed)
    return {
        "seed_uploaded_ss": meter.total(seed),
        "sent_ss": meter.total(seed) + sum(meter.total(node) for node in peers),
        "seed_rate": seed_sending[0] if seed_sending else None,
        "seed_first_block": seed_sending[1] if seed_sending else None,
        "peer_rates": [(meter.sending(node) or (None,))[0] for node, rider in zip(peers, riders) if not rider],
        "meter": (len(meter.samples), meter.cost),
    }


def summarize(run: Run, setting: "Setting", label: str) -> dict:
    """Derived figures of one run, and the progress line that shows them. D_p2p' is the bound at
    the rates measured in this run: max{F/u_s', N·F/(u_s' + Σu_i')} over the contributors (one
    that never sent a block counts 0; free-riders are not in the sum)."""
    d_p2p = setting.d_p2p
    seed_rate = run.seed_rate or 0.0
    peer_rates = [r or 0.0 for r in run.peer_rates]
    d_measured = bounds(setting.n, setting.k, setting.size, seed_rate, peer_rates)[1] if seed_rate else float("inf")
    times = sorted(run.finished)
    sending = [r for r in run.peer_rates if r is not None]
    figures = {
        "all_s": run.last, "all_over_bound": run.last / d_p2p,
        "peer_min_s": times[0], "peer_median_s": statistics.median(times), "peer_max_s": times[-1],
        "seed_uploaded": run.seed_uploaded, "seed_uploaded_ss": run.seed_uploaded_ss,
        "sent_over_nf": run.sent_ss / (setting.n * setting.size),
        "seed_rate": run.seed_rate, "peer_rate_median": statistics.median(sending) if sending else None,
        "peer_rate_sum": sum(peer_rates), "peers_never_sending": len(peer_rates) - len(sending),
        "bound_measured_s": d_measured, "all_over_measured_bound": run.last / d_measured,
        "cpu_s": run.cpu, "finished_s": run.finished, "uploaded": run.uploaded,
        "ss_samples": run.meter[0], "ss_seconds": run.meter[1],
    }
    ss_seed = f" (ss: {mib(run.seed_uploaded_ss)})" if run.seed_uploaded != run.seed_uploaded_ss else ""
    rates = f"seed {seed_rate / MIB:.2f}"
    if peer_rates:
        rates += f", peers {statistics.median(sending) / MIB if sending else 0:.2f} median, Σ {sum(peer_rates) / MIB:.1f}"
    if len(sending) < len(peer_rates):
        rates += f" ({len(peer_rates) - len(sending)} never sent a block)"
    figures["line"] = (
        f"  {label}: all finished {run.last:.1f} s = {run.last / d_p2p:.2f} × D_p2p; peers "
        f"{times[0]:.1f}/{statistics.median(times):.1f}/{times[-1]:.1f} s = {times[0] / d_p2p:.2f}/"
        f"{statistics.median(times) / d_p2p:.2f}/{times[-1] / d_p2p:.2f} × D_p2p (min/median/max)\n"
        f"      seed sent {mib(run.seed_uploaded)} = {run.seed_uploaded / setting.size:.2f} F{ss_seed}; all sent "
        f"{run.sent_ss / (setting.n * setting.size):.2f} × N·F (ss); MiB/s while sending: {rates}; "
        f"D_p2p' = {d_measured:.1f} s, all/D_p2p' = {run.last / d_measured:.2f}; CPU {run.cpu:.1f} s; "
        f"ss {run.meter[0]} samples, {run.meter[1]:.1f} s")
    return figures


@dataclasses.dataclass
class Setting:
    n: int
    k: int
    size: int
    rate: int
    seed_rate: int
    piece_length: int
    rounds: int

    @property
    def d_p2p(self) -> float:
        return bounds(self.n, self.k, self.size, self.seed_rate, [self.rate] * (self.n - self.k))[1]

    @property
    def give_up(self) -> float:
        return max(10 * self.d_p2p, 60.0)


# --- ours ------------------------------------------------------------------------------------

def run_ours(appnet: str, setting: Setting, work: pathlib.Path, interval: float) -> Run:
    swarm_dir = work / "ours"
    shutil.rmtree(swarm_dir, ignore_errors=True)
    argv = [appnet, "torrent", "swarm", "--peers", str(setting.n), "--file-size", str(setting.size),
            "--upload-limit", str(setting.rate), "--seed-upload", str(setting.seed_rate),
            "--piece-length", str(setting.piece_length), "--dir", str(swarm_dir), "--json"]
    if setting.k:
        argv += ["--free-riders", str(setting.k)]
    log = work / "ours.log"
    proc = spawn(argv, log, {"RUST_LOG": "warn"})
    meter = UploadMeter({proc.pid}, interval)
    meter.start()
    try:
        deadline = time.monotonic() + setting.give_up + 120  # its own give-up, plus making the file
        while reap(proc, block=False) is None:
            if time.monotonic() > deadline:
                raise Failed(f"ours: `appnet torrent swarm` still running after {deadline:.0f} s")
            time.sleep(0.1)
    finally:
        meter.finish()
        stop([proc])
    text = log.read_text(errors="replace")
    if proc.returncode != 0:
        raise Failed(f"ours: `appnet torrent swarm` exited {proc.returncode}:\n{text[-2000:]}")
    lines = [line for line in text.splitlines() if line.startswith("{")]
    if not lines:
        raise Failed(f"ours: no JSON line in the output:\n{text[-2000:]}")
    data = json.loads(lines[-1])
    results = data["results"]
    if len(results) != setting.n:
        raise Failed(f"ours: {len(results)} results for {setting.n} peers")
    unfinished = [r["address"] for r in results if r["finished_s"] is None]
    if unfinished:
        raise Failed(f"ours: {len(unfinished)} peer(s) never finished within its give-up time: {unfinished[:5]}")
    for warn in [line for line in text.splitlines() if re.search(r"\b(WARN|ERROR)\b|panic", line)][:3]:
        report(f"    ours log: {warn[:200]}")
    check_copies(swarm_dir / "shared.bin", [swarm_dir / f"peer{i}" / "shared.bin" for i in range(setting.n)], "ours")
    shutil.rmtree(swarm_dir, ignore_errors=True)

    seed = (proc.pid, node_ip(0))
    riders = [r["free_rider"] for r in results]
    peer_nodes = [(proc.pid, r["address"].rsplit(":", 1)[0]) for r in results]
    return Run(finished=[r["finished_s"] for r in results], riders=riders, uploaded=[r["uploaded"] for r in results],
               seed_uploaded=data["seed_uploaded"], cpu=proc.cpu, **measured(meter, seed, peer_nodes, riders))


# --- aria2 -----------------------------------------------------------------------------------

def aria2_argv(ip: str, port: int, upload: int, directory: pathlib.Path, cap_minutes: int) -> list[str]:
    return ["aria2c", "--no-conf=true", "--enable-dht=false", "--enable-dht6=false",
            "--enable-peer-exchange=false", "--bt-enable-lpd=false", "--summary-interval=0",
            "--file-allocation=none", "--bt-tracker-interval=2", "--disable-ipv6=true",
            "--console-log-level=warn", f"--interface={ip}", f"--bt-external-ip={ip}",
            f"--listen-port={port}", f"--max-overall-upload-limit={upload}", f"--dir={directory}",
            "--seed-ratio=0.0", f"--seed-time={cap_minutes}"]


LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy


def scrape_complete(port: int, info_hash: str) -> int:
    query = urllib.parse.quote(bytes.fromhex(info_hash), safe="")
    try:
        with LOCAL.open(f"http://127.0.0.1:{port}/scrape?info_hash={query}", timeout=2) as reply:
            body = reply.read()
    except OSError:
        return 0
    found = re.search(rb"8:completei(\d+)e", body)
    return int(found.group(1)) if found else 0


def aria2_uploaded(port: int) -> int | None:
    """What the aria2c with RPC on `port` says it uploaded (aria2.tellActive's uploadLength)."""
    call = {"jsonrpc": "2.0", "id": "bench", "method": "aria2.tellActive",
            "params": [f"token:{RPC_SECRET}", ["uploadLength"]]}
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/jsonrpc", data=json.dumps(call).encode(),
                                         headers={"Content-Type": "application/json"})
        with LOCAL.open(request, timeout=5) as reply:
            return sum(int(d["uploadLength"]) for d in json.load(reply)["result"])
    except (OSError, KeyError, ValueError) as error:
        report(f"    note: aria2 seed's RPC did not answer ({error}); its uploaded bytes are ss's")
        return None


def run_aria2(appnet: str, setting: Setting, work: pathlib.Path, data: pathlib.Path, interval: float) -> Run:
    swarm_dir = work / "aria2"
    shutil.rmtree(swarm_dir, ignore_errors=True)
    (swarm_dir / "done").mkdir(parents=True)
    home = swarm_dir / "home"
    home.mkdir()
    hook = swarm_dir / "done.sh"
    hook.write_text(HOOK)
    hook.chmod(0o755)
    cap_minutes = int(setting.give_up // 60) + 5  # --seed-time: ends a leftover aria2c on its own
    procs: list[subprocess.Popen] = []
    tracker = None
    meter = None
    try:
        tracker_port = harness.free_port(socket.SOCK_STREAM)
        tracker = spawn([appnet, "torrent", "track", "--listen", f"127.0.0.1:{tracker_port}", "--interval", "2"],
                        swarm_dir / "tracker.log", {"RUST_LOG": "warn"})
        harness.wait_tcp(tracker_port)
        torrent = swarm_dir / "shared.torrent"
        made = subprocess.run([appnet, "torrent", "create", str(data), "--tracker",
                               f"http://127.0.0.1:{tracker_port}/announce", "-o", str(torrent),
                               "--piece-length", str(setting.piece_length)], capture_output=True, text=True)
        found = re.search(r"info-hash ([0-9a-f]{40})", made.stdout)
        if made.returncode != 0 or not found:
            raise Failed(f"appnet torrent create: {made.stdout}{made.stderr}")
        info_hash = found.group(1)

        rpc_port = harness.free_port(socket.SOCK_STREAM)
        seed = spawn([*aria2_argv(node_ip(0), harness.free_port(socket.SOCK_STREAM), setting.seed_rate,
                                  data.parent, cap_minutes),
                      "--check-integrity=true", "--bt-seed-unverified=true", "--enable-rpc=true",
                      f"--rpc-listen-port={rpc_port}", f"--rpc-secret={RPC_SECRET}", str(torrent)],
                     swarm_dir / "seed.log", {"HOME": str(home)})
        procs.append(seed)
        deadline = time.monotonic() + 120
        while scrape_complete(tracker_port, info_hash) < 1:
            if reap(seed, block=False) is not None:
                raise Failed(f"aria2 seed exited {seed.returncode}: {(swarm_dir / 'seed.log').read_text()[-1000:]}")
            if time.monotonic() > deadline:
                raise Failed("the tracker never counted the aria2 seed as complete")
            time.sleep(0.1)

        meter = UploadMeter({seed.pid}, interval, tracker_port)
        meter.start()
        done = [swarm_dir / "done" / f"peer{i}" for i in range(setting.n)]
        started = time.time()
        clock = time.monotonic()
        for i in range(setting.n):
            peer_dir = swarm_dir / f"peer{i}"
            peer_dir.mkdir()
            proc = spawn([*aria2_argv(node_ip(i + 1), harness.free_port(socket.SOCK_STREAM), setting.rate,
                                      peer_dir, cap_minutes),
                          f"--on-bt-download-complete={hook}", str(torrent)],
                         swarm_dir / f"peer{i}.log", {"HOME": str(home), "BENCH_DONE": str(done[i])})
            procs.append(proc)
            meter.pids.add(proc.pid)
        finished: list[float | None] = [None] * setting.n
        while None in finished:
            for i, path in enumerate(done):
                if finished[i] is None and path.exists():
                    finished[i] = float(path.read_text().strip()) - started
            for proc in procs:
                if reap(proc, block=False) is not None:
                    name = "seed" if proc is seed else f"peer {procs.index(proc) - 1}"
                    raise Failed(f"aria2 {name} exited {proc.returncode} before every peer finished")
            if time.monotonic() - clock > setting.give_up:
                missing = [i for i, f in enumerate(finished) if f is None]
                raise Failed(f"aria2: {len(missing)} peer(s) not finished after {setting.give_up:.0f} s: "
                             f"peers {missing[:10]}")
            time.sleep(0.1)
        meter.finish()
        seed_uploaded = aria2_uploaded(rpc_port)
    finally:
        if meter is not None and meter.is_alive():
            meter.finish()
        cpu = stop(procs)
        if tracker is not None:
            stop([tracker])

    errors = []
    for log in sorted(swarm_dir.glob("*.log")):
        errors += [f"{log.name}: {line}" for line in log.read_text(errors="replace").splitlines()
                   if re.search(r"ERROR|WARN|exception", line, re.IGNORECASE)]
    if errors:
        report(f"    aria2 logs: {len(errors)} warning/error lines, first: {errors[0][:200]}")
    check_copies(data, [swarm_dir / f"peer{i}" / data.name for i in range(setting.n)], "aria2")
    seed_node = (seed.pid, node_ip(0))
    peer_nodes = [(p.pid, node_ip(i + 1)) for i, p in enumerate(procs[1:])]
    shutil.rmtree(swarm_dir, ignore_errors=True)
    return Run(finished=[f for f in finished if f is not None], riders=[False] * setting.n,
               uploaded=[meter.total(node) for node in peer_nodes], cpu=cpu,
               seed_uploaded=seed_uploaded if seed_uploaded is not None else meter.total(seed_node),
               **measured(meter, seed_node, peer_nodes, [False] * setting.n))


# --- main ------------------------------------------------------------------------------------

def parse_rounds(text: str) -> dict[int | None, int]:
    """`3` (every setting) or `3=3,50=1` (per N)."""
    if "=" not in text:
        return {None: int(text)}
    return {int(n): int(r) for n, r in (part.split("=") for part in text.split(","))}


def main() -> None:
    # SIGTERM (a timeout, a CI runner) unwinds like Ctrl-C, so the `finally`s stop every
    # peer and remove the temporary directories.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: N = 3, 16 MiB, 1 round, no N = 50 (flags still win)")
    parser.add_argument("--peers", help="comma-separated N per setting (default 3,50)")
    parser.add_argument("--file-size", type=parse_size, help="F (default 64M)")
    parser.add_argument("--upload-limit", type=parse_size, default=2 * MIB, help="u_i, per second (default 2M)")
    parser.add_argument("--seed-upload", type=parse_size, help="u_s, per second (default: --upload-limit)")
    parser.add_argument("--rounds", help="rounds per setting: R, or N=R,N=R (default 3 for N < 20, 1 above)")
    parser.add_argument("--piece-length", type=int, help="bytes (default: what ours chooses for F)")
    parser.add_argument("--free-riders", help="N:K for the ours-only free-rider run, or `none` (default 10:3)")
    parser.add_argument("--sample-interval", type=float, default=0.5, help="seconds between ss samples")
    args = parser.parse_args()
    if args.quick:
        args.peers = args.peers or "3"
        args.file_size = args.file_size or 16 * MIB
        args.rounds = args.rounds or "1"
    peers = [int(n) for n in (args.peers or "3,50").split(",")]
    size = args.file_size or 64 * MIB
    rounds = parse_rounds(args.rounds) if args.rounds else {}
    riders = None if (args.free_riders or "10:3").lower() in ("none", "0") else \
        tuple(int(x) for x in (args.free_riders or "10:3").split(":"))
    if riders and not 0 < riders[1] <= riders[0]:
        sys.exit("bench/torrent_swarm.py: --free-riders N:K needs 0 < K <= N")
    for tool in ("aria2c", "ss"):
        if not shutil.which(tool):
            sys.exit(f"bench/torrent_swarm.py: {tool} is missing (apt-get install {'aria2' if tool == 'aria2c' else 'iproute2'})")

    try:
        run(args, peers, size, rounds, riders)
    except Failed as failure:
        report(f"FAILED: {failure}")
        sys.exit(1)
    finally:
        stop(list(STARTED))


def write_random(path: pathlib.Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left:
            f.write(os.urandom(min(left, 8 * MIB)))
            left -= min(left, 8 * MIB)


def calibrate(appnet: str, setting: Setting, work: pathlib.Path, data: pathlib.Path, interval: float) -> None:
    """Each program's upload limiter on its own, for the record: a seed and one peer that wants
    every piece, so the seed always has something to send. Prints the seed's rate while sending,
    when its first block went out, and the peer's finish against F/u_s."""
    for side in ("ours", "aria2"):
        result = (run_ours(appnet, setting, work, interval) if side == "ours"
                  else run_aria2(appnet, setting, work, data, interval))
        rate = f"{result.seed_rate / MIB:.2f} MiB/s" if result.seed_rate else "—"
        first = f"{result.seed_first_block:.1f} s" if result.seed_first_block is not None else "—"
        after = "the process's start (it makes the file first)" if side == "ours" else "the peer's start"
        report(f"  {side}: the seed sent at {rate} while sending (nominal {setting.seed_rate / MIB:g}); its first "
               f"block went out within {first} of {after}; the peer finished after {result.last:.1f} s = "
               f"{result.last / setting.d_p2p:.2f} × F/u_s")


def run(args, peers: list[int], size: int, rounds: dict, riders: tuple[int, int] | None) -> None:
    report("step 0: building appnet (cargo build --release -p appnet)")
    appnet = harness.appnet_binary()
    aria2_version = subprocess.run(["aria2c", "--version"], capture_output=True, text=True).stdout.split()[2]
    labels = {"ours": "ours (appnet torrent swarm)", "aria2": f"peer (aria2 {aria2_version})"}
    rate = args.upload_limit
    seed_rate = args.seed_upload or rate
    steps = 2 + len(peers) + bool(riders)
    with tempfile.TemporaryDirectory(prefix="appnet-bench-torrent-", dir="/var/tmp") as tmp:
        work = pathlib.Path(tmp)
        data = work / "seed" / "shared.bin"
        report(f"step 1/{steps}: the shared file: {mib(size)} of os.urandom under {work}")
        write_random(data, size)
        piece_length = args.piece_length
        if piece_length is None:
            probe = work / "probe.torrent"
            subprocess.run([appnet, "torrent", "create", str(data), "--tracker", "http://127.0.0.1:1/announce",
                            "-o", str(probe)], capture_output=True, check=True)
            piece_length = int(re.search(rb"12:piece lengthi(\d+)e", probe.read_bytes()).group(1))
            report(f"  piece length: {piece_length} bytes, as ours chooses for {mib(size)}")

        calibration_size = min(size, CALIBRATION)
        calibration_data = data
        if calibration_size < size:
            calibration_data = work / "calibration" / "shared.bin"
            write_random(calibration_data, calibration_size)
        report(f"step 2/{steps}: each upload limiter alone: 1 seed + 1 peer, {mib(calibration_size)}, seed at "
               f"{seed_rate / MIB:g} MiB/s, once per side")
        calibrate(appnet, Setting(1, 0, calibration_size, rate, seed_rate, piece_length, 1), work,
                  calibration_data, args.sample_interval)
        if calibration_data != data:
            shutil.rmtree(calibration_data.parent)

        for step, n in enumerate(peers, start=3):
            setting = Setting(n, 0, size, rate, seed_rate, piece_length,
                              rounds.get(n, rounds.get(None, 3 if n < 20 else 1)))
            compare(appnet, setting, work, data, args, labels, f"step {step}/{steps}")
        if riders:
            n, k = riders
            setting = Setting(n, k, size, rate, seed_rate, piece_length, 1)
            report(f"step {steps}/{steps}: free-riders, ours only: 1 seed + {n} peers of which {k} never "
                   f"upload, F = {mib(size)}; D_p2p = {setting.d_p2p:.1f} s (the {k} add demand, no capacity)")
            result = run_ours(appnet, setting, work, args.sample_interval)
            report(summarize(result, setting, "ours")["line"])
            contributors = [t for t, r in zip(result.finished, result.riders) if not r]
            free = [t for t, r in zip(result.finished, result.riders) if r]
            rider_upload = sum(u for u, r in zip(result.uploaded, result.riders) if r)
            mean_c, mean_f = statistics.mean(contributors), statistics.mean(free)
            print(f"bench torrent-swarm-free-riders: ours only, 1 seed + {n} peers, {k} free-riders, F = {mib(size)}, "
                  f"u = {rate / MIB:g} MiB/s; D_p2p = {setting.d_p2p:.1f} s")
            print(f"  contributors finished after {mean_c:.1f} s on average ({min(contributors):.1f}–"
                  f"{max(contributors):.1f}), free-riders after {mean_f:.1f} s ({min(free):.1f}–{max(free):.1f}); "
                  f"all after {result.last:.1f} s = {result.last / setting.d_p2p:.2f} × D_p2p")
            print(f"  free-riders/contributors = {mean_f / mean_c:.2f} (mean finish times; above 1 means tit-for-tat "
                  f"holds free-riders back); free-riders uploaded {rider_upload} bytes")


def compare(appnet: str, setting: Setting, work: pathlib.Path, data: pathlib.Path, args, labels: dict[str, str],
            step: str) -> None:
    n, size = setting.n, setting.size
    d_cs, d_p2p = bounds(n, 0, size, setting.seed_rate, [setting.rate] * n)
    report(f"{step}: 1 seed + {n} peers, F = {mib(size)}, u = {setting.rate / MIB:g} MiB/s "
           f"(seed {setting.seed_rate / MIB:g}), pieces of {setting.piece_length // 1024} KiB; D_p2p = {d_p2p:.1f} s, "
           f"D_cs = {d_cs:.1f} s; {setting.rounds} alternating round(s)")
    ours_label, peer_label = labels["ours"], labels["aria2"]
    figures: dict[str, list[dict]] = {ours_label: [], peer_label: []}
    for r in range(setting.rounds):
        order = ("ours", "aria2") if r % 2 == 0 else ("aria2", "ours")
        for side in order:
            report(f"  round {r + 1}/{setting.rounds}: {side} ...")
            result = (run_ours(appnet, setting, work, args.sample_interval) if side == "ours"
                      else run_aria2(appnet, setting, work, data, args.sample_interval))
            figures[labels[side]].append(summarize(result, setting, side))
            report(figures[labels[side]][-1]["line"])

    def median(label: str, key: str) -> float | None:
        values = [f[key] for f in figures[label] if f[key] is not None]
        return statistics.median(values) if values else None

    def cell(value: float | None, fmt: str) -> str:
        return "—" if value is None else fmt.format(value)

    name = f"torrent-swarm-n{n}" + ("" if size == 64 * MIB else f"-{size // MIB}m")
    print(f"bench {name}: 1 seed + {n} peers, F = {mib(size)}, every upload {setting.rate / MIB:g} MiB/s, "
          f"pieces of {setting.piece_length // 1024} KiB; D_p2p = {d_p2p:.1f} s, D_cs = {d_cs:.1f} s")
    print(f"  seconds until every peer finished, lower is better, median of {setting.rounds} alternating run(s)")
    for label in (ours_label, peer_label):
        runs = ", ".join(f"{f['all_s']:.1f}" for f in figures[label])
        print(f"  {label:<28} median {median(label, 'all_s'):7.1f} s = {median(label, 'all_over_bound'):.2f} × D_p2p"
              f"   runs: {runs}")
    print(f"  {'medians':<36} {'ours':>8} {'aria2':>8}")
    scaled = lambda key, by: lambda l: None if median(l, key) is None else median(l, key) / by  # noqa: E731
    rows = [
        ("peer finish, min / D_p2p", scaled("peer_min_s", d_p2p), "{:.2f}"),
        ("peer finish, median / D_p2p", scaled("peer_median_s", d_p2p), "{:.2f}"),
        ("peer finish, max / D_p2p", scaled("peer_max_s", d_p2p), "{:.2f}"),
        ("seed uploaded, × F", scaled("seed_uploaded", size), "{:.2f}"),
        ("all uploaded (ss), × N·F", scaled("sent_over_nf", 1), "{:.2f}"),
        ("seed MiB/s while sending (in run)", scaled("seed_rate", MIB), "{:.2f}"),
        ("peers MiB/s while sending (median)", scaled("peer_rate_median", MIB), "{:.2f}"),
        ("Σ peers MiB/s while sending", scaled("peer_rate_sum", MIB), "{:.1f}"),
        ("D_p2p' at those rates, s", scaled("bound_measured_s", 1), "{:.1f}"),
        ("all finished / D_p2p'", scaled("all_over_measured_bound", 1), "{:.2f}"),
        ("CPU seconds, whole swarm", scaled("cpu_s", 1), "{:.1f}"),
    ]
    for text, value, fmt in rows:
        print(f"    {text:<34} {cell(value(ours_label), fmt):>8} {cell(value(peer_label), fmt):>8}")
    ratio = median(ours_label, "all_s") / median(peer_label, "all_s")
    measured_ratio = median(ours_label, "all_over_measured_bound") / median(peer_label, "all_over_measured_bound")
    print(f"  ours/peer = {ratio:.2f} (time until every peer finished; lower is better)")
    print(f"  ours/peer = {measured_ratio:.2f} as multiples of each swarm's own D_p2p' (lower is better)")
    if not args.quick:
        harness.RESULTS.mkdir(parents=True, exist_ok=True)
        strip = lambda f: {k: v for k, v in f.items() if k != "line"}  # noqa: E731
        (harness.RESULTS / f"{name}.json").write_text(json.dumps(
            {"bench": name, "unit": "s until every peer finished", "higher_is_better": False,
             "samples": {label: [f["all_s"] for f in runs] for label, runs in figures.items()},
             "ratio": ratio, "ratio_vs_measured_bound": measured_ratio, "bound_p2p_s": d_p2p,
             "bound_client_server_s": d_cs, "peers": n, "file_size": size,
             "upload_limit": setting.rate, "seed_upload": setting.seed_rate, "piece_length": setting.piece_length,
             "runs": {label: [strip(f) for f in runs] for label, runs in figures.items()},
             "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count()}, indent=2))


if __name__ == "__main__":
    main()
