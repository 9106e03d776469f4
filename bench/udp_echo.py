#!/usr/bin/env python3
"""Bench: `appnet udp serve` against the course's Python upper-case server.

Load: `appnet udp ping -i 0` (one probe in flight at a time), the same generator for both, pinned to
the other core. Metric: completed request/reply exchanges per second.

Usage: bench/udp_echo.py [--rounds N] [--count N]
"""

import argparse
import re
import subprocess
import sys

import harness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count", type=int, default=20000, help="exchanges per run")
    args = parser.parse_args()

    appnet = harness.appnet_binary()
    probe = b"ping 0 "
    ours_port, peer_port = harness.free_port(), harness.free_port()
    ours = harness.Server(
        "ours (appnet udp serve)",
        [appnet, "udp", "serve", "--listen", f"127.0.0.1:{ours_port}"],
        ours_port,
        lambda port: harness.wait_udp_reply(port, probe),
    )
    peer = harness.Server(
        "peer (python socket server)",
        [sys.executable, str(harness.ROOT / "bench" / "peers" / "udp_upper_server.py"), str(peer_port)],
        peer_port,
        lambda port: harness.wait_udp_reply(port, probe),
    )

    def load(server: harness.Server) -> float:
        out = subprocess.run(
            harness.pinned(
                [appnet, "udp", "ping", f"127.0.0.1:{server.port}", "-c", str(args.count), "-i", "0", "-W", "1", "-q"],
                harness.LOAD_CPU,
            ),
            capture_output=True,
            text=True,
            timeout=600,
        ).stdout
        summary = re.search(r"(\d+) received, .* time (\d+)ms", out)
        if not summary:
            raise RuntimeError(f"unexpected ping output: {out}")
        received, millis = int(summary.group(1)), max(int(summary.group(2)), 1)
        return received * 1000 / millis

    harness.compare("udp-echo", ours, peer, load, "exchanges/s", rounds=args.rounds)


if __name__ == "__main__":
    main()
