#!/usr/bin/env python3
"""Bench: `appnet mail serve --imap` against a private Dovecot, many IMAP sessions on the same Maildir.

Both servers get their own copy of the same Maildir, generated once per run (default 1,000
messages of 1-8 KiB with varied subjects, a quarter of them multipart with a base64 attachment,
about two thirds already \\Seen, plus one empty Maildir++ folder per session). The same load
generator, written here (asyncio over raw sockets, one process, pinned to the load core), drives
each server in turn: --sessions concurrent IMAP sessions each log in once (LOGIN as
u@bench.example, untimed), SELECT INBOX, learn the UIDs, and then for --seconds loop a random mix
of operations (seeded per session, so both servers see the same sequence), timing each from
sending the command to its tagged reply:
  select   SELECT INBOX
  fetch    UID FETCH <random uid> (FLAGS BODY.PEEK[])
  store    UID STORE <random uid> +FLAGS (\\Seen)  or  -FLAGS (\\Seen), alternately
  search   UID SEARCH SUBJECT <word>  or  UID SEARCH UNSEEN, alternately
  append   APPEND s<N> (\\Seen) {~1 KiB}   (the session's own folder; LITERAL+ when offered)
Weights come from --mix (default select=1,fetch=2,store=2,search=2,append=1). The figures are
operations per second (all kinds together, completed ops / the loop's wall time) and the p99 of
the per-operation latency in ms, each the median of --rounds alternating runs (harness.compare;
a warm-up run per server comes first and is not counted: it is when Dovecot builds its indexes
and ours its UID lists). Printed too: each server's CPU time per operation (its whole process
tree, during the timed loop only, so not the logins; steadier than ops/s on a shared machine),
per-kind p99s, and the generator's own CPU use (near 100% of its core would mean the generator,
not the server, set the pace).

The work is checked, not assumed: any NO/BAD, a FETCH without a body literal, a SEARCH without its
`* SEARCH` line, a SUBJECT search whose hit count differs from the count computed when the messages
were generated, or any exception counts as a failed op; every run prints its failure count and
the bench stops if more than --max-failure-rate of a run's ops failed. At the end the files in each
server's session folders must equal the number of APPENDs it answered OK.

The servers (both on the server core):
  - ours: `appnet mail serve --domain bench.example --user u:pw --maildir DIR --smtp ... --imap
    127.0.0.1:PORT`, RUST_LOG=warn; INBOX is DIR/bench.example/u/. LOGIN without TLS is allowed
    from loopback.
  - Dovecot 2.3 (Debian's dovecot-imapd), a private instance: `dovecot -F -c CONF` with
    base_dir, state_dir and log under the temp dir, protocols = imap, ssl = no, plaintext PLAIN
    auth from a passwd-file (the same user u@bench.example, password pw, mail as uid/gid nobody), mail_location =
    maildir:<its copy>, one imap listener on a free loopback port. Settings changed from the
    defaults, and why: mail_max_userip_connections = 1000 (the default 10 would refuse most of
    the sessions, all one user from one IP). Everything else keeps Dovecot's defaults, including
    mail_fsync = optimized (it fsyncs an appended message before answering OK, as ours does),
    one imap process per session (client_limit 1) and the login process per connection.
Both run under /var/tmp (a disk, not a tmpfs), as bench/smtp.py does, so fsyncs mean something.

Usage: bench/imap.py [--rounds N] [--seconds S] [--sessions N] [--messages N] [--mix SPEC]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import os
import pathlib
import pwd
import random
import shutil
import socket
import statistics
import sys
import tempfile
import time

import harness
from smtp import report, tree_cpu_seconds

DOMAIN = "bench.example"
USER, PASSWORD = "u", "pw"
DOVECOT = "/usr/sbin/dovecot"
KINDS = ("select", "fetch", "store", "search", "append")
# Subject words: none is a substring of another (or of the rest of a subject), so the number of
# messages a SUBJECT search must find is known from the generated subjects.
WORDS = (
    "quarterly", "invoice", "meeting", "roadmap", "lunch", "budget", "release", "outage",
    "holiday", "contract", "hiring", "migration", "newsletter", "security", "feedback", "training",
    "offsite", "backup", "kernel", "printer", "parking", "survey", "payroll", "deadline",
)
FILLER = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed",
          "do", "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "magna", "aliqua")


# --- the Maildir both servers start from -------------------------------------------------------

def generate_maildir(root: pathlib.Path, messages: int, folders: int) -> dict[str, int]:
    """Writes `messages` messages into the Maildir++ at `root` (INBOX) and `folders` empty folders
    `.s<N>`; returns, per subject word, how many messages a SUBJECT search for it must find."""
    rng = random.Random(1)
    for sub in ("tmp", "new", "cur"):
        (root / sub).mkdir(parents=True)
    hits = dict.fromkeys(WORDS, 0)
    start = 1_700_000_000
    for i in range(messages):
        words = rng.sample(WORDS, rng.randint(1, 3))
        subject = f"{' '.join(words).capitalize()} no. {i}"
        for word in words:
            hits[word] += 1
        when = start + i * 600 + rng.randint(0, 599)
        date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(when))
        sender = f"{rng.choice(('alice', 'bob', 'carol', 'dave'))}@{rng.choice(('x', 'y', 'z'))}.example"
        body = "\r\n".join(
            " ".join(rng.choice(FILLER) for _ in range(rng.randint(8, 14)))
            for _ in range(rng.randint(10, 100))
        ) + "\r\n"
        head = (f"Return-Path: <{sender}>\r\nFrom: {sender}\r\nTo: {USER}@{DOMAIN}\r\n"
                f"Subject: {subject}\r\nDate: {date}\r\nMessage-ID: <{i}.{when}@{DOMAIN}>\r\n"
                "MIME-Version: 1.0\r\n")
        if i % 4 == 3:
            attachment = rng.randbytes(rng.randint(300, 2000)).hex().encode()
            encoded = base64.encodebytes(attachment).decode().replace("\n", "\r\n")
            text = (head + f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n'
                    f"This is a multi-part message in MIME format.\r\n--b{i}\r\n"
                    "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + body +
                    f"--b{i}\r\nContent-Type: application/octet-stream; name=\"data{i}.bin\"\r\n"
                    f"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; "
                    f"filename=\"data{i}.bin\"\r\n\r\n" + encoded + f"--b{i}--\r\n")
        else:
            text = head + "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + body
        data = text.encode()
        flags = "S" if rng.random() < 0.66 else ""
        path = root / "cur" / f"{when}.M{i}P1.bench,S={len(data)}:2,{flags}"
        path.write_bytes(data)
        os.utime(path, (when, when))
    for n in range(folders):
        folder = root / f".s{n}"
        for sub in ("tmp", "new", "cur"):
            (folder / sub).mkdir(parents=True)
        (folder / "maildirfolder").touch()
    return hits


def appended_on_disk(root: pathlib.Path, folders: int) -> int:
    return sum(
        len(os.listdir(root / f".s{n}" / sub)) for n in range(folders) for sub in ("new", "cur")
    )


# --- Dovecot ---------------------------------------------------------------------------------

def dovecot_conf(work: pathlib.Path, maildir: pathlib.Path, port: int) -> str:
    return f"""\
