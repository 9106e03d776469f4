# One imaplib session through most of RFC 3501 against our server; every check is an assert
# whose message shows what the server said. argv: mode (plain|starttls|ssl) host port user
# password cafile out-file (where the RFC822 of message 1 is written for a byte comparison).
import datetime, imaplib, re, ssl, sys

mode, host, port, user, password, cafile, out = sys.argv[1:8]
port = int(port)
ctx = ssl.create_default_context(cafile=cafile)


def ok(res, what):
    typ, data = res
    assert typ == "OK", f"{what}: {typ} {data!r}"
    return data


def fetched(data, what):
    """The literal parts of a FETCH answer (imaplib returns them as tuples)."""
    parts = [item for item in data if isinstance(item, tuple)]
    assert parts, f"{what}: no literal in {data!r}"
    return parts


if mode == "ssl":
    M = imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=20)
else:
    M = imaplib.IMAP4(host, port, timeout=20)
    if mode == "starttls":
        assert "STARTTLS" in M.capabilities, M.capabilities
        ok(M.starttls(ssl_context=ctx), "STARTTLS")
        assert "STARTTLS" not in M.capabilities, M.capabilities
    else:
        assert "STARTTLS" in M.capabilities, M.capabilities
        # Plaintext login is allowed from loopback.
        assert "LOGINDISABLED" not in M.capabilities, M.capabilities
ok(M.login(user, password), "LOGIN")
caps = ok(M.capability(), "CAPABILITY")[0].split()
for cap in [b"IMAP4rev1", b"IDLE", b"UIDPLUS", b"MOVE", b"LITERAL+", b"NAMESPACE"]:
    assert cap in caps, (cap, caps)
assert b"STARTTLS" not in caps, caps

# LIST: INBOX only at first; CREATE makes a folder that LIST then shows.
def names():
    out = []
    for line in ok(M.list(), "LIST"):
        m = re.match(rb'\((.*?)\) (NIL|"(.)") "?([^"]*)"?$', line)
        assert m, line
        assert m.group(3) in (b".", None), line
        out.append(m.group(4).decode())
    return sorted(out)

assert names() == ["INBOX"], names()
ok(M.create("Archive"), "CREATE")
assert names() == ["Archive", "INBOX"], names()

data = ok(M.select("INBOX"), "SELECT")
assert data == [b"3"], data
uidvalidity = int(M.response("UIDVALIDITY")[1][0])
assert uidvalidity > 0

# SEARCH
assert ok(M.search(None, "ALL"), "SEARCH ALL") == [b"1 2 3"]
assert ok(M.search(None, "UNSEEN"), "SEARCH UNSEEN") == [b"1 2 3"]
M.literal = "회의".encode()
got = ok(M.search("UTF-8", "SUBJECT"), "SEARCH CHARSET UTF-8 SUBJECT {literal}")
assert got == [b"2"], got
M.literal = "첨부".encode()
got = ok(M.search("UTF-8", "BODY"), "SEARCH CHARSET UTF-8 BODY {literal}")
assert got == [b"3"], got
assert ok(M.search(None, "FROM", '"bob@alpha.example"'), "SEARCH FROM") == [b"1 2 3"]
assert ok(M.uid("SEARCH", "SUBJECT", '"hello"'), "UID SEARCH") == [b"1"]

# FETCH RFC822 (sets \Seen), header fields, flags, BODYSTRUCTURE, ENVELOPE.
data = ok(M.fetch("1", "(RFC822)"), "FETCH RFC822")
head, body = fetched(data, "RFC822")[0]
assert b"RFC822 {" in head, head
with open(out, "wb") as f:
    f.write(body)
data = ok(M.fetch("2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"), "FETCH HEADER.FIELDS")
head, fields = fetched(data, "HEADER.FIELDS")[0]
assert b"BODY[HEADER.FIELDS (SUBJECT)]" in head.upper(), head
assert fields == b"Subject: =?UTF-8?B?7ZqM7J2YIOydvOyglSDslYjrgrQ=?=\r\n\r\n", fields
data = ok(M.fetch("1:3", "(FLAGS)"), "FETCH FLAGS")
flags = {}
for line in data:
    m = re.match(rb"(\d+) \(FLAGS \((.*?)\)\)$", line)
    assert m, data
    flags[int(m.group(1))] = set(m.group(2).split()) - {b"\\Recent"}
assert flags == {1: {b"\\Seen"}, 2: set(), 3: set()}, flags
assert ok(M.search(None, "UNSEEN"), "SEARCH UNSEEN") == [b"2 3"]

data = ok(M.fetch("3", "(BODYSTRUCTURE)"), "FETCH BODYSTRUCTURE")
bs = b" ".join(x if isinstance(x, bytes) else b" ".join(x) for x in data).upper()
for want in [
    b'("TEXT" "PLAIN" ("CHARSET" "UTF-8") NIL NIL "8BIT"',
    b'("APPLICATION" "PDF" ("NAME" "REPORT.PDF") NIL NIL "BASE64" 36',
    b'"MIXED" ("BOUNDARY" "XYZ-BOUNDARY")',
]:
    assert want in bs, (want, bs)
