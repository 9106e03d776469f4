#!/usr/bin/env python3
"""Bench: `appnet ftp serve` against vsftpd, serving the same directory tree.

Both servers serve one tree, generated once per run under /var/tmp (a disk, not a tmpfs; the
files stay in the page cache throughout): a large file `big.bin` (default 1 GiB: an 8 MiB block
of os.urandom repeated) and `small/f0001.bin`... (default 1,000 files of 4 KiB each, each its own
random bytes). Both log in the same way, anonymously and read-only. Both servers run on the
server core; every client (curl, and this script's own clients) runs on the other one.
Three comparisons, each the median of --rounds alternating runs after an uncounted warm-up run
per server (harness.compare), ours/peer:

  1. RETR of big.bin by `curl -s -o /dev/null -w '%{size_download} %{speed_download} ...'`
     (passive, binary: curl's EPSV and TYPE I). MiB/s, higher is better. Printed too: the
     server's CPU time per GiB sent (utime+stime+cutime+cstime of its whole process tree, from
     /proc; in clock ticks, so coarse for --quick's small file), lower is better and steadier than
     MiB/s on a shared machine. vsftpd's process that ran the transfer outlives its parent and
     would be reaped by init with its CPU time, so this script makes itself a child subreaper
     (prctl) and counts such orphans as the server's before reaping them.
     curl 7.88 now and then waits 1 s between a 229 reply and connecting the data connection
     (its trace shows `ftp_perform ends with SECONDARY: 0`, then `Trying` a second later; it
     happens with vsftpd too); a RETR that began that late is noted on a line of its own.
  2. One client session fetching every small file in order: a plain blocking client written
     here (this process, on the load core, the garbage collector off): log in, TYPE I, CWD small,
     then per file EPSV, connect, RETR, read to EOF, 226, the bytes compared with what was
     generated. Files/s (count / wall time from connect to the QUIT reply), higher is better;
     plus the server's CPU ms per file. Not curl with a URL glob (`.../small/f[0001-1000].bin`):
     that same 1 s curl stall struck a few of every 1,000 files against either server, turning
     the figure into a count of stalls; and this client is faster than curl here.
  3. --sessions concurrent sessions held open: raw sockets from asyncio, each logs in, EPSV,
     LIST of / (read to the end and checked), and then stays idle. Each run starts the server
     afresh and reads its resident memory (the sum over its process tree: vsftpd forks processes
     per session, ours is one process) at baseline, with all sessions held, and after they all
     QUIT. The figure is KiB of RSS per held session, (held - baseline) / sessions, lower is
     better. The PSS sum is printed next to it: RSS counts the pages vsftpd's forked processes
     share once per process, PSS divides them among the sharers.

The work is checked, not assumed: every transfer must end with 226 and exactly the file's size
(a short transfer stops the bench; it is a failure, not a figure), every small file's bytes must
match what was generated (SHA-1), so must big.bin's once per server (before its first warm-up
run, untimed), and every session must log in, list and quit. Any failure makes the bench exit 1; timing never does.

The servers (both pinned to the server core):
  - ours: `appnet ftp serve --root ROOT --listen 127.0.0.1:PORT --user bench:benchpw --anonymous
    --passive-ports 28000-29999`, RUST_LOG=warn (its output goes to ours.log in the work
    directory; any WARN/ERROR line there is printed at the end). Both passive ranges lie below
    the kernel's ephemeral range, so no client socket takes their ports.
  - vsftpd (Debian's 3.0.3), a private instance started as root with a config written here:
    standalone (listen=YES, background=NO) on 127.0.0.1 and a free port, anonymous read-only with
    anon_root=ROOT (root-owned, not writable by `ftp`), local users off, secure_chroot_dir an
    empty directory, seccomp_sandbox=NO, xferlog_enable=NO, pasv_min_port/pasv_max_port
    30000-31999, max_clients and max_per_ip raised (default 2000 and 50; the latter would refuse
    most of the sessions of step 3, all from one IP), dirmessage_enable=NO. It keeps its
    defaults otherwise: use_sendfile=YES, one process per session plus its privileged helper,
    and the anonymous password prompt (a 331 then PASS, as ours asks).

Usage: bench/ftp.py [--quick] [--rounds N] [--big-mib N] [--small-files N] [--small-size BYTES]
                    [--sessions N]
--quick: a smoke run (64 MiB, 200 small files, 50 sessions, 1 round) unless a flag says otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
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
import time

import harness
from smtp import report

VSFTPD = "/usr/sbin/vsftpd"
OURS_PASSIVE = (28000, 29999)
PEER_PASSIVE = (30000, 31999)
BLOCK = 8 << 20  # the big file repeats one random block of this size
MIB, GIB = 1 << 20, 1 << 30


class Failed(Exception):
    """A functional failure: the bench stops and exits 1."""


# --- processes -----------------------------------------------------------------------------------

def process_table() -> dict[int, tuple[int, str, str, float]]:
    """pid -> (parent pid, start time, state, CPU seconds) of every process now; the CPU time is
    utime + stime + cutime + cstime (what it has reaped of its children too)."""
    ticks = os.sysconf("SC_CLK_TCK")
    table = {}
    for proc in pathlib.Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(proc.name)] = (int(fields[1]), fields[19], fields[0], sum(int(f) for f in fields[11:15]) / ticks)
    return table


# vsftpd's session processes do not wait for each other: the one that ran the transfers outlives
# its parent, is re-parented to init, and init reaps it and its CPU time with it. So this process
# makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER): such orphans come here instead,
# count as part of the server that is being loaded (one at a time), and `reap_adopted` adds their
# CPU time to REAPED when it reaps them.
PR_SET_CHILD_SUBREAPER = 36
SERVER_PIDS: set[int] = set()  # the servers themselves: children of this process, not orphans
REAPED = [0.0]


def become_subreaper() -> bool:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def adopted(table: dict) -> list[int]:
    """Orphans re-parented to this process (call it when no curl of ours is running)."""
    me = os.getpid()
    return [pid for pid, (ppid, *_) in table.items() if ppid == me and pid not in SERVER_PIDS]


def tree(root: int, orphans: bool = True, table: dict | None = None) -> dict[int, tuple]:
    """pid -> process_table entry of `root`, its descendants and (with `orphans`) the adopted ones."""
    table = table if table is not None else process_table()
    roots = {root, *(adopted(table) if orphans else ())}
    found = {}
    for pid, entry in table.items():
        walk = pid
        while walk > 1:
            if walk in roots:
                found[pid] = entry
                break
            walk = table.get(walk, (0,))[0]
    return found


def cpu_seconds(root: int) -> float:
    """CPU time used so far by the server at `root`: its tree, its orphans, the reaped orphans."""
    return sum(entry[3] for entry in tree(root).values()) + REAPED[0]


def reap_adopted() -> None:
    for pid in adopted(process_table()):
        try:
            fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                continue
            cpu = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                REAPED[0] += cpu
        except (OSError, IndexError):
            pass


def tree_memory(root: int) -> tuple[int, int, int]:
    """(RSS KiB, PSS KiB, processes) summed over the tree of `root`."""
    rss = pss = count = 0
    for pid in tree(root):
        try:
            text = pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        count += 1
        for line in text.splitlines():
            if line.startswith("Rss:"):
                rss += int(line.split()[1])
            elif line.startswith("Pss:"):
                pss += int(line.split()[1])
    return rss, pss, count


def settle(root: int, processes: int, timeout: float = 5.0) -> None:
    """Waits until the server at `root` is back to `processes` live processes (vsftpd's session
    processes have exited: their CPU time is in the listener's cutime/cstime or, for orphans,
    about to be in REAPED), then reaps the orphans."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        table = process_table()
        live = [pid for pid, entry in tree(root, table=table).items() if entry[2] != "Z"]
        if len(live) <= processes:
            break
        time.sleep(0.02)
    reap_adopted()