base_dir = {work}/run
state_dir = {work}/state
log_path = {work}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {work}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {work}/passwd
}}
mail_location = maildir:{maildir}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 1000
}}
"""


# --- the load generator ----------------------------------------------------------------------

class Failed(Exception):
    pass


class Session:
    """One IMAP connection: sends tagged commands and reads until the tagged reply, literals
    included. Returns the untagged lines (literals joined in) and the tagged status."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.tag = 0
        self.literal_plus = False

    async def reply(self, tag: bytes) -> tuple[bytes, list[bytes], int]:
        lines: list[bytes] = []
        literal_bytes = 0
        readline, readexactly = self.reader.readline, self.reader.readexactly
        current = b""
        while True:
            line = await readline()
            if not line:
                raise Failed("connection closed")
            if line.endswith(b"}\r\n"):
                open_brace = line.rfind(b"{")
                if open_brace >= 0:
                    n = int(line[open_brace + 1:-3])
                    await readexactly(n)
                    literal_bytes += n
                    current += line[:open_brace] + b"{}"
                    continue
            line = current + line
            current = b""
            if line.startswith(tag):
                return line[len(tag):], lines, literal_bytes
            lines.append(line)

    async def command(self, text: bytes, literal: bytes | None = None) -> tuple[list[bytes], int]:
        self.tag += 1
        tag = b"a%d " % self.tag
        if literal is None:
            self.writer.write(tag + text + b"\r\n")
        elif self.literal_plus:
            self.writer.write(tag + text + b" {%d+}\r\n" % len(literal) + literal + b"\r\n")
        else:
            self.writer.write(tag + text + b" {%d}\r\n" % len(literal))
            line = await self.reader.readline()
            if not line.startswith(b"+"):
                raise Failed(f"no continuation: {line[:80]!r}")
            self.writer.write(literal + b"\r\n")
        status, lines, literal_bytes = await self.reply(tag)
        if not status.startswith(b"OK"):
            raise Failed(f"{text[:40]!r}: {status[:120]!r}")
        return lines, literal_bytes


