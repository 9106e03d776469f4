#!/usr/bin/env python3
"""Bench: `appnet mail serve` accepting mail against a real Postfix and against smtp-sink.

Postfix's own load generator, smtp-source, pushes the same messages (default 10,000 of 4 KiB,
20 concurrent sessions, one message per connection; `--reuse` sends them all over the 20
connections instead) into each server in turn, pinned to the other core; the figure is messages
per second, from smtp-source's start to its exit. Two comparisons, each ours/peer with alternating
rounds:
  - ours vs Postfix, both storing every message durably before answering 250;
  - ours vs smtp-sink, which stores nothing: the ceiling of what smtp-source can push here.
After each comparison it also prints the servers' CPU time per message (the whole process tree,
measured from smtp-source's start until the last message is delivered, so it includes each
server's background delivery): on a shared machine that figure is steadier than messages/s.

What each server does with a message (all three run on the same core; so do their background
deliveries, which therefore compete with acceptance, as they would in production):
  - ours: `appnet mail serve --domain bench.example --user u:pw --maildir DIR`. Each message is
    appended to the queue journal and fdatasync'ed (group commit: one flush for every message
    that arrived during the previous flush) before its 250; a background task then writes it into
    DIR/bench.example/u/new (file fsync'ed, then the rename and the directory fsync'ed).
  - Postfix 3.7, a private instance in a temp dir (own config_directory, queue_directory,
    data_directory; master.cf written here with smtpd on a free 127.0.0.1 port and nothing
    chrooted). smtpd hands the message to cleanup(8), which writes the queue file and fsyncs it
    before smtpd answers 250 (one fsync per message, no group commit: that is Postfix's design);
    qmgr(8) then hands it to virtual(8), which delivers it into a Maildir under
    virtual_mailbox_base (file fsync'ed) and the queue file is removed. Delivery to a Maildir,
    rather than leaving mail queued with defer_transports, gives both servers the same end state
    and the same amount of work per message (accept + fsync, deliver + fsync), so neither is
    flattered by skipping work. Settings changed from the defaults, and why:
      smtpd_peername_lookup = no    ours does no reverse DNS of the client either;
      virtual_mailbox_maps = texthash:...   one mailbox for u@bench.example, read into memory;
      mydestination empty, alias_maps empty   no local(8) delivery, no alias database;
      logging: none by default (this machine runs no syslog daemon, so the default syslog
        target drops it, and ours logs nothing per message either); `--postfix-log` writes
        Postfix's log to a file through postlogd(8) instead, which costs Postfix some CPU.
    Everything else keeps Postfix's defaults, including in_flow_delay = 1s (smtpd's back-pressure
    when deliveries fall behind) and its process limits (100 smtpd processes, ample for 20
    sessions).
  - smtp-sink -u nobody -c 127.0.0.1:PORT 256: answers 250 and forgets the message.

After every run the bench checks that the run really succeeded: smtp-source must exit 0 (it
stops with an error on any reply it did not expect), and every message must arrive: ours and
Postfix must each put exactly --messages more files into their Maildir's new/ (waited for, up
to --drain-timeout) and Postfix's queue must be empty again; smtp-sink's own counter (-c) must
have grown by --messages. Each check prints one line, with how long after smtp-source's exit
the last delivery landed (so a server that answers 250 fast but delivers late shows it).
Delivered files are left in place between runs, not removed: on this machine's ext4 (mounted
without a journal) every new inode skips inodes deleted in the last minute or more
(ext4's recently_deleted()), so emptying the Maildir would slow the next run's file creation
for both servers. Postfix still pays that cost for its own queue files, which it creates and
removes per message; profiled, it is under a tenth of Postfix's CPU time.

Usage: bench/smtp.py [--rounds N] [--messages N] [--size BYTES] [--sessions N] [--reuse]
                     [--postfix-log]
"""

import argparse
import json
import os
import pathlib
import pwd
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import harness

