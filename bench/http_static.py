#!/usr/bin/env python3
"""Bench: `appnet http serve` against nginx, serving the same files.

Both servers run one worker with the access log off and sendfile on, pinned to one core; wrk runs
on the other core with the same connections and duration. For files of 1 KiB, 100 KiB and 10 MiB
it compares requests/s (and bytes/s for the large file), the p99 latency of the small file, and,
because on a 2-core machine the load generator competes for the cores, requests served per
second of server CPU time.

Usage: bench/http_static.py [--rounds N] [--seconds S] [--connections C]
"""

import argparse
import os
import pathlib
import re
import subprocess
import tempfile

import harness

FILES = {"1k.bin": 1024, "100k.bin": 100 * 1024, "10m.bin": 10 * 1024 * 1024}


def nginx_conf(work: pathlib.Path, root: pathlib.Path, port: int) -> str:
    return f"""daemon off;
master_process on;
worker_processes 1;
user root;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    default_type application/octet-stream;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children that are still running."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for proc in pathlib.Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(proc.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def wrk(port: int, path: str, seconds: int, connections: int) -> str:
    return subprocess.run(
        harness.pinned(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", f"http://127.0.0.1:{port}/{path}"],
            harness.LOAD_CPU,
        ),
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout


def to_bytes(value: str, unit: str) -> float:
    return float(value) * {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[unit]


def to_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()

    appnet = harness.appnet_binary()
    with tempfile.TemporaryDirectory(prefix="appnet-bench-http-") as tmp:
        work = pathlib.Path(tmp)
        root = work / "root"
        root.mkdir()
        for name, size in FILES.items():
            (root / name).write_bytes(os.urandom(size))
        ours_port, peer_port = harness.free_port(), harness.free_port()
        (work / "nginx.conf").write_text(nginx_conf(work, root, peer_port))
        ours = harness.Server(
            "ours (appnet http serve)",
            [appnet, "http", "serve", "--root", str(root), "--listen", f"127.0.0.1:{ours_port}", "--access-log", "off"],
            ours_port,
            harness.wait_tcp,
        )
        peer = harness.Server("peer (nginx, 1 worker)", ["nginx", "-c", str(work / "nginx.conf")], peer_port, harness.wait_tcp)

        def requests_per_second(path: str):
            def load(server: harness.Server) -> float:
                out = wrk(server.port, path, args.seconds, args.connections)
                found = re.search(r"Requests/sec:\s+([\d.]+)", out)
                if not found:
                    raise RuntimeError(f"unexpected wrk output: {out}")
                return float(found.group(1))
            return load

        def bytes_per_second(server: harness.Server) -> float:
            out = wrk(server.port, "10m.bin", args.seconds, args.connections)
            found = re.search(r"Transfer/sec:\s+([\d.]+)(B|KB|MB|GB)", out)
            if not found:
                raise RuntimeError(f"unexpected wrk output: {out}")
            return to_bytes(*found.groups()) / (1 << 20)

        def p99_ms(server: harness.Server) -> float:
            out = wrk(server.port, "1k.bin", args.seconds, args.connections)
            found = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
            if not found:
                raise RuntimeError(f"unexpected wrk output: {out}")
            return to_ms(*found.groups())

        def per_cpu_second(server: harness.Server) -> float:
            before = cpu_seconds(server.process.pid)
            out = wrk(server.port, "1k.bin", args.seconds, args.connections)
            used = max(cpu_seconds(server.process.pid) - before, 1e-6)
            found = re.search(r"(\d+) requests in", out)
            if not found:
                raise RuntimeError(f"unexpected wrk output: {out}")
            return int(found.group(1)) / used

        rounds = args.rounds
        harness.compare("http-1k", ours, peer, requests_per_second("1k.bin"), "requests/s, 1 KiB", rounds=rounds)
        harness.compare("http-100k", ours, peer, requests_per_second("100k.bin"), "requests/s, 100 KiB", rounds=rounds)
        harness.compare("http-10m", ours, peer, bytes_per_second, "MiB/s, 10 MiB", rounds=rounds)
        harness.compare("http-1k-p99", ours, peer, p99_ms, "p99 ms, 1 KiB", rounds=rounds, higher_is_better=False)
        harness.compare("http-1k-cpu", ours, peer, per_cpu_second, "requests per server CPU-second, 1 KiB", rounds=rounds)


if __name__ == "__main__":
    main()