async def open_session(port: int) -> Session:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    session = Session(reader, writer)
    greeting = await reader.readline()
    if not greeting.startswith(b"* OK"):
        raise Failed(f"greeting {greeting!r}")
    await session.command(b"LOGIN %s@%s %s" % (USER.encode(), DOMAIN.encode(), PASSWORD.encode()))
    lines, _ = await session.command(b"CAPABILITY")
    session.literal_plus = any(b"LITERAL+" in line.upper() for line in lines)
    return session


def append_message(rng: random.Random, n: int, i: int) -> bytes:
    body = "\r\n".join(" ".join(rng.choice(FILLER) for _ in range(12)) for _ in range(12))
    return (f"From: bench@{DOMAIN}\r\nTo: {USER}@{DOMAIN}\r\nSubject: appended {n}.{i}\r\n"
            f"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <a{n}.{i}.{time.time_ns()}@{DOMAIN}>\r\n"
            f"\r\n{body}\r\n").encode()


async def session_loop(n: int, session: Session, uids: list[int], kinds: list[str], weights: list[int],
                       deadline: float, hits: dict[str, int], latencies: dict[str, list[float]],
                       failures: list[str], appended: list[int]) -> None:
    rng = random.Random(1000 + n)
    words = list(WORDS)
    store_add = search_subject = True
    i = 0
    clock = time.perf_counter
    while clock() < deadline:
        kind = rng.choices(kinds, weights)[0]
        i += 1
        started = clock()
        try:
            if kind == "select":
                lines, _ = await session.command(b"SELECT INBOX")
                if not any(line.endswith(b" EXISTS\r\n") for line in lines):
                    raise Failed("SELECT without EXISTS")
            elif kind == "fetch":
                uid = rng.choice(uids)
                lines, body = await session.command(b"UID FETCH %d (FLAGS BODY.PEEK[])" % uid)
                if body == 0:
                    raise Failed(f"UID FETCH {uid}: no body literal")
            elif kind == "store":
                uid = rng.choice(uids)
                await session.command(b"UID STORE %d %sFLAGS (\\Seen)" % (uid, b"+" if store_add else b"-"))
                store_add = not store_add
            elif kind == "search":
                if search_subject:
                    word = rng.choice(words)
                    lines, _ = await session.command(b"UID SEARCH SUBJECT " + word.encode())
                    found = [line for line in lines if line.startswith(b"* SEARCH")]
                    if len(found) != 1:
                        raise Failed("SEARCH without * SEARCH")
                    got = len(found[0].split()) - 2
                    if got != hits[word]:
                        raise Failed(f"SEARCH SUBJECT {word}: {got} hits, want {hits[word]}")
                else:
                    lines, _ = await session.command(b"UID SEARCH UNSEEN")
                    if not any(line.startswith(b"* SEARCH") for line in lines):
                        raise Failed("SEARCH without * SEARCH")
                search_subject = not search_subject
            else:
                await session.command(b"APPEND s%d (\\Seen)" % n, append_message(rng, n, i))
                appended[0] += 1
            latencies[kind].append(clock() - started)
        except Failed as error:
            failures.append(f"session {n}: {error}")
        except (OSError, asyncio.IncompleteReadError) as error:
            failures.append(f"session {n}: {error!r}")
            return