DOMAIN = "bench.example"
RECIPIENT = f"u@{DOMAIN}"
SENDER = "a@x.example"

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup     unix  n - n 60 1 pickup
cleanup    unix  n - n -  0 cleanup
qmgr       unix  n - n 300 1 qmgr
rewrite    unix  - - n -  - trivial-rewrite
bounce     unix  - - n -  0 bounce
defer      unix  - - n -  0 bounce
trace      unix  - - n -  0 bounce
verify     unix  - - n -  1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -  - proxymap
proxywrite unix  - - n -  1 proxymap
smtp       unix  - - n -  - smtp
relay      unix  - - n -  - smtp
showq      unix  n - n -  - showq
error      unix  - - n -  - error
retry      unix  - - n -  - error
discard    unix  - - n -  - discard
local      unix  - n n -  - local
virtual    unix  - n n -  - virtual
anvil      unix  - - n -  1 anvil
scache     unix  - - n -  1 scache
postlog    unix-dgram n - n - 1 postlogd
"""


def postfix_main_cf(work: pathlib.Path, vmail: pathlib.Path, log: bool) -> str:
    text = f"""compatibility_level = 3.6
config_directory = {work}/etc
queue_directory = {work}/spool
data_directory = {work}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mail.{DOMAIN}
mydomain = {DOMAIN}
mydestination =
mynetworks = 127.0.0.0/8
relayhost =
alias_maps =
alias_database =
smtpd_peername_lookup = no
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_base = {vmail}
virtual_mailbox_maps = texthash:{work}/etc/vmailbox
virtual_uid_maps = static:{pwd.getpwnam("nobody").pw_uid}
virtual_gid_maps = static:{pwd.getpwnam("nobody").pw_gid}
"""
    if log:
        text += f"maillog_file = {work}/maillog\nmaillog_file_prefixes = {work}\n"
    return text


class Postfix(harness.Server):
    """`postfix -c DIR start` daemonizes: the master (started pinned, so its children are too)
    outlives the process harness.Server started, so stopping means `postfix -c DIR stop`."""

    def __init__(self, label: str, config: pathlib.Path, queue: pathlib.Path, port: int):
        super().__init__(label, ["postfix", "-c", str(config), "start"], port, harness.wait_tcp)
        self.config = config
        self.queue = queue

    def queued(self) -> int:
        """Messages still in Postfix's queue (any state but delivered)."""
        return sum(
            1
            for state in ("maildrop", "incoming", "active", "deferred", "hold")
            for path in (self.queue / state).rglob("*")
            if path.is_file()
        )

    def master_pid(self) -> int:
        return int((self.queue / "pid" / "master.pid").read_text().split()[0])

    def stop(self) -> None:
        super().stop()
        try:
            master = self.master_pid()
        except (OSError, ValueError, IndexError):
            master = None
        subprocess.run(["postfix", "-c", str(self.config), "stop"], capture_output=True)
        deadline = time.monotonic() + 15
        while master and time.monotonic() < deadline and pathlib.Path(f"/proc/{master}").exists():
            time.sleep(0.1)


class Sink(harness.Server):
    """smtp-sink with its counter (-c) captured, so each run can check how many messages it took."""

    def __init__(self, label: str, port: int, counter: pathlib.Path):
        super().__init__(
            label, ["smtp-sink", "-u", "nobody", "-c", f"127.0.0.1:{port}", "256"], port, harness.wait_tcp
        )
        self.counter = counter

    def start(self) -> None:
        with open(self.counter, "wb") as out:
            self.process = subprocess.Popen(
                harness.pinned(self.argv, harness.SERVER_CPU), stdout=out, stderr=subprocess.DEVNULL
            )
        try:
            self.ready(self.port)
        except Exception:
            self.stop()
            raise

    def messages(self) -> int:
        """The sink's latest `sess=N quit=N mesg=N` counter (it rewrites one line with \\r)."""
        found = re.findall(rb"mesg=(\d+)", self.counter.read_bytes())
        return int(found[-1]) if found else 0


def maildir_count(new_dir: pathlib.Path) -> int:
    try:
        with os.scandir(new_dir) as entries:
            return sum(1 for entry in entries if entry.is_file())
    except FileNotFoundError:
        return 0


