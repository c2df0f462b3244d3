//! A bulk transfer both ways whose every byte is checked: the client sends a length and that many bytes, the
//! server answers with their SHA-256 and then sends as many bytes of its own pattern, which the client checks.
//! Both are Python, so the two ends are the kernel's TCP and nothing of ours. Used by the data-path and fault tests.
//!
//! Server arguments: ADDRESS PORT. Client arguments: SERVER PORT BYTES CLIENT-ADDRESS; it prints
//! `ok up X Gbit/s down Y Gbit/s` when every byte arrived as sent.

/// Receives a length and that many bytes, answers with their SHA-256, then sends as many bytes of its own pattern
/// and closes. Prints what it got.
pub const SERVER: &str = r#"
import hashlib, socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(family)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
c.settimeout(60)
header = b""
while len(header) < 8:
    header += c.recv(8 - len(header))
n = int.from_bytes(header, "big")
h, got = hashlib.sha256(), 0
while got < n:
    b = c.recv(min(1 << 20, n - got))
    if not b:
        break
    h.update(b)
    got += len(b)
c.sendall(h.digest())
block = bytes((i * 31 + 7) % 251 for i in range(1 << 20))
sent = 0
while sent < n:
    c.sendall(block[: min(len(block), n - sent)])
    sent += min(len(block), n - sent)
c.close()
print("server got", got, flush=True)
"#;

/// Sends the length and the bytes, checks the server's digest of them, then receives the server's bytes and
/// checks them against the pattern it knows. Prints `ok` and the rates.
pub const CLIENT: &str = r#"
import hashlib, socket, sys, time
n = int(sys.argv[3])
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60, source_address=(sys.argv[4], 0))
block = bytes((i * 13 + 1) % 253 for i in range(1 << 20))
want_up = hashlib.sha256()
started = time.time()
s.sendall(n.to_bytes(8, "big"))
sent = 0
while sent < n:
    part = block[: min(len(block), n - sent)]
    s.sendall(part)
    want_up.update(part)
    sent += len(part)
digest = b""
while len(digest) < 32:
    b = s.recv(32 - len(digest))
    assert b, "the server closed before its digest"
    digest += b
up = time.time() - started
assert digest == want_up.digest(), "client to server: the bytes differ"
back = bytes((i * 31 + 7) % 251 for i in range(1 << 20))
want_down, got_down, got = hashlib.sha256(), hashlib.sha256(), 0
while got < n:
    b = s.recv(1 << 20)
    assert b, "server to client: closed after %d of %d bytes" % (got, n)
    got_down.update(b)
    got += len(b)
left = n
while left > 0:
    want_down.update(back[: min(len(back), left)])
    left -= min(len(back), left)
down = time.time() - started - up
assert got == n and got_down.digest() == want_down.digest(), "server to client: the bytes differ"
print("ok up %.2f Gbit/s down %.2f Gbit/s" % (n * 8 / up / 1e9, n * 8 / down / 1e9), flush=True)
"#;
