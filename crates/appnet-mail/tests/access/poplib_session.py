# poplib against our POP3 server. argv: mode (plain|stls|ssl) host port user password cafile
# outdir step. Steps:
#   read:   STAT, LIST, UIDL, TOP, RETR of every message (written to outdir/<n>.eml), QUIT
#   drop:   DELE 1 then the connection drops without QUIT (nothing may be removed)
#   delete: DELE 1, QUIT (message 1 must go); prints the UIDL list before and after
import os, poplib, ssl, sys

mode, host, port, user, password, cafile, outdir, step = sys.argv[1:9]
port = int(port)
ctx = ssl.create_default_context(cafile=cafile)


def connect():
    if mode == "ssl":
        p = poplib.POP3_SSL(host, port, context=ctx, timeout=20)
    else:
        p = poplib.POP3(host, port, timeout=20)
        capa = p.capa()
        assert "STLS" in capa, capa
        if mode == "stls":
            resp = p.stls(ctx)
            assert resp.startswith(b"+OK"), resp
    capa = p.capa()
    for want in ["UIDL", "TOP", "USER"]:
        assert want in capa, (want, capa)
    assert p.user(user).startswith(b"+OK")
    assert p.pass_(password).startswith(b"+OK")
    return p


def uidls(p):
    resp, lines, _ = p.uidl()
    assert resp.startswith(b"+OK"), resp
    return [tuple(line.split()) for line in lines]


p = connect()
count, size = p.stat()
resp, listing, _ = p.list()
assert resp.startswith(b"+OK"), resp
sizes = {int(n): int(s) for n, s in (line.split() for line in listing)}
assert sorted(sizes) == list(range(1, count + 1)), (count, listing)
assert sum(sizes.values()) == size, (size, sizes)
before = uidls(p)
assert [int(n) for n, _ in before] == list(range(1, count + 1)), before
assert len({u for _, u in before}) == count, before
assert p.uidl(1).split()[1:] == [b"1", before[0][1]], p.uidl(1)

if step == "read":
    for n in range(1, count + 1):
        resp, lines, octets = p.retr(n)
        assert resp.startswith(b"+OK"), resp
        message = b"".join(line + b"\r\n" for line in lines)
        assert len(message) == sizes[n], (n, len(message), sizes[n])
        with open(os.path.join(outdir, f"{n}.eml"), "wb") as f:
            f.write(message)
        # TOP n 0: the header and the blank line only; TOP n 1: one body line more.
        resp, top, _ = p.top(n, 0)
        head = b"".join(line + b"\r\n" for line in top)
        assert message.startswith(head) and head.endswith(b"\r\n\r\n"), (head, message)
        assert head.count(b"\r\n\r\n") == 1, head
        resp, top1, _ = p.top(n, 1)
        assert top1[: len(top)] == top and len(top1) == len(top) + 1, (top, top1)
    assert p.quit().startswith(b"+OK")
    print("count", count)
elif step == "drop":
    assert p.dele(1).startswith(b"+OK")
    # RFC 1939 §6: only QUIT enters the UPDATE state; a dropped connection deletes nothing.
    p.close()
    p = connect()
    assert p.stat()[0] == count, p.stat()
    assert uidls(p) == before
    assert p.quit().startswith(b"+OK")
    print("drop ok")
elif step == "delete":
    assert p.dele(1).startswith(b"+OK")
    assert p.stat()[0] == count - 1
    try:
        p.retr(1)
        raise AssertionError("RETR of a deleted message succeeded")
    except poplib.error_proto as err:
        assert str(err).startswith("b'-ERR"), err
    assert p.quit().startswith(b"+OK")
    p = connect()
    assert p.stat()[0] == count - 1, p.stat()
    after = uidls(p)
    assert [u for _, u in after] == [u for _, u in before[1:]], (before, after)
    assert p.quit().startswith(b"+OK")
    print("delete ok")