def tree_cpu_seconds(root: int) -> float:
    """CPU time (user + system) of `root` and every live descendant, plus what they have reaped
    (cutime/cstime): Postfix's daemons come and go, and the master reaps them."""
    parents: dict[int, int] = {}
    times: dict[int, int] = {}
    for proc in pathlib.Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(proc.name)] = int(fields[1])
        times[int(proc.name)] = sum(int(f) for f in fields[11:15])

    def in_tree(pid: int) -> bool:
        while pid > 1:
            if pid == root:
                return True
            pid = parents.get(pid, 0)
        return False

    return sum(t for pid, t in times.items() if in_tree(pid)) / os.sysconf("SC_CLK_TCK")


def report(line: str) -> None:
    """One check line, below (not on top of) harness.progress's bar."""
    sys.stdout.flush()
    sys.stderr.write(f"\r\x1b[K{line}\n" if sys.stderr.isatty() else f"\n{line}\n")
    sys.stderr.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--size", type=int, default=4096, help="message length (smtp-source -l)")
    parser.add_argument("--sessions", type=int, default=20, help="concurrent SMTP sessions (smtp-source -s)")
    parser.add_argument("--reuse", action="store_true",
                        help="send many messages per connection (smtp-source -d) instead of one")
    parser.add_argument("--postfix-log", action="store_true", help="let Postfix log to a file via postlogd")
    parser.add_argument("--drain-timeout", type=float, default=300, help="seconds to wait for deliveries")
    args = parser.parse_args()
    for tool in ("postfix", "smtp-source", "smtp-sink"):
        if not shutil.which(tool):
            sys.exit(f"bench/smtp.py: {tool} is missing (apt-get install postfix)")

    appnet = harness.appnet_binary()
    # Under /var/tmp rather than a tmpfs /tmp: fsync must reach a disk for the bench to mean anything.
    with tempfile.TemporaryDirectory(prefix="appnet-bench-smtp-", dir="/var/tmp") as tmp:
        work = pathlib.Path(tmp)
        os.chmod(work, 0o755)  # Postfix's daemons (user postfix, nobody) must reach their directories
        ours_port, postfix_port, sink_port = (harness.free_port(socket.SOCK_STREAM) for _ in range(3))

        ours_maildir = work / "ours"
        ours_new = ours_maildir / DOMAIN / "u" / "new"
        ours = harness.Server(
            "ours (appnet mail serve)",
            [appnet, "mail", "serve", "--domain", DOMAIN, "--user", "u:pw", "--maildir", str(ours_maildir),
             "--smtp", f"127.0.0.1:{ours_port}"],
            ours_port,
            harness.wait_tcp,
        )

        pf = work / "postfix"
        vmail = pf / "vmail"
        for sub in ("etc", "spool", "data", "vmail"):
            (pf / sub).mkdir(parents=True)
        os.chmod(pf, 0o755)
        shutil.chown(pf / "data", "postfix", "postfix")
        shutil.chown(vmail, "nobody", pwd.getpwnam("nobody").pw_gid)
        (pf / "etc" / "main.cf").write_text(postfix_main_cf(pf, vmail, args.postfix_log))
        (pf / "etc" / "master.cf").write_text(MASTER_CF.format(port=postfix_port))
        (pf / "etc" / "vmailbox").write_text(f"{RECIPIENT} {DOMAIN}/u/\n")
        # `postfix check` creates the queue directories with Postfix's owners and modes.
        subprocess.run(["postfix", "-c", str(pf / "etc"), "check"], check=True)
        postfix = Postfix("peer (Postfix 3.7, Maildir)", pf / "etc", pf / "spool", postfix_port)
        postfix_new = vmail / DOMAIN / "u" / "new"

        sink = Sink("peer (smtp-sink, no storage)", sink_port, work / "sink.out")

        def smtp_source(server: harness.Server) -> float:
            argv = ["smtp-source", "-s", str(args.sessions), "-l", str(args.size), "-m", str(args.messages),
                    "-f", SENDER, "-t", RECIPIENT]
            if args.reuse:
                argv.append("-d")
            argv.append(f"127.0.0.1:{server.port}")
            start = time.monotonic()
            run = subprocess.run(harness.pinned(argv, harness.LOAD_CPU), capture_output=True, text=True,
                                 timeout=args.drain_timeout + 600)
            seconds = time.monotonic() - start
            if run.returncode != 0:
                raise RuntimeError(f"smtp-source against {server.label} failed ({run.returncode}): "
                                   f"{(run.stderr or run.stdout).strip()[-500:]}")
            return seconds

        delivered = {"ours": 0, "postfix": 0}  # files already in each new/ before this run

        def stored(label: str, new_dir: pathlib.Path, queued=None) -> None:
            """Waits until this run's `--messages` files are in `new_dir` and nothing is queued."""
            want = delivered[label] + args.messages
            start = time.monotonic()
            deadline = start + args.drain_timeout
            while True:
                count = maildir_count(new_dir)
                waiting = queued() if queued else 0
                if (count >= want and not waiting) or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            lag = time.monotonic() - start
            got = count - delivered[label]
            delivered[label] = count
            queue_note = f", {waiting} left in its queue" if queued else ""
            report(f"  {label}: {got}/{args.messages} new in Maildir {lag:.2f} s after smtp-source exited"
                   f"{queue_note}")
            if got != args.messages or waiting:
                raise RuntimeError(f"{label} stored {got} of {args.messages} messages ({waiting} queued)")

        cpu_ms: dict[str, list[float]] = {}  # server CPU per message, by label, this comparison

        def root_pid(server: harness.Server) -> int:
            return postfix.master_pid() if server is postfix else server.process.pid

        def messages_per_second(server: harness.Server) -> float:
            cpu_before = tree_cpu_seconds(root_pid(server))
            if server is sink:
                before = sink.messages()
                seconds = smtp_source(server)
                time.sleep(0.2)  # the counter line is written after the session's QUIT
                got = sink.messages() - before
                report(f"  smtp-sink: counted {got}/{args.messages} messages")
                if got != args.messages:
                    raise RuntimeError(f"smtp-sink counted {got} of {args.messages} messages")
            else:
                seconds = smtp_source(server)
                if server is postfix:
                    stored("postfix", postfix_new, postfix.queued)
                else:
                    stored("ours", ours_new)
            used = tree_cpu_seconds(root_pid(server)) - cpu_before
            cpu_ms.setdefault(server.label, []).append(1000 * used / args.messages)
            return args.messages / seconds

        def cpu_summary(name: str, peer: harness.Server) -> None:
            """Server CPU per message (accepting and, for the two that store, delivering too):
            steadier than messages/s on a shared machine. The first run of each is the warm-up."""
            ours_ms = statistics.median(cpu_ms[ours.label][1:])
            peer_ms = statistics.median(cpu_ms[peer.label][1:])
            print(f"  server CPU ms per message (incl. background delivery), lower is better: "
                  f"ours {ours_ms:.3f}, peer {peer_ms:.3f}; ours/peer = {ours_ms / peer_ms:.2f}")
            harness.RESULTS.mkdir(parents=True, exist_ok=True)
            (harness.RESULTS / f"{name}-cpu.json").write_text(json.dumps(
                {"bench": f"{name}-cpu", "unit": "server CPU ms per message", "higher_is_better": False,
                 "samples": {label: runs[1:] for label, runs in cpu_ms.items()}, "ratio": ours_ms / peer_ms,
                 "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=2))
            cpu_ms.clear()

        mode = "-d: many msgs/conn" if args.reuse else "1 msg/conn"
        unit = f"messages/s ({args.size} B, {args.sessions} sessions, {mode})"
        suffix = "-reuse" if args.reuse else ""
        harness.compare(f"smtp-postfix{suffix}", ours, postfix, messages_per_second, unit, rounds=args.rounds)
        cpu_summary(f"smtp-postfix{suffix}", postfix)
        harness.compare(f"smtp-sink{suffix}", ours, sink, messages_per_second, unit, rounds=args.rounds)
        cpu_summary(f"smtp-sink{suffix}", sink)
        if args.postfix_log:
            log = pf / "maillog"
            warnings = [l for l in log.read_text(errors="replace").splitlines() if "warning" in l or "fatal" in l]
            print(f"  postfix log: {log.stat().st_size} bytes, {len(warnings)} warning/fatal lines")


if __name__ == "__main__":
    main()
