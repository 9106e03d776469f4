"""Side-by-side benchmark harness: our server and a named peer, on the same machine, loaded by the
same generator in the same run.

A bench describes two `Server`s and a `load` function that drives one server and returns one number
(queries per second, replies per second, ...). `compare` starts both servers, pinned to one core, then
runs the load alternately against each (the order flips every round so neither side always runs on a
warmer machine) with the generator pinned to the other core, and prints the medians and the ratio
ours/peer. Medians and ratios, never single absolute times: machines here are shared and noisy.
Benches print; they never assert on time.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import sys
import time
from typing import Callable

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SERVER_CPU = 0
LOAD_CPU = 1


def appnet_binary() -> str:
    """Builds the release binary (a no-op when it is fresh) and returns its path."""
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "appnet"], cwd=ROOT, check=True)
    return str(ROOT / "target" / "release" / "appnet")


def pinned(argv: list[str], cpu: int) -> list[str]:
    """`argv` run on one core when taskset exists (it does on Debian: util-linux)."""
    return ["taskset", "-c", str(cpu), *argv] if shutil.which("taskset") else argv


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_tcp(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing accepts TCP on port {port}")


def wait_udp_reply(port: int, probe: bytes, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        while time.monotonic() < deadline:
            s.sendto(probe, (host, port))
            try:
                s.recvfrom(65536)
                return
            except OSError:
                pass
    raise TimeoutError(f"nothing answers UDP on port {port}")


@dataclasses.dataclass
class Server:
    """A server process: `argv` to start it, `ready` to wait until it serves, `port` it listens on."""

    label: str
    argv: list[str]
    port: int
    ready: Callable[[int], None]
    process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            pinned(self.argv, SERVER_CPU), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            self.ready(self.port)
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def progress(done: int, total: int, text: str) -> None:
    width = 24
    filled = width * done // total
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {text:<40}")
    sys.stderr.flush()
    if done == total:
        sys.stderr.write("\n")


def compare(
    name: str,
    ours: Server,
    peer: Server,
    load: Callable[[Server], float],
    unit: str,
    rounds: int = 5,
    higher_is_better: bool = True,
) -> float:
    """Runs `rounds` alternating measurements of both servers; prints and returns ours/peer."""
    samples: dict[str, list[float]] = {ours.label: [], peer.label: []}
    for server in (ours, peer):
        server.start()
    try:
        for server in (ours, peer):
            load(server)  # warm-up, not counted
        total = 2 * rounds
        for i in range(rounds):
            order = (ours, peer) if i % 2 == 0 else (peer, ours)
            for server in order:
                value = load(server)
                samples[server.label].append(value)
                progress(len(samples[ours.label]) + len(samples[peer.label]), total, f"{server.label}: {value:,.1f} {unit}")
    finally:
        for server in (ours, peer):
            server.stop()

    ours_median = statistics.median(samples[ours.label])
    peer_median = statistics.median(samples[peer.label])
    ratio = ours_median / peer_median if peer_median else float("inf")
    better = "higher" if higher_is_better else "lower"
    print(f"bench {name}: {unit}, {better} is better, median of {rounds} alternating runs")
    for server, median in ((ours, ours_median), (peer, peer_median)):
        runs = ", ".join(f"{v:,.1f}" for v in samples[server.label])
        print(f"  {server.label:<28} median {median:>14,.1f}   runs: {runs}")
    print(f"  ours/peer = {ratio:.2f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(
        json.dumps(
            {"bench": name, "unit": unit, "higher_is_better": higher_is_better, "samples": samples, "ratio": ratio,
             "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count()},
            indent=2,
        )
    )
    return ratio
