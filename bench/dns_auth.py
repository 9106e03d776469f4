#!/usr/bin/env python3
"""Bench: `appnet dns serve` against NSD, authoritative for the same zone.

Load: dnsperf (same query file, same concurrency) pinned to the other core, for a fixed time per run.
The queries mix what an authoritative server answers all day: existing names (A, AAAA, MX, TXT),
names that do not exist (NXDOMAIN with the SOA), a type a name lacks (NODATA), a CNAME, a wildcard
and a referral to a delegated child zone. Three comparisons, each ours/NSD:
  - answered queries per second over UDP (dnsperf as fast as the server answers);
  - the same over TCP (8 connections, many queries each);
  - p99 latency over UDP at a fixed, moderate rate (lower is better).

Usage: bench/dns_auth.py [--rounds N] [--seconds S] [--records N] [--rate QPS]
"""

import argparse
import pathlib
import random
import re
import subprocess
import tempfile

import harness

ZONE = "bench.test."


def zone_text(records: int) -> str:
    lines = [
        f"$ORIGIN {ZONE}",
        "$TTL 3600",
        "@ IN SOA ns1 hostmaster ( 2026112701 7200 3600 1209600 300 )",
        "@ IN NS ns1",
        "ns1 IN A 127.0.0.1",
        "@ IN MX 10 mail",
        "mail IN A 192.0.2.25",
        '@ IN TXT "v=spf1 mx -all"',
        "www IN CNAME host1",
        "*.wild IN A 192.0.2.99",
        "child IN NS ns.child",
        "ns.child IN A 192.0.2.53",
    ]
    for i in range(records):
        lines.append(f"host{i} IN A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
        if i % 4 == 0:
            lines.append(f"host{i} IN AAAA 2001:db8::{i >> 16:x}:{i & 0xffff:x}")
    return "\n".join(lines) + "\n"


def query_text(records: int, count: int = 20000) -> str:
    rng = random.Random(7)
    kinds = [
        lambda: f"host{rng.randrange(records)}.{ZONE} A",
        lambda: f"host{rng.randrange(records)}.{ZONE} A",
        lambda: f"host{rng.randrange(0, records, 4)}.{ZONE} AAAA",
        lambda: f"{ZONE} MX",
        lambda: f"{ZONE} TXT",
        lambda: f"nothere{rng.randrange(1_000_000)}.{ZONE} A",
        lambda: f"mail.{ZONE} MX",
        lambda: f"www.{ZONE} A",
        lambda: f"x{rng.randrange(1000)}.wild.{ZONE} A",
        lambda: f"a.child.{ZONE} A",
    ]
    return "\n".join(rng.choice(kinds)() for _ in range(count)) + "\n"


def nsd_conf(work: pathlib.Path, port: int, zone_file: pathlib.Path) -> str:
    # Debian's NSD rate-limits responses and wants to drop privileges: turn both off for a bench.
    return f"""server:
    ip-address: 127.0.0.1@{port}
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "{work}"
    database: ""
    zonelistfile: "{work}/zone.list"
    pidfile: "{work}/nsd.pid"
    xfrdfile: "{work}/xfrd.state"
    xfrdir: "{work}"
    logfile: "{work}/nsd.log"
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
    verbosity: 0
remote-control:
    control-enable: no
zone:
    name: "{ZONE}"
    zonefile: "{zone_file}"
"""


def wait_dns(port: int) -> None:
    # A well-formed query for the zone's SOA; any reply means the server is up.
    qname = b"".join(bytes([len(label)]) + label.encode() for label in ZONE.rstrip(".").split(".")) + b"\0"
    probe = bytes.fromhex("beef00000001000000000000") + qname + bytes.fromhex("00060001")
    harness.wait_udp_reply(port, probe)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10, help="dnsperf run length")
    parser.add_argument("--records", type=int, default=10000, help="A records in the zone")
    parser.add_argument("--rate", type=int, default=20000, help="queries/s of the latency runs")
    args = parser.parse_args()

    appnet = harness.appnet_binary()
    with tempfile.TemporaryDirectory(prefix="appnet-bench-dns-") as tmp:
        work = pathlib.Path(tmp)
        zone_file = work / "bench.test.zone"
        zone_file.write_text(zone_text(args.records))
        queries = work / "queries.txt"
        queries.write_text(query_text(args.records))
        ours_port, peer_port = harness.free_port(), harness.free_port()
        (work / "nsd.conf").write_text(nsd_conf(work, peer_port, zone_file))

        ours = harness.Server(
            "ours (appnet dns serve)",
            [appnet, "dns", "serve", "--zone", str(zone_file), "--listen", f"127.0.0.1:{ours_port}"],
            ours_port,
            wait_dns,
        )
        peer = harness.Server("peer (NSD, 1 server)", ["nsd", "-d", "-c", str(work / "nsd.conf")], peer_port, wait_dns)

        def dnsperf(server: harness.Server, extra: list[str], seconds: int) -> str:
            return subprocess.run(
                harness.pinned(
                    ["dnsperf", "-s", "127.0.0.1", "-p", str(server.port), "-d", str(queries),
                     "-l", str(seconds), "-t", "2", *extra],
                    harness.LOAD_CPU,
                ),
                capture_output=True,
                text=True,
                timeout=seconds + 60,
            ).stdout

        def throughput(mode: str):
            def load(server: harness.Server) -> float:
                out = dnsperf(server, ["-m", mode, "-c", "8", "-q", "200"], args.seconds)
                qps = re.search(r"Queries per second:\s+([\d.]+)", out)
                if not qps:
                    raise RuntimeError(f"unexpected dnsperf output: {out}")
                return float(qps.group(1))
            return load

        def p99_latency(server: harness.Server) -> float:
            out = dnsperf(server, ["-Q", str(args.rate), "-v"], max(2, args.seconds // 2))
            latencies = sorted(float(line.split()[-1]) for line in out.splitlines() if line.startswith("> "))
            if not latencies:
                raise RuntimeError(f"no per-query lines from dnsperf -v: {out[:500]}")
            return 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]

        harness.compare("dns-auth-udp", ours, peer, throughput("udp"), "queries/s (UDP)", rounds=args.rounds)
        harness.compare("dns-auth-tcp", ours, peer, throughput("tcp"), "queries/s (TCP)", rounds=args.rounds)
        harness.compare("dns-auth-p99", ours, peer, p99_latency, f"p99 ms at {args.rate} q/s (UDP)",
                        rounds=args.rounds, higher_is_better=False)


if __name__ == "__main__":
    main()