class FtpServer(harness.Server):
    """harness.Server that keeps the server's stderr in a log file and, when stopped, also ends
    whatever its process tree still holds (vsftpd's session processes outlive the listener)."""

    def __init__(self, label: str, argv: list[str], port: int, log: pathlib.Path):
        super().__init__(label, argv, port, wait_banner)
        self.log = log

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                harness.pinned(self.argv, harness.SERVER_CPU), stdin=subprocess.DEVNULL,
                stdout=log, stderr=log,
            )
        SERVER_PIDS.add(self.process.pid)
        try:
            self.ready(self.port)
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        if not self.process:
            return
        left = tree(self.process.pid) if self.process.poll() is None else {}
        super().stop()
        for pid, (_, started, *_) in left.items():
            if pid == self.process.pid:
                continue
            try:  # the same process still (start time), not a reused PID
                fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                if fields[19] == started and fields[0] != "Z":
                    os.kill(pid, signal.SIGKILL)
            except (OSError, IndexError):
                pass
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and any(
                entry[2] != "Z" for pid, entry in process_table().items() if pid in left and pid != self.process.pid):
            time.sleep(0.02)
        reap_adopted()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


def wait_banner(port: int, timeout: float = 10.0) -> None:
    """Ready means a 220 greeting, not just an accepted connection."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.makefile("rb").readline().startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"no FTP greeting on port {port}")


def vsftpd_conf(work: pathlib.Path, root: pathlib.Path, port: int, empty: pathlib.Path) -> str:
    return f"""\
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port={port}
background=NO
anonymous_enable=YES
anon_root={root}
local_enable=NO
write_enable=NO
secure_chroot_dir={empty}
seccomp_sandbox=NO
xferlog_enable=NO
vsftpd_log_file={work}/vsftpd.log
dirmessage_enable=NO
pasv_enable=YES
pasv_min_port={PEER_PASSIVE[0]}
pasv_max_port={PEER_PASSIVE[1]}
max_clients=5000
max_per_ip=5000
use_sendfile=YES
"""


# --- the tree ------------------------------------------------------------------------------------

def generate(root: pathlib.Path, big: int, small_files: int, small_size: int, width: int):
    """Writes big.bin and small/f<N>.bin; returns their SHA-1s (big, {name: sha1})."""
    (root / "small").mkdir(parents=True)
    block = os.urandom(min(BLOCK, big) or 1)
    digest = hashlib.sha1()
    with open(root / "big.bin", "wb") as out:
        left = big
        while left:
            chunk = block[:min(left, len(block))]
            out.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
    small = {}
    for i in range(1, small_files + 1):
        data = os.urandom(small_size)
        name = f"f{i:0{width}d}.bin"
        (root / "small" / name).write_bytes(data)
        small[name] = hashlib.sha1(data).hexdigest()
    for path in (root, root / "small"):
        os.chmod(path, 0o755)
    return digest.hexdigest(), small


# --- the load ------------------------------------------------------------------------------------

def curl(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(harness.pinned(["curl", "-s", *args], harness.LOAD_CPU),
                          capture_output=True, timeout=timeout)


def check_content(port: int, big_sha1: str, small: dict[str, str], label: str) -> None:
    """Once per server: the bytes, not only the sizes."""
    got = hashlib.sha1()
    with subprocess.Popen(harness.pinned(["curl", "-s", f"ftp://127.0.0.1:{port}/big.bin"], harness.LOAD_CPU),
                          stdout=subprocess.PIPE) as proc:
        while chunk := proc.stdout.read(MIB):
            got.update(chunk)
    if proc.returncode != 0 or got.hexdigest() != big_sha1:
        raise Failed(f"{label}: big.bin arrived different (curl exit {proc.returncode})")
    names = sorted(small)
    for name in {names[0], names[len(names) // 2], names[-1]}:
        out = curl([f"ftp://127.0.0.1:{port}/small/{name}"], 60)
        if out.returncode != 0 or hashlib.sha1(out.stdout).hexdigest() != small[name]:
            raise Failed(f"{label}: small/{name} arrived different (curl exit {out.returncode})")


def fetch_all(port: int, small: dict[str, str], label: str) -> None:
    """One session fetching every small file, as a plain blocking client does it: log in, TYPE I,
    CWD small, then per file EPSV, connect, RETR, read to EOF, 226. Each file's bytes must match."""

    def reply(want: tuple[int, ...], what: str) -> bytes:
        line = control.readline()
        if line[3:4] == b"-":
            end = line[:3] + b" "
            while line and not line.startswith(end):
                line = control.readline()
        if not line[:3].isdigit() or int(line[:3]) not in want:
            raise Failed(f"{label}: {what}: {line.strip()[:100]!r}")
        return line

    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        control = sock.makefile("rb")
        reply((220,), "greeting")
        sock.sendall(b"USER anonymous\r\n")
        if reply((230, 331), "USER").startswith(b"331"):
            sock.sendall(b"PASS bench@example.com\r\n")
            reply((230,), "PASS")
        for text, want in ((b"TYPE I", 200), (b"CWD small", 250)):
            sock.sendall(text + b"\r\n")
            reply((want,), text.decode())
        for name, sha1 in small.items():
            sock.sendall(b"EPSV\r\n")
            found = re.search(rb"\(\|\|\|(\d+)\|\)", reply((229,), "EPSV"))
            if not found:
                raise Failed(f"{label}: EPSV reply without a port")
            with socket.create_connection(("127.0.0.1", int(found.group(1))), timeout=30) as data:
                sock.sendall(b"RETR " + name.encode() + b"\r\n")
                reply((125, 150), f"RETR {name}")
                chunks = []
                while chunk := data.recv(65536):
                    chunks.append(chunk)
            reply((226,), f"after RETR {name}")
            if hashlib.sha1(b"".join(chunks)).hexdigest() != sha1:
                raise Failed(f"{label}: small/{name} arrived with {sum(map(len, chunks))} bytes, not as generated")
        sock.sendall(b"QUIT\r\n")
        reply((221,), "QUIT")


