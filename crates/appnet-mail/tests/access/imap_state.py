# What an IMAP server shows of one account, as JSON: the folders, and for each (opened with
# EXAMINE, so nothing changes) every message in sequence order as [subject field, flags without
# \Recent, RFC822.SIZE, sha256 of BODY[]]. argv: host port user password.
import hashlib, imaplib, json, re, sys

host, port, user, password = sys.argv[1:5]
M = imaplib.IMAP4(host, int(port), timeout=20)
typ, data = M.login(user, password)
assert typ == "OK", data
typ, data = M.list()
assert typ == "OK", data
folders = []
for line in data:
    m = re.match(rb'\((.*?)\) (NIL|"(.)") "?([^"]*)"?$', line)
    assert m, line
    folders.append(m.group(4).decode())
folders.sort()
state = {"folders": folders, "mailboxes": {}}
for folder in folders:
    typ, data = M.select(f'"{folder}"', readonly=True)
    assert typ == "OK", (folder, data)
    count = int(data[0])
    messages = []
    if count:
        typ, data = M.fetch(f"1:{count}", "(FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK", data
        for head, fields in (x for x in data if isinstance(x, tuple)):
            flags = re.search(rb"FLAGS \((.*?)\)", head).group(1).decode().split()
            size = int(re.search(rb"RFC822\.SIZE (\d+)", head).group(1))
            messages.append([fields.decode().strip(), sorted(set(flags) - {"\\Recent"}), size])
        typ, data = M.fetch(f"1:{count}", "(BODY.PEEK[])")
        assert typ == "OK", data
        bodies = [x[1] for x in data if isinstance(x, tuple)]
        assert len(bodies) == count, data
        for message, body in zip(messages, bodies):
            message.append(hashlib.sha256(body).hexdigest())
    state["mailboxes"][folder] = messages
M.logout()
print(json.dumps(state, sort_keys=True, ensure_ascii=False, indent=1))
