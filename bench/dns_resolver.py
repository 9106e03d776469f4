#!/usr/bin/env python3
"""Bench: `appnet dns resolve` against Unbound, both resolving through the mini Internet.

`appnet up` provides the root, TLD and authoritative servers; both resolvers start cold and get the
same dnsperf load (one warm-up run fills their caches, as a resolver's cache is what it serves
from most of the time). The queries mix names that exist (A, MX, TXT, a CNAME) with names that do
not (negative caching, RFC 2308). Unbound runs one thread with only its iterator module, so both do
the same work: no DNSSEC validation, no QNAME minimisation. Metric: answered queries per second.

Usage: bench/dns_resolver.py [--rounds N] [--seconds S]
"""

import argparse
import pathlib
import random
import re
import subprocess
import tempfile

import harness

NAMES = [
    ("www.alpha.example.", "A"),
    ("mail.alpha.example.", "A"),
    ("alpha.example.", "MX"),
    ("alpha.example.", "TXT"),
    ("web.alpha.example.", "A"),
    ("www.beta.example.", "A"),
    ("beta.example.", "MX"),
    ("ns.beta.example.", "A"),
]


def query_text(count: int = 20000) -> str:
    rng = random.Random(11)
    lines = []
    for _ in range(count):
        if rng.random() < 0.1:
            lines.append(f"missing{rng.randrange(50)}.alpha.example. A")
        else:
            name, qtype = rng.choice(NAMES)
            lines.append(f"{name} {qtype}")
    return "\n".join(lines) + "\n"


def unbound_conf(work: pathlib.Path, port: int, mini_port: int) -> str:
    # Unbound asks the servers of delegated zones on port 53 only: each mini Internet zone gets a
    # stub with its server and port, so Unbound still starts at our root but reaches every server.
    zones = [(".", "127.0.0.2"), ("example.", "127.0.0.3"), ("alpha.example.", "127.0.0.4"), ("beta.example.", "127.0.0.4")]
    stubs = "".join(
        f'stub-zone:\n    name: "{zone}"\n    stub-addr: {ip}@{mini_port}\n    stub-prime: no\n' for zone, ip in zones
    )
    return f"""server:
    interface: 127.0.0.1
    port: {port}
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{work}"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 0
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    module-config: "iterator"
    qname-minimisation: no
    harden-referral-path: no
    ratelimit: 0
    ip-ratelimit: 0
{stubs}remote-control:
    control-enable: no
"""


def wait_resolver(port: int) -> None:
    qname = b"\x03www\x05alpha\x07example\x00"
    probe = bytes.fromhex("beef01000001000000000000") + qname + bytes.fromhex("00010001")
    harness.wait_udp_reply(port, probe, timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10, help="dnsperf run length")
    args = parser.parse_args()

    appnet = harness.appnet_binary()
    with tempfile.TemporaryDirectory(prefix="appnet-bench-resolver-") as tmp:
        work = pathlib.Path(tmp)
        queries = work / "queries.txt"
        queries.write_text(query_text())
        mini_port = harness.free_port()
        (work / "up.toml").write_text(
            f'[udp]\nlisten = "127.0.0.1:0"\n[dns]\nmini_port = {mini_port}\n[dns.resolver]\nlisten = "127.0.0.1:0"\n'
        )
        up = subprocess.Popen([appnet, "--config", str(work / "up.toml"), "up"], stdout=subprocess.DEVNULL)
        try:
            harness.wait_udp_reply(mini_port, bytes.fromhex("beef00000001000000000000000006" + "0001"), host="127.0.0.2")
            ours_port, peer_port = harness.free_port(), harness.free_port()
            (work / "up.toml").write_text(f"[dns]\nmini_port = {mini_port}\n")
            (work / "unbound.conf").write_text(unbound_conf(work, peer_port, mini_port))
            ours = harness.Server(
                "ours (appnet dns resolve)",
                [appnet, "--config", str(work / "up.toml"), "dns", "resolve", "--listen", f"127.0.0.1:{ours_port}"],
                ours_port,
                wait_resolver,
            )
            peer = harness.Server(
                "peer (Unbound, 1 thread)", ["unbound", "-d", "-c", str(work / "unbound.conf")], peer_port, wait_resolver
            )

            def load(server: harness.Server) -> float:
                out = subprocess.run(
                    harness.pinned(
                        ["dnsperf", "-s", "127.0.0.1", "-p", str(server.port), "-d", str(queries),
                         "-l", str(args.seconds), "-c", "8", "-q", "200", "-t", "2"],
                        harness.LOAD_CPU,
                    ),
                    capture_output=True,
                    text=True,
                    timeout=args.seconds + 60,
                ).stdout
                qps = re.search(r"Queries per second:\s+([\d.]+)", out)
                if not qps:
                    raise RuntimeError(f"unexpected dnsperf output: {out}")
                return float(qps.group(1))

            harness.compare("dns-resolver", ours, peer, load, "queries/s", rounds=args.rounds)
        finally:
            up.terminate()
            up.wait(timeout=10)


if __name__ == "__main__":
    main()