async def ftp_reply(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One reply, multi-line ones (`123-` ... `123 `) included: (code, last line)."""
    line = await reader.readline()
    if len(line) < 4 or not line[:3].isdigit():
        raise Failed(f"bad reply {line[:80]!r}")
    if line[3:4] == b"-":
        end = line[:3] + b" "
        while not line.startswith(end):
            line = await reader.readline()
            if not line:
                raise Failed("connection closed inside a multi-line reply")
    return int(line[:3]), line


async def command(reader, writer, text: str, want: tuple[int, ...]) -> bytes:
    writer.write(text.encode() + b"\r\n")
    code, line = await ftp_reply(reader)
    if code not in want:
        raise Failed(f"{text.split()[0]}: {line.strip()[:100]!r}")
    return line


async def open_session(port: int, gate: asyncio.Semaphore, expect: tuple[str, ...]):
    """Logs in, lists / over an EPSV data connection; returns the open control connection."""
    async with gate:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            code, line = await ftp_reply(reader)
            if code != 220:
                raise Failed(f"greeting {line.strip()[:100]!r}")
            line = await command(reader, writer, "USER anonymous", (230, 331))
            if line.startswith(b"331"):
                await command(reader, writer, "PASS bench@example.com", (230,))
            line = await command(reader, writer, "EPSV", (229,))
            found = re.search(rb"\(\|\|\|(\d+)\|\)", line)
            if not found:
                raise Failed(f"EPSV reply without a port: {line.strip()!r}")
            data_reader, data_writer = await asyncio.open_connection("127.0.0.1", int(found.group(1)))
            await command(reader, writer, "LIST", (125, 150))
            listing = await data_reader.read()  # to EOF
            data_writer.close()
            code, line = await ftp_reply(reader)
            if code != 226:
                raise Failed(f"after LIST: {line.strip()[:100]!r}")
            names = {entry.split()[-1] for entry in listing.decode(errors="replace").splitlines() if entry.split()}
            if missing := [name for name in expect if name not in names]:
                raise Failed(f"LIST lacks {missing}: {listing[:200]!r}")
        except BaseException:
            writer.close()
            raise
        return reader, writer


async def hold_sessions(port: int, sessions: int, measure):
    """Opens `sessions` sessions (25 connecting at a time), calls `measure()` while all are held,
    then QUITs them all. Returns (what measure returned, failures)."""
    gate = asyncio.Semaphore(25)
    results = await asyncio.gather(
        *(asyncio.wait_for(open_session(port, gate, ("big.bin", "small")), 60) for _ in range(sessions)),
        return_exceptions=True,
    )
    held = [r for r in results if not isinstance(r, BaseException)]
    failures = [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
    await asyncio.sleep(0.5)
    measured = measure()

    async def quit_session(reader, writer):
        try:
            await command(reader, writer, "QUIT", (221,))
        finally:
            writer.close()

    quits = await asyncio.gather(*(asyncio.wait_for(quit_session(r, w), 30) for r, w in held),
                                 return_exceptions=True)
    failures += [f"QUIT: {type(q).__name__}: {q}" for q in quits if isinstance(q, BaseException)]
    return measured, failures


# --- main ----------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 64 MiB, 200 small files, 50 sessions, 1 round (flags still win)")
    parser.add_argument("--rounds", type=int, help="alternating rounds per comparison (default 3)")
    parser.add_argument("--big-mib", type=int, help="size of the large file in MiB (default 1024)")
    parser.add_argument("--small-files", type=int, help="number of small files (default 1000)")
    parser.add_argument("--small-size", type=int, default=4096, help="bytes per small file")
    parser.add_argument("--sessions", type=int, help="concurrent sessions held (default 200)")
    args = parser.parse_args()
    quick = {"rounds": 1, "big_mib": 64, "small_files": 200, "sessions": 50}
    full = {"rounds": 3, "big_mib": 1024, "small_files": 1000, "sessions": 200}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if not os.path.exists(VSFTPD):
        sys.exit("bench/ftp.py: vsftpd is missing (apt-get install vsftpd)")
    if not shutil.which("curl"):
        sys.exit("bench/ftp.py: curl is missing (apt-get install curl)")
    if os.geteuid() != 0:
        sys.exit("bench/ftp.py: vsftpd must be started as root")

    try:
        run(args)
    except Failed as failure:
        report(f"FAILED: {failure}")
        sys.exit(1)


def run(args: argparse.Namespace) -> None:
    appnet = harness.appnet_binary()
    os.environ["RUST_LOG"] = "warn"
    # This process is a load generator too (step 3): keep it on the load core. The servers are
    # pinned to the server core by taskset, which overrides what they would inherit.
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {harness.LOAD_CPU})
    if not become_subreaper():
        report("note: no PR_SET_CHILD_SUBREAPER here: vsftpd's CPU time misses its orphaned processes")
    big = args.big_mib * MIB
    width = max(4, len(str(args.small_files)))

    with tempfile.TemporaryDirectory(prefix="appnet-bench-ftp-", dir="/var/tmp") as tmp:
        work = pathlib.Path(tmp)
        os.chmod(work, 0o755)
        root, empty = work / "root", work / "empty"
        empty.mkdir()
        report(f"step 0/3: generating the tree: big.bin {args.big_mib} MiB, "
               f"{args.small_files} small files of {args.small_size} B")
        big_sha1, small = generate(root, big, args.small_files, args.small_size, width)

        ours_port, peer_port = (harness.free_port(socket.SOCK_STREAM) for _ in range(2))
        ours = FtpServer(
            "ours (appnet ftp serve)",
            [appnet, "ftp", "serve", "--root", str(root), "--listen", f"127.0.0.1:{ours_port}",
             "--user", "bench:benchpw", "--anonymous", "--passive-ports", "%d-%d" % OURS_PASSIVE],
            ours_port, work / "ours.log",
        )
        (work / "vsftpd.conf").write_text(vsftpd_conf(work, root, peer_port, empty))
        version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "vsftpd"], capture_output=True,
                                 text=True).stdout.split("-")[0] or "?"
        peer = FtpServer(f"peer (vsftpd {version})", [VSFTPD, str(work / "vsftpd.conf")], peer_port,
                         work / "vsftpd.stderr")
        servers = (ours, peer)
        extra: dict[str, dict[str, list]] = {s.label: {} for s in servers}  # warm-up first

        def record(server: FtpServer, key: str, value) -> None:
            extra[server.label].setdefault(key, []).append(value)

        def summary(name: str, key: str, text: str, scale=lambda v: v) -> None:
            ours_v = statistics.median(scale(v) for v in extra[ours.label][key][1:])
            peer_v = statistics.median(scale(v) for v in extra[peer.label][key][1:])
            ratio = ours_v / peer_v if peer_v else float("inf")
            print(f"  {text}, lower is better: ours {ours_v:,.3f}, peer {peer_v:,.3f}; ours/peer = {ratio:.2f}")
            harness.RESULTS.mkdir(parents=True, exist_ok=True)
            (harness.RESULTS / f"{name}.json").write_text(json.dumps(
                {"bench": name, "unit": text, "higher_is_better": False,
                 "samples": {label: [scale(v) for v in r[key][1:]] for label, r in extra.items()},
                 "ratio": ratio, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=2))

        checked: set[str] = set()
        try:
            # 1. One large RETR.
            report(f"step 1/3: RETR of a {args.big_mib} MiB file, curl, passive binary, "
                   f"{args.rounds} round(s) + warm-up")

            def big_retr(server: FtpServer) -> float:
                if server.label not in checked:
                    check_content(server.port, big_sha1, small, server.label)
                    checked.add(server.label)
                    settle(server.pid, 1)
                before = cpu_seconds(server.pid)
                out = curl(["-o", "/dev/null", "-w",
                            "%{size_download} %{speed_download} %{response_code} %{time_pretransfer}",
                            f"ftp://127.0.0.1:{server.port}/big.bin"], timeout=600)
                settle(server.pid, 1)
                cpu = cpu_seconds(server.pid) - before
                fields = out.stdout.decode().split()
                if out.returncode != 0 or len(fields) != 4 or int(fields[0]) != big or fields[2] != "226":
                    raise Failed(f"{server.label}: RETR big.bin: curl exit {out.returncode}, "
                                 f"size/speed/reply {out.stdout.decode()!r}, want {big} bytes and 226")
                if float(fields[3]) > 0.5:  # see the docstring: curl's own stall, counted all the same
                    report(f"  note: curl took {float(fields[3]):.2f} s before the transfer of big.bin began")
                record(server, "cpu_big", cpu / (big / GIB))
                return float(fields[1]) / MIB

            harness.compare("ftp-retr-big", ours, peer, big_retr, f"MiB/s, RETR of {args.big_mib} MiB",
                            rounds=args.rounds)
            summary("ftp-retr-big-cpu", "cpu_big", "server CPU s per GiB sent")

            # 2. Many small files over one control connection.
            report(f"step 2/3: {args.small_files} files of {args.small_size} B in one session, "
                   f"EPSV + RETR each, {args.rounds} round(s) + warm-up")

            def small_files(server: FtpServer) -> float:
                before = cpu_seconds(server.pid)
                gc.collect()
                gc.disable()
                try:
                    started = time.perf_counter()
                    fetch_all(server.port, small, server.label)
                    wall = time.perf_counter() - started
                finally:
                    gc.enable()
                settle(server.pid, 1)
                cpu = cpu_seconds(server.pid) - before
                record(server, "cpu_small", 1000 * cpu / args.small_files)
                return args.small_files / wall

            harness.compare("ftp-small-files", ours, peer, small_files,
                            f"files/s, {args.small_files} x {args.small_size} B in one session", rounds=args.rounds)
            summary("ftp-small-files-cpu", "cpu_small", "server CPU ms per file")

            # 3. Concurrent idle sessions: memory.
            report(f"step 3/3: {args.sessions} concurrent sessions (login, EPSV, LIST, idle), "
                   f"server memory, fresh server per run, {args.rounds} round(s) + warm-up")
            failures: list[str] = []

            def sessions_memory(server: FtpServer) -> float:
                server.stop()
                server.start()
                time.sleep(0.3)
                processes = len(tree(server.pid))
                baseline = tree_memory(server.pid)
                held, failed = asyncio.run(hold_sessions(server.port, args.sessions, lambda: tree_memory(server.pid)))
                settle(server.pid, processes)
                time.sleep(0.3)
                after = tree_memory(server.pid)
                failures.extend(f"{server.label}: {f}" for f in failed)
                report(f"  {server.label}: {args.sessions - len(failed)}/{args.sessions} sessions ok; RSS KiB "
                       f"baseline {baseline[0]:,}, held {held[0]:,} ({held[2]} processes), after {after[0]:,}; "
                       f"PSS KiB {baseline[1]:,} / {held[1]:,} / {after[1]:,}")
                if failed:
                    report(f"    first failure: {failed[0]}")
                for key, (b, h, a) in (("rss", (baseline[0], held[0], after[0])),
                                       ("pss", (baseline[1], held[1], after[1]))):
                    record(server, key, (b, h, a))
                return (held[0] - baseline[0]) / args.sessions

            ratio = harness.compare("ftp-sessions-memory", ours, peer, sessions_memory,
                                    f"RSS KiB per held session ({args.sessions} sessions)", rounds=args.rounds,
                                    higher_is_better=False)
            print(f"  (ours/peer = {ratio:.4f} with more digits)")
            summary("ftp-sessions-memory-pss", "pss", "PSS KiB per held session",
                    lambda v: (v[1] - v[0]) / args.sessions)
            for server in servers:
                for key in ("rss", "pss"):
                    runs = extra[server.label][key][1:]
                    b, h, a = (statistics.median(v[i] for v in runs) for i in range(3))
                    print(f"  {server.label:<28} {key.upper()} KiB, medians: baseline {b:,.0f}, "
                          f"held {h:,.0f}, after close {a:,.0f} ({(a - b) / args.sessions:+,.1f} per session)")
            print(f"  sessions failed: {len(failures)} of {args.sessions * 2 * (args.rounds + 1)}")
            if failures:
                raise Failed(f"{len(failures)} sessions failed; first: {failures[0]}")
        finally:
            for server in servers:
                server.stop()
            # ours.log also holds the startup table `appnet` prints on stdout: only log lines count.
            for log in (work / "ours.log", work / "vsftpd.log", work / "vsftpd.stderr"):
                lines = log.read_text(errors="replace").splitlines() if log.exists() else []
                noted = [line for line in lines if re.search(r"WARN|ERROR|panic|OOPS|FAIL", line)]
                if noted:
                    report(f"  {log.name}: {len(noted)} warning/error lines, first: {noted[0][:200]}")


if __name__ == "__main__":
    main()