async def run_load(port: int, sessions: int, seconds: float, mix: dict[str, int], hits: dict[str, int],
                   server_cpu=lambda: 0.0):
    """Opens the sessions (untimed), runs the timed loop; `server_cpu()` is read just around it."""
    sessions_open = await asyncio.gather(*(open_session(port) for _ in range(sessions)))
    lines, _ = await sessions_open[0].command(b"SELECT INBOX")
    lines, _ = await sessions_open[0].command(b"UID SEARCH ALL")
    uids = [int(u) for line in lines if line.startswith(b"* SEARCH") for u in line.split()[2:]]
    if not uids:
        raise Failed("INBOX is empty")
    await asyncio.gather(*(s.command(b"SELECT INBOX") for s in sessions_open[1:]))
    latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
    failures: list[str] = []
    appended = [0]
    kinds = [k for k in KINDS if mix.get(k)]
    weights = [mix[k] for k in kinds]
    server_before = server_cpu()
    cpu_before = time.process_time()
    start = time.perf_counter()
    await asyncio.wait_for(
        asyncio.gather(*(session_loop(n, s, uids, kinds, weights, start + seconds, hits, latencies, failures,
                                      appended) for n, s in enumerate(sessions_open))),
        timeout=seconds + 120,
    )
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_before
    server_used = server_cpu() - server_before
    for s in sessions_open:
        try:
            s.writer.write(b"z LOGOUT\r\n")
            await s.writer.drain()
            s.writer.close()
        except OSError:
            pass
    return latencies, failures, appended[0], wall, cpu, server_used, len(uids)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


