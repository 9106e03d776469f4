#!/usr/bin/env python3
"""Bench: loading a 1,000,000-record zone, `appnet dns serve` against NSD.

Each server starts on the same zone file; the time is from the start of the process to its first
answer for a name at the end of the zone, and the memory is the process's peak resident size
(VmHWM) at that moment. Both are ours/NSD ratios, lower is better. The issue's bar: under 5 s and
600 MB for ours.

Usage: bench/dns_zone_load.py [--rounds N] [--records N]
"""

import argparse
import pathlib
import socket
import statistics
import subprocess
import tempfile
import time

import dns_auth
import harness


def zone_text(records: int) -> str:
    lines = [
        f"$ORIGIN {dns_auth.ZONE}",
        "$TTL 3600",
        "@ IN SOA ns1 hostmaster ( 2026112701 7200 3600 1209600 300 )",
        "@ IN NS ns1",
        "ns1 IN A 127.0.0.1",
    ]
    # Four kinds of record, as a large hosting zone has them.
    for i in range(records - 3):
        kind = i % 4
        if kind == 0:
            lines.append(f"h{i} IN A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
        elif kind == 1:
            lines.append(f"h{i - 1} IN AAAA 2001:db8::{i >> 16:x}:{i & 0xffff:x}")
        elif kind == 2:
            lines.append(f"h{i - 2} IN MX 10 mail{i % 97}")
        else:
            lines.append(f'h{i - 3} IN TXT "record {i}"')
    return "\n".join(lines) + "\n"


def query(name: str) -> bytes:
    qname = b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split(".")) + b"\0"
    return bytes.fromhex("beef00000001000000000000") + qname + bytes.fromhex("00010001")


def measure(argv: list[str], port: int, probe: bytes) -> tuple[float, float]:
    """Seconds until the first answer, and peak resident MB at that moment."""
    started = time.monotonic()
    process = subprocess.Popen(harness.pinned(argv, harness.SERVER_CPU), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.05)
            while time.monotonic() - started < 120:
                s.sendto(probe, ("127.0.0.1", port))
                try:
                    reply, _ = s.recvfrom(65536)
                    if reply[3] & 0x0F == 0:  # NOERROR: the zone is loaded, not just the socket
                        break
                except OSError:
                    pass
            else:
                raise TimeoutError("the server never answered")
        elapsed = time.monotonic() - started
        peak_kb = max(resident_peak_kb(pid) for pid in process_tree(process.pid))
        return elapsed, peak_kb / 1024
    finally:
        process.terminate()
        process.wait(timeout=30)


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (NSD forks its serving process from the loader)."""
    pids = [pid]
    for p in pathlib.Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) in pids:
                    pids.append(int(p.name))
            except OSError:
                pass
    return pids


def resident_peak_kb(pid: int) -> int:
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()

    appnet = harness.appnet_binary()
    with tempfile.TemporaryDirectory(prefix="appnet-bench-zone-") as tmp:
        work = pathlib.Path(tmp)
        zone_file = work / "big.zone"
        zone_file.write_text(zone_text(args.records))
        last = (args.records - 4) // 4 * 4
        probe = query(f"h{last}.{dns_auth.ZONE}")
        ours_port, peer_port = harness.free_port(), harness.free_port()
        (work / "nsd.conf").write_text(dns_auth.nsd_conf(work, peer_port, zone_file))
        runs = {
            "ours (appnet dns serve)": [appnet, "dns", "serve", "--zone", str(zone_file), "--listen", f"127.0.0.1:{ours_port}"],
            "peer (NSD)": ["nsd", "-d", "-c", str(work / "nsd.conf")],
        }
        ports = {"ours (appnet dns serve)": ours_port, "peer (NSD)": peer_port}
        samples: dict[str, list[tuple[float, float]]] = {label: [] for label in runs}
        total = 2 * args.rounds
        for i in range(args.rounds):
            order = list(runs) if i % 2 == 0 else list(reversed(runs))
            for label in order:
                samples[label].append(measure(runs[label], ports[label], probe))
                done = sum(len(v) for v in samples.values())
                seconds, mb = samples[label][-1]
                harness.progress(done, total, f"{label}: {seconds:.2f} s, {mb:.0f} MB")
        print(f"bench dns-zone-load: {args.records:,} records, median of {args.rounds} alternating runs, lower is better")
        medians = {}
        for label, values in samples.items():
            seconds = statistics.median(v[0] for v in values)
            mb = statistics.median(v[1] for v in values)
            medians[label] = (seconds, mb)
            print(f"  {label:<28} load {seconds:6.2f} s   peak RSS {mb:7.1f} MB")
        ours, peer = medians["ours (appnet dns serve)"], medians["peer (NSD)"]
        print(f"  ours/peer load time = {ours[0] / peer[0]:.2f}   ours/peer memory = {ours[1] / peer[1]:.2f}")


if __name__ == "__main__":
    main()