data = ok(M.fetch("1", "(ENVELOPE)"), "FETCH ENVELOPE")
env = data[0]
for want in [
    b'"Mon, 04 Mar 2024 09:00:00 +0000" "Hello Alice"',
    b'(("Bob" NIL "bob" "alpha.example"))',
    b'(("Alice" NIL "alice" "alpha.example"))',
    b'"<hello-1@alpha.example>"',
]:
    assert want in env, (want, env)

# STORE
data = ok(M.store("1", "+FLAGS", "(\\Flagged)"), "STORE +FLAGS")
assert re.match(rb"1 \(FLAGS \(.*\)\)", data[0]), data
assert set(re.search(rb"FLAGS \((.*?)\)", data[0]).group(1).split()) - {b"\\Recent"} == {b"\\Seen", b"\\Flagged"}, data
ok(M.store("2", "+FLAGS.SILENT", "(\\Seen)"), "STORE +FLAGS.SILENT")
assert ok(M.search(None, "UNSEEN"), "SEARCH UNSEEN") == [b"3"]
assert ok(M.search(None, "FLAGGED"), "SEARCH FLAGGED") == [b"1"]

# COPY (UIDPLUS), MOVE.
data = ok(M.copy("1", "Archive"), "COPY")
m = re.match(rb"\[COPYUID (\d+) 1 1\]", data[0])
assert m, data
archive_validity = int(m.group(1))
M.response("COPYUID")  # imaplib keeps the tagged response code too: drop it
typ, data = M.uid("MOVE", "2", "Archive")
assert typ == "OK", (typ, data)
copyuid = M.response("COPYUID")[1]
assert copyuid == [b"%d 2 2" % archive_validity], copyuid
expunged = M.response("EXPUNGE")[1]
assert expunged == [b"2"], expunged

# APPEND with flags and a date.
message = (
    b"From: Carol <carol@alpha.example>\r\n"
    b"To: alice@alpha.example\r\n"
    b"Subject: appended draft\r\n"
    b"\r\n"
    b"A draft kept in Archive.\r\n"
)
data = ok(M.append("Archive", "(\\Seen \\Draft)", '"05-Mar-2024 10:20:30 +0900"', message), "APPEND")
assert data[0].startswith(b"[APPENDUID %d 3]" % archive_validity), data

# EXPUNGE
ok(M.store("1", "+FLAGS", "(\\Deleted)"), "STORE \\Deleted")
assert ok(M.expunge(), "EXPUNGE") == [b"1"]
assert ok(M.search(None, "ALL"), "SEARCH ALL") == [b"1"]
assert ok(M.fetch("1", "(UID)"), "FETCH UID") == [b"1 (UID 3)"]

# STATUS, of the selected mailbox and another.
data = ok(M.status("INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY)"), "STATUS INBOX")
for want in [b"MESSAGES 1", b"UNSEEN 1", b"UIDNEXT 4", b"UIDVALIDITY %d" % uidvalidity]:
    assert want in data[0], (want, data)
data = ok(M.status("Archive", "(MESSAGES UIDNEXT)"), "STATUS Archive")
assert b"MESSAGES 3" in data[0] and b"UIDNEXT 4" in data[0], data

# What Archive holds, with flags and the appended message's date.
assert ok(M.select("Archive"), "SELECT Archive") == [b"3"]
data = ok(M.fetch("1:3", "(UID FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])"), "FETCH Archive")
seen = {}
for head, fields in fetched(data, "Archive"):
    uid = int(re.search(rb"UID (\d+)", head).group(1))
    f = set(re.search(rb"FLAGS \((.*?)\)", head).group(1).split()) - {b"\\Recent"}
    date = re.search(rb'INTERNALDATE "([^"]+)"', head).group(1).decode()
    seen[uid] = (f, fields.strip(), date)
assert seen[1][:2] == ({b"\\Seen", b"\\Flagged"}, b"Subject: Hello Alice"), seen
assert seen[2][:2] == ({b"\\Seen"}, b"Subject: =?UTF-8?B?7ZqM7J2YIOydvOyglSDslYjrgrQ=?="), seen
assert seen[3][:2] == ({b"\\Seen", b"\\Draft"}, b"Subject: appended draft"), seen
when = datetime.datetime.strptime(seen[3][2], "%d-%b-%Y %H:%M:%S %z")
assert when == datetime.datetime(2024, 3, 5, 1, 20, 30, tzinfo=datetime.timezone.utc), seen[3]
ok(M.close(), "CLOSE")

# RENAME and DELETE
ok(M.rename("Archive", "Old"), "RENAME")
assert names() == ["INBOX", "Old"], names()
data = ok(M.status("Old", "(MESSAGES)"), "STATUS Old")
assert b"MESSAGES 3" in data[0], data
ok(M.delete("Old"), "DELETE")
assert names() == ["INBOX"], names()
typ, data = M.select("Old")
assert typ == "NO", (typ, data)

typ, data = M.logout()
assert typ == "BYE", (typ, data)
print("imaplib session ok")