# --- main ------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each timed run")
    parser.add_argument("--sessions", type=int, default=32, help="concurrent IMAP sessions")
    parser.add_argument("--messages", type=int, default=1000, help="messages in INBOX")
    parser.add_argument("--mix", default="select=1,fetch=2,store=2,search=2,append=1",
                        help="weights of the operation kinds (select, fetch, store, search, append)")
    parser.add_argument("--max-failure-rate", type=float, default=0.001,
                        help="a run with a larger share of failed ops stops the bench")
    args = parser.parse_args()
    mix = {k: int(v) for k, v in (part.split("=") for part in args.mix.split(","))}
    if unknown := set(mix) - set(KINDS):
        sys.exit(f"bench/imap.py: unknown operation kinds in --mix: {', '.join(sorted(unknown))}")
    if not os.path.exists(DOVECOT):
        sys.exit("bench/imap.py: dovecot is missing (apt-get install dovecot-imapd)")

    appnet = harness.appnet_binary()
    with tempfile.TemporaryDirectory(prefix="appnet-bench-imap-", dir="/var/tmp") as tmp:
        work = pathlib.Path(tmp)
        os.chmod(work, 0o755)
        template = work / "template"
        hits = generate_maildir(template, args.messages, args.sessions)

        ours_root = work / "ours"
        ours_inbox = ours_root / DOMAIN / USER
        shutil.copytree(template, ours_inbox)
        ours_smtp, ours_imap, dovecot_imap = (harness.free_port(socket.SOCK_STREAM) for _ in range(3))
        ours = harness.Server(
            "ours (appnet mail serve)",
            [appnet, "mail", "serve", "--domain", DOMAIN, "--user", f"{USER}:{PASSWORD}",
             "--maildir", str(ours_root), "--smtp", f"127.0.0.1:{ours_smtp}", "--imap", f"127.0.0.1:{ours_imap}"],
            ours_imap,
            harness.wait_tcp,
        )
        os.environ["RUST_LOG"] = "warn"

        dv = work / "dovecot"
        dv_inbox = dv / "mail" / DOMAIN / USER
        for sub in ("run", "state", "home"):
            (dv / sub).mkdir(parents=True)
        shutil.copytree(template, dv_inbox)
        nobody = pwd.getpwnam("nobody")
        for path in [dv / "mail", dv / "home", *(dv / "mail").rglob("*")]:
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        (dv / "passwd").write_text(f"{USER}@{DOMAIN}:{{PLAIN}}{PASSWORD}:{nobody.pw_uid}:{nobody.pw_gid}::{dv / 'home'}\n")
        (dv / "dovecot.conf").write_text(dovecot_conf(dv, dv_inbox, dovecot_imap))
        version = os.popen(f"{DOVECOT} --version").read().split()[0]
        dovecot = harness.Server(f"peer (Dovecot {version})", [DOVECOT, "-F", "-c", str(dv / "dovecot.conf")],
                                 dovecot_imap, harness.wait_tcp)

        # The generator is this process: pin it to the load core (the servers are started pinned
        # to the server core by harness.Server, which overrides what they would inherit).
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {harness.LOAD_CPU})

        extra: dict[str, dict[str, list]] = {}  # label -> p99/cpu/per-kind samples, warm-up first
        appended_ok = {ours.label: 0, dovecot.label: 0}

        def ops_per_second(server: harness.Server) -> float:
            gc.collect()
            gc.disable()
            try:
                latencies, failures, appended, wall, load_cpu, server_cpu, inbox = asyncio.run(
                    run_load(server.port, args.sessions, args.seconds, mix, hits,
                             lambda: tree_cpu_seconds(server.process.pid)))
            finally:
                gc.enable()
            appended_ok[server.label] += appended
            every = [v for values in latencies.values() for v in values]
            ops = len(every)
            attempted = ops + len(failures)
            p99 = 1000 * percentile(every, 99)
            record = extra.setdefault(server.label, {"p99": [], "cpu": [], "kinds": []})
            record["p99"].append(p99)
            record["cpu"].append(1000 * server_cpu / max(ops, 1))
            record["kinds"].append({k: (len(v), 1000 * percentile(v, 99)) for k, v in latencies.items() if v})
            report(f"  {server.label}: {ops} ops in {wall:.1f} s, {len(failures)} failed, p99 {p99:.2f} ms, "
                   f"INBOX {inbox} msgs, generator CPU {100 * load_cpu / wall:.0f}% of its core")
            if failures:
                report(f"    first failure: {failures[0]}")
            if not attempted or len(failures) / attempted > args.max_failure_rate:
                raise RuntimeError(f"{server.label}: {len(failures)} of {attempted} ops failed "
                                   f"(more than {args.max_failure_rate:.2%}): {failures[:3]}")
            return ops / wall

        mix_text = ",".join(f"{k}={v}" for k, v in mix.items())
        unit = f"IMAP ops/s ({args.sessions} sessions, {args.messages} msgs, mix {mix_text})"
        harness.compare("imap-dovecot", ours, dovecot, ops_per_second, unit, rounds=args.rounds)

        def summary(name: str, key: str, text: str) -> None:
            ours_v = statistics.median(extra[ours.label][key][1:])
            peer_v = statistics.median(extra[dovecot.label][key][1:])
            print(f"  {text}, lower is better: ours {ours_v:.3f}, peer {peer_v:.3f}; ours/peer = {ours_v / peer_v:.2f}")
            harness.RESULTS.mkdir(parents=True, exist_ok=True)
            (harness.RESULTS / f"imap-dovecot-{name}.json").write_text(json.dumps(
                {"bench": f"imap-dovecot-{name}", "unit": text, "higher_is_better": False,
                 "samples": {label: r[key][1:] for label, r in extra.items()}, "ratio": ours_v / peer_v,
                 "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=2))

        summary("p99", "p99", "p99 latency ms (all ops)")
        summary("cpu", "cpu", "server CPU ms per op")
        print("  per kind, median over the counted runs: ops per run / p99 ms")
        for kind in KINDS:
            cells = []
            for label in (ours.label, dovecot.label):
                runs = [r[kind] for r in extra[label]["kinds"][1:] if kind in r]
                if runs:
                    cells.append(f"{statistics.median(c for c, _ in runs):>8,.0f} / {statistics.median(p for _, p in runs):7.2f}")
            if cells:
                print(f"    {kind:<7} ours {cells[0]}   peer {cells[1]}")

        # Both servers really stored what they said OK to.
        for label, root in ((ours.label, ours_inbox), (dovecot.label, dv_inbox)):
            on_disk = appended_on_disk(root, args.sessions)
            print(f"  {label}: {on_disk} messages in the session folders, {appended_ok[label]} APPENDs answered OK")
            if on_disk != appended_ok[label]:
                raise RuntimeError(f"{label}: {on_disk} appended messages on disk, {appended_ok[label]} APPENDs OK")
        log = dv / "dovecot.log"
        if log.exists():
            errors = [l for l in log.read_text(errors="replace").splitlines() if "Error" in l or "Fatal" in l]
            if errors:
                print(f"  dovecot log: {len(errors)} error lines, first: {errors[0]}")


if __name__ == "__main__":
    main()
