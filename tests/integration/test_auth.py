"""Integration tests of Basic proxy authentication (auth_user, auth_realm) in
forward mode on loopback: no, wrong, malformed or foreign-scheme credentials
get 407 with the challenge and nothing reaches the resolver or the origin;
right ones are proxied without their Proxy-Authorization; the retry on the
same connection after a 407 (pipelined too, HTTP/1.0 keep-alive too); a 407
with a request body closes; CONNECT before and after credentials; two
Proxy-Authorization fields (400) and huge ones (431); origin-form still 400;
Proxy-Authenticate and Proxy-Authentication-Info from an origin removed;
curl --proxy-user and --proxy-anyauth end to end; credentials in no log
line; bad values and auth_user outside forward mode fail the config check
with file:line; and the warning about a config file others can read."""

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httptest as ht  # noqa: E402
import wdtest as wd  # noqa: E402
from wdtest import check  # noqa: E402

USERS = "auth_user alice s3cr:et\nauth_user bob hunter2\nauth_user j\u00fcrgen p\u00e4ss\n"
CHALLENGE = 'Basic realm="warpd", charset="UTF-8"'
WARN_RE = r"warn: .* holds auth_user passwords and can be read by"


CURL = shutil.which("curl")


def curl(t, args, timeout=20):
    """curl with no config file and no proxy from the environment; returns
    (exit status, stdout bytes, stderr text)."""
    if not CURL:
        raise wd.Skip("curl not found")
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    argv = [CURL, "-q", "-s", "-S", "--max-time", str(timeout - 2)] + list(args)
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise wd.Fail("curl %s did not finish in %ds" % (" ".join(args), timeout))
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def basic(user, password, charset="utf-8"):
    raw = ("%s:%s" % (user, password)).encode(charset)
    return "Basic " + base64.b64encode(raw).decode("ascii")


ALICE = basic("alice", "s3cr:et")


def write_config(t, port, users=USERS, extra="", mode="forward", upstream=None, dns=None,
                 name="warpd.conf", perm=0o600):
    """httptest's config with the auth lines appended as they are (auth_user
    repeats); the file's permissions are set (0600 unless told)."""
    path = ht.http_config(t, port, mode, 1, "", upstream, dns)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    path = t.config(text + users + extra, name)
    os.chmod(path, perm)
    return path


def start(t, users=USERS, extra="", dns=None, perm=0o600):
    """warpd with users; each instance gets a file of its own, so that a
    reload reads its own."""
    port = wd.free_port()
    cfg = write_config(t, port, users, extra, dns=dns, perm=perm, name="auth%d.conf" % len(t.daemons))
    w = t.warpd(config=cfg, nworkers=1)
    return w, ("127.0.0.1", port), cfg


def with_auth(origin, path, cred, extra=()):
    hs = [("Host", origin.text)] + ([("Proxy-Authorization", cred)] if cred is not None else [])
    return ht.get(origin.addr, path, hs + list(extra))


def check_407(r, closes=False):
    """warpd's 407: the challenge, a small framed text body, and Connection:
    close only when the connection ends with it."""
    check(r.status == 407, "expected 407, got %d %s (body %r)" % (r.status, r.reason, r.body[:120]))
    check(r.reason == "Proxy Authentication Required", "reason %r" % r.reason)
    check(r.head.all("Proxy-Authenticate") == [CHALLENGE], "challenge %r" % r.head.all("Proxy-Authenticate"))
    check(r.framing == "length" and r.header("Content-Length") == str(len(r.body)), "407 framing: %r" % r)
    check(r.body.startswith(b"warpd: 407 Proxy Authentication Required: "), "407 body %r" % r.body)
    check(("close" in r.head.tokens("Connection")) == closes,
          "407 %s Connection: close: %r" % ("without" if closes else "with", r.head.fields))


def all_logs(w):
    return "\n".join(w.text())


def check_no_secret(w, secrets):
    text = all_logs(w)
    for s in secrets:
        check(s not in text, "the log contains %r" % s)


# ---- the 407 -----------------------------------------------------------------------


def test_no_credentials(t):
    dns = ht.FakeDNS(t)
    o = ht.Origin(t)
    w, addr, _ = start(t, dns=dns)
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "http://origin.test:%d/nocred" % o.port, [("Host", "origin.test:%d" % o.port)]))
    r = c.response()
    check_407(r)
    check(r.body == b"warpd: 407 Proxy Authentication Required: credentials required\r\n", "body %r" % r.body)
    c.expect_open(0.3)
    check(not dns.asked("origin.test"), "the name was looked up for a request without credentials")
    check(o.accepted == 0, "the origin got %d connections" % o.accepted)
    a = ht.wait_access(w, lambda a: a["status"] == "407")
    check(a["user"] == "-" and a["upstream"] == "-" and a["inb"] == "0" and a["close"] is None,
          "access line of a 407: %s" % a["line"])
    check(a["method"] == "GET" and a["target"] == "http://origin.test:%d/nocred" % o.port, "access line %s" % a["line"])


def test_bad_credentials_then_right_on_one_connection(t):
    """Every kind of refused credentials gets a 407 on the same kept-alive
    connection, and the right ones then go through on it."""
    o = ht.Origin(t)
    w, addr, _ = start(t)
    c = ht.Client(t, addr)
    bad = [
        (basic("alice", "wrong"), "invalid credentials"),
        (basic("alice", "s3cr"), "invalid credentials"),  # the password cut at its colon
        (basic("alice", "s3cr:et "), "invalid credentials"),
        (basic("Alice", "s3cr:et"), "invalid credentials"),
        (basic("mallory", "s3cr:et"), "invalid credentials"),
        (basic("bob", "s3cr:et"), "invalid credentials"),  # alice's password
        (basic("alice", ""), "invalid credentials"),
        (basic("", "s3cr:et"), "invalid credentials"),
        (basic("j\u00fcrgen", "p\u00e4ss", "latin-1"), "invalid credentials"),
        ("Basic " + base64.b64encode(b"alices3cret").decode(), "malformed Basic credentials"),  # no colon
        ("Basic YWxpY2U6czNjcjpldA", "malformed Basic credentials"),  # padding missing
        ("Basic YWxpY2U6czNjcjpldA=!", "malformed Basic credentials"),
        ("Basic YWxp Y2U6czNjcjpldA==", "malformed Basic credentials"),
        ("Basic", "malformed Basic credentials"),
        ("Bearer " + ALICE[6:], "only Basic proxy authentication is supported"),
        ("Digest username=\"alice\"", "only Basic proxy authentication is supported"),
        (ALICE[6:], "only Basic proxy authentication is supported"),
    ]
    for i, (cred, why) in enumerate(bad):
        c.send(with_auth(o, "/bad%d" % i, cred))
        r = c.response()
        check_407(r)
        check(r.body == b"warpd: 407 Proxy Authentication Required: %s\r\n" % why.encode(),
              "%r: body %r" % (cred, r.body))
    check(o.accepted == 0, "the origin got a connection for bad credentials")
    for cred in (ALICE, "bAsIc  " + ALICE[6:], basic("bob", "hunter2"), basic("j\u00fcrgen", "p\u00e4ss")):
        c.send(with_auth(o, "/good", cred))
        r = c.response()
        check(r.status == 200 and r.body == b"GET /good\n", "%r: %r" % (cred, r))
    check(o.accepted == 1, "the origin got %d connections, expected 1" % o.accepted)
    wd.wait_until(lambda: len([a for a in ht.access(w) if a["status"] == "200"]) == 4, 5, "4 access lines of 200")
    users = [a["user"] for a in ht.access(w) if a["status"] == "200"]
    check(users == ["alice", "alice", "bob", "j\u00fcrgen"], "users in the access lines: %r" % users)
    clients = {a["client"] for a in ht.access(w)}
    check(len(clients) == 1, "the requests came on %d connections: %r" % (len(clients), clients))
    o.check_clean()


def test_right_credentials_not_forwarded(t):
    o = ht.Origin(t)
    w, addr, _ = start(t)
    c = ht.Client(t, addr)
    fields = [("Host", o.text), ("Proxy-Authorization", ALICE), ("X-A", "1"), ("Connection", "keep-alive")]
    c.send(ht.get(o.addr, "/fwd", fields))
    r = c.response()
    check(r.status == 200 and r.body == b"GET /fwd\n", "status %r" % r)
    want = ht.forwarded_head("GET /fwd HTTP/1.1", [("Host", o.text), ("X-A", "1")])
    got = o.requests()[0].head.raw
    check(got == want, "origin got %s, expected %s" % (ht.show(got), ht.show(want)))
    # Named in Connection as well: still consumed, still checked.
    c.send(ht.get(o.addr, "/fwd2", [("Host", o.text), ("Connection", "Proxy-Authorization"), ("Proxy-Authorization", ALICE)]))
    r = c.response()
    check(r.status == 200, "status %r" % r)
    check(not o.requests()[1].head.has("Proxy-Authorization"), "Proxy-Authorization reached the origin")
    check(b"Proxy-Authorization" not in o.raw() and b"czNjcjpldA" not in o.raw(), "credentials in the origin's bytes")
    o.check_clean()


def test_pipelined_requests_answered_in_order(t):
    """Requests without credentials pipelined before one with them: each gets
    its 407 in order, then the last is proxied; none of the others reaches
    the origin."""
    o = ht.Origin(t)
    w, addr, _ = start(t)
    c = ht.Client(t, addr)
    n = 40
    c.send(b"".join(with_auth(o, "/p%d" % i, None) for i in range(n)) + with_auth(o, "/last", ALICE))
    for i in range(n):
        check_407(c.response())
    r = c.response()
    check(r.status == 200 and r.body == b"GET /last\n", "the request with credentials: %r" % r)
    check([q.target for q in o.requests()] == ["/last"], "origin got %r" % [q.target for q in o.requests()])
    c.expect_open(0.2)
    o.check_clean()


@wd.timeout(60)
def test_pipelined_client_not_reading(t):
    """Many requests without credentials pipelined by a client that does not
    read meanwhile: warpd stops reading while its 407s wait to be written,
    and every answer arrives whole and in order once the client reads."""
    o = ht.Origin(t)
    w, addr, _ = start(t)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(20)
    s.connect(addr)
    t.add(s)
    n = 20000
    data = b"".join(with_auth(o, "/q%d" % i, None) for i in range(n)) + with_auth(o, "/end", ALICE)
    sender = threading.Thread(target=lambda: s.sendall(data), daemon=True)
    sender.start()
    time.sleep(0.5)
    c = ht.Client.__new__(ht.Client)
    c.sock = s
    c.rd = ht.Reader(s, timeout=20)
    for i in range(n):
        r = c.response()
        check(r.status == 407 and r.body.endswith(b": credentials required\r\n"), "answer %d: %r" % (i, r))
    r = c.response()
    check(r.status == 200 and r.body == b"GET /end\n", "the last answer: %r" % r)
    sender.join(10)
    check(not sender.is_alive(), "the client could not send everything")
    targets = [a["target"] for a in ht.access(w)]
    check(len(targets) >= n and targets[:3] == ["http://%s/q%d" % (o.text, i) for i in range(3)], "access lines %r" % targets[:3])
    o.check_clean()


def test_http10_client(t):
    o = ht.Origin(t)
    w, addr, _ = start(t)
    # Asking for keep-alive: the 407 says keep-alive and the connection stays.
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/k", [("Host", o.text), ("Connection", "keep-alive")], version="1.0"))
    r = c.response()
    check_407(r)
    check(r.head.tokens("Connection") == ["keep-alive"], "HTTP/1.0 keep-alive 407: %r" % r.head.fields)
    c.send(ht.get(o.addr, "/k2", [("Host", o.text), ("Connection", "keep-alive"), ("Proxy-Authorization", ALICE)], version="1.0"))
    r = c.response()
    check(r.status == 200 and r.body == b"GET /k2\n", "HTTP/1.0 retry: %r" % r)
    # Not asking: the 407 closes, as every answer to such a client does.
    c2 = ht.Client(t, addr)
    c2.send(ht.get(o.addr, "/c", version="1.0"))
    check_407(c2.response(), closes=True)
    c2.expect_closed(5)
    o.check_clean()


def test_body_closes_after_407(t):
    """A request with a body gets its 407 and the connection closes (the
    body is drained by the lingering close, never forwarded)."""
    o = ht.Origin(t)
    w, addr, _ = start(t)
    c = ht.Client(t, addr)
    body = b"x" * 200000
    c.send(ht.get(o.addr, "/post", [("Host", o.text), ("Content-Length", str(len(body)))], method="POST"))
    c.send_quietly(body)
    r = c.response()
    check_407(r, closes=True)
    c.expect_closed(5)
    # Chunked, with Expect: 100-continue: no 100, a 407, the close.
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/chunk", [("Host", o.text), ("Transfer-Encoding", "chunked"), ("Expect", "100-continue")], method="PUT"))
    r = c.response()
    check(not r.interim, "interim answers before the 407: %r" % r.interim)
    check_407(r, closes=True)
    c.expect_closed(5)
    # Content-Length: 0 is no body: kept open.
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/zero", [("Host", o.text), ("Content-Length", "0")], method="POST"))
    check_407(c.response())
    c.expect_open(0.2)
    check(o.accepted == 0, "the origin got a connection")
    a = ht.wait_access(w, lambda a: a["target"].endswith("/post"))
    check(a["status"] == "407" and a["close"] == "credentials required", "access line of the 407 that closed: %s" % a["line"])


def test_connect(t):
    e = ht.RecordingEcho(t)
    w, addr, _ = start(t, extra="connect_ports any\n")
    target = "127.0.0.1:%d" % e.port
    head = "CONNECT %s HTTP/1.1\r\nHost: %s\r\n" % (target, target)
    c = ht.Client(t, addr)
    c.send(head.encode() + b"\r\n")
    check_407(c.response("CONNECT"))
    c.send((head + "Proxy-Authorization: %s\r\n\r\n" % basic("alice", "nope")).encode())
    check_407(c.response("CONNECT"))
    check(e.accepted == 0, "the CONNECT target was contacted without credentials")
    # The retry with credentials on the same connection opens the tunnel.
    c.send((head + "Proxy-Authorization: %s\r\n\r\n" % ALICE).encode())
    r = c.response("CONNECT")
    check(r.status == 200, "CONNECT with credentials: %r" % r)
    c.send(b"through the tunnel")
    check(wd.recv_exact(c.sock, 18, 5) == b"through the tunnel", "no echo through the tunnel")
    c.sock.close()
    check(e.accepted == 1, "the target accepted %d connections" % e.accepted)
    a = ht.wait_access(w, lambda a: a["status"] == "200")
    check(a["user"] == "alice" and a["method"] == "CONNECT", "tunnel access line %s" % a["line"])
    # A CONNECT without credentials followed at once by tunnel bytes: 407
    # and the close (those bytes are no request).
    c = ht.Client(t, addr)
    c.send(head.encode() + b"\r\n\x16\x03\x01\x00\x05hello")
    check_407(c.response("CONNECT"), closes=True)
    c.expect_closed(5)
    check(e.accepted == 1, "the target was contacted again")


def test_connect_port_refused_after_credentials(t):
    """connect_ports is judged once the client is known: without credentials
    a CONNECT to a refused port gets 407, with them 403."""
    o = ht.Origin(t)
    w, addr, _ = start(t, extra="connect_ports 443\n")  # a loopback proxy would allow any port
    head = "CONNECT %s HTTP/1.1\r\nHost: %s\r\n" % (o.text, o.text)
    c = ht.Client(t, addr)
    c.send(head.encode() + b"\r\n")
    check_407(c.response("CONNECT"))
    c.send((head + "Proxy-Authorization: %s\r\n\r\n" % ALICE).encode())
    ht.expect_error(c, 403, "CONNECT")
    check(o.accepted == 0, "the origin got a connection")


def test_duplicate_and_huge_fields(t):
    o = ht.Origin(t)
    w, addr, _ = start(t)
    # Two fields, even both right: 400, and the close.
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/dup", [("Host", o.text), ("Proxy-Authorization", ALICE), ("Proxy-Authorization", ALICE)]))
    r = ht.expect_error(c, 400)
    check(b"more than one Proxy-Authorization field" in r.body, "400 body %r" % r.body)
    # A value larger than a field line may be: 431.
    c = ht.Client(t, addr)
    c.send(with_auth(o, "/huge", "Basic " + "QUFB" * 2500))
    ht.expect_error(c, 431)
    # Large but allowed: well-formed base64 nobody's credentials could be,
    # and the same with a bad byte in the middle: 407 both.
    c = ht.Client(t, addr)
    c.send(with_auth(o, "/big", "Basic " + "QUFB" * 1500))
    r = c.response()
    check_407(r)
    check(r.body.endswith(b": invalid credentials\r\n"), "body %r" % r.body)
    c.send(with_auth(o, "/big2", "Basic " + "QUFB" * 700 + "!" + "QUFB" * 700))
    check_407(c.response())
    c.send(with_auth(o, "/after", ALICE))
    check(c.response().status == 200, "the connection failed after large values")
    check([q.target for q in o.requests()] == ["/after"], "origin got %r" % [q.target for q in o.requests()])
    check(w.running(), "warpd died")
    o.check_clean()


def test_origin_form_still_400(t):
    o = ht.Origin(t)
    w, addr, _ = start(t)
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "/local", [("Host", o.text)]))
    ht.expect_error(c, 400)


def test_response_auth_fields_removed(t):
    o = ht.Origin(t)
    extra = [
        ("Proxy-Authenticate", 'Basic realm="origin"'),
        ("Proxy-Authentication-Info", "nextnonce=abc"),
        ("X-Keep", "1"),
    ]
    o.route("/r", ht.act_reply(200, b"hello", extra))
    o.route("/r407", ht.act_reply(407, b"origin says", extra))
    w, addr, _ = start(t)
    c = ht.Client(t, addr)
    for path, status in (("/r", 200), ("/r407", 407)):
        c.send(with_auth(o, path, ALICE))
        r = c.response()
        check(r.status == status, "%s: %r" % (path, r))
        names = [n.lower() for n in r.head.names()]
        check("proxy-authenticate" not in names and "proxy-authentication-info" not in names,
              "%s: the origin's authentication fields came through: %r" % (path, r.head.fields))
        check(r.header("X-Keep") == "1", "%s: X-Keep lost: %r" % (path, r.head.fields))
    o.check_clean()


def test_credentials_never_logged(t):
    """Debug level, every kind of answer: neither passwords nor the base64
    forms (right or wrong) appear in any log line."""
    o = ht.Origin(t)
    w, addr, _ = start(t, extra="log_level debug\n")
    wrong = basic("alice", "Wr0ngPassw0rd")
    c = ht.Client(t, addr)
    for cred in (ALICE, wrong, ALICE):
        c.send(with_auth(o, "/l", cred))
        c.response()
    c2 = ht.Client(t, addr)
    c2.send(ht.get(o.addr, "/l2", [("Host", o.text), ("Proxy-Authorization", wrong), ("Proxy-Authorization", ALICE)]))
    ht.expect_error(c2, 400)
    c3 = ht.Client(t, addr)
    c3.send(ht.get(o.addr, "/l3", [("Host", o.text), ("Proxy-Authorization", wrong), ("Content-Length", "3")], method="POST", body=b"abc"))
    check_407(c3.response(), closes=True)
    wd.wait_until(lambda: len(ht.access(w)) >= 5, 5, "5 access lines")
    check_no_secret(w, ["s3cr:et", "s3cr", "Wr0ngPassw0rd", ALICE[6:], wrong[6:], "hunter2"])


# ---- curl ------------------------------------------------------------------------


def test_curl_proxy_user(t):
    dns = ht.FakeDNS(t)
    o = ht.Origin(t)
    w, addr, _ = start(t, dns=dns, extra="connect_ports any\n")
    proxy = "http://%s" % wd.addr_text(addr)
    url = "http://origin.test:%d/c" % o.port
    rc, out, err = curl(t, ["-x", proxy, "-w", "%{http_code}", "-o", os.devnull, url])
    check(rc == 0 and out == b"407", "curl without credentials: %d %r %s" % (rc, out, err))
    rc, out, err = curl(t, ["-x", proxy, "--proxy-user", "alice:wrong", "-w", "%{http_code}", "-o", os.devnull, url])
    check(rc == 0 and out == b"407", "curl with a wrong password: %d %r %s" % (rc, out, err))
    check(o.accepted == 0, "the origin got a connection")
    # Preemptive Basic, a colon in the password.
    rc, out, err = curl(t, ["-x", proxy, "--proxy-user", "alice:s3cr:et", url])
    check(rc == 0 and out == b"GET /c\n", "curl --proxy-user: %d %r %s" % (rc, out, err))
    check(not o.requests()[0].head.has("Proxy-Authorization"), "Proxy-Authorization reached the origin")
    # --proxy-anyauth: first without credentials, then again on the same
    # connection once the 407 named Basic. (Access lines are picked by
    # target: curl may exit before the worker wrote the previous one.)
    rc, out, err = curl(t, ["-x", proxy, "--proxy-anyauth", "--proxy-user", "bob:hunter2", url + "2"])
    check(rc == 0 and out == b"GET /c2\n", "curl --proxy-anyauth: %d %r %s" % (rc, out, err))

    def of(pred):
        return lambda: [a for a in ht.access(w) if pred(a)]

    lines = wd.wait_until(lambda: len(of(lambda a: a["target"].endswith("/c2"))()) >= 2 and
                          of(lambda a: a["target"].endswith("/c2"))(), 5, "2 access lines")
    check([a["status"] for a in lines] == ["407", "200"] and lines[1]["user"] == "bob",
          "access lines %r" % [a["line"] for a in lines])
    check(lines[0]["client"] == lines[1]["client"], "curl did not retry on the same connection: %r" % [a["line"] for a in lines])
    # The same through a CONNECT tunnel (curl -p).
    rc, out, err = curl(t, ["-p", "-x", proxy, "--proxy-anyauth", "--proxy-user", "alice:s3cr:et",
                            "http://127.0.0.1:%d/t" % o.port])
    check(rc == 0 and out == b"GET /t\n", "curl -p --proxy-anyauth: %d %r %s" % (rc, out, err))
    lines = wd.wait_until(lambda: len(of(lambda a: a["method"] == "CONNECT")()) >= 2 and
                          of(lambda a: a["method"] == "CONNECT")(), 5, "2 access lines")
    check([(a["method"], a["status"]) for a in lines] == [("CONNECT", "407"), ("CONNECT", "200")],
          "access lines %r" % [a["line"] for a in lines])
    check(lines[0]["client"] == lines[1]["client"], "curl -p did not retry on the same connection")
    o.check_clean()


# ---- configuration ---------------------------------------------------------------

# (lines, line of the error counting from the end of the base config, words
# the message must contain); none of them may show a password.
BAD_LINES = [
    ("auth_user alice\n", 1, "auth_user: expected a user name and a password, one word each"),
    ("auth_user alice pass word\n", 1, "auth_user: expected a user name and a password, one word each"),
    ("auth_user\n", 1, "'auth_user' takes one or more values"),
    ("auth_user al:ice Secr3tPw\n", 1, "auth_user: user name 'al:ice' contains a colon or a space"),
    ("auth_user alice Secr3t\x01Pw\n", 1, "control character 0x01 in line"),
    ("auth_user %s Secr3tPw\n" % ("n" * 65), 1, "auth_user: user name longer than 64 bytes"),
    ("auth_user alice %s\n" % ("Secr3tPw" * 17), 1, "auth_user: password of user 'alice' longer than 128 bytes"),
    ("auth_user alice Secr3tPw\nauth_user bob x\nauth_user alice Secr3tPw\n", 3, "auth_user: user 'alice' is defined twice"),
    ("".join("auth_user u%d Secr3tPw\n" % i for i in range(65)), 65, "auth_user: too many users (at most 64)"),
    ("auth_realm say \"hi\"\n", 1, "auth_realm: expected 1-64 printable ASCII characters"),
    ("auth_realm %s\n" % ("r" * 65), 1, "auth_realm: expected 1-64 printable ASCII characters"),
]


def check_bad(t, cfg, want, args=()):
    for a in (["-t", "-c", cfg], ["-c", cfg]):
        r = t.run(a + list(args))
        check(r.returncode == 2, "%s: %s, expected status 2" % (a, r))
        lines = r.err_lines()
        check(len(lines) == 1 and want in lines[0], "expected one line with %r, got %r" % (want, r.stderr))
        check("Secr3tPw" not in r.stderr and "Secr3t" not in r.stderr, "a password in the message: %r" % r.stderr)
    check(not wd.procs_with_arg(cfg), "processes left running with %s" % cfg)


def test_bad_values_fail_check_and_start(t):
    port = wd.free_port()
    base = "listen 127.0.0.1:%d\nworkers 1\n" % port
    for i, (lines, line, words) in enumerate(BAD_LINES):
        cfg = t.config(base + lines, "bad%d.conf" % i)
        check_bad(t, cfg, "%s:%d: %s" % (cfg, line + 2, words))
    ok = t.config(base + "auth_realm Corporate proxy (ask IT)\nauth_user alice s3cr:et\n", "ok.conf")
    os.chmod(ok, 0o600)
    r = t.run(["-t", "-c", ok])
    check(r.returncode == 0 and "configuration OK" in r.stdout, "good auth lines: %s" % r)


def test_auth_outside_forward_mode(t):
    port = wd.free_port()
    base = "listen 127.0.0.1:%d\nworkers 1\n" % port
    cases = [
        ("mode reverse\nupstream 127.0.0.1:9\nauth_user alice Secr3tPw\n", 5, "reverse"),
        ("auth_user alice Secr3tPw\nauth_user bob Secr3tPw\nmode tcp\nupstream 127.0.0.1:9\n", 3, "tcp"),
    ]
    for i, (lines, line, mode) in enumerate(cases):
        cfg = t.config(base + lines, "mode%d.conf" % i)
        check_bad(t, cfg, "%s:%d: auth_user: proxy authentication works only in forward mode, and the mode is %s"
                  % (cfg, line, mode))
    # The mode from the command line: still the file's line.
    cfg = t.config(base + "auth_user alice Secr3tPw\n", "cli.conf")
    check_bad(t, cfg, "%s:3: auth_user: proxy authentication works only in forward mode, and the mode is reverse" % cfg,
              ["-m", "reverse", "-u", "127.0.0.1:9"])


def test_readable_file_warning(t):
    o = ht.Origin(t)
    for perm, who in ((0o644, "every user"), (0o640, "its group"), (0o604, "every user")):
        w, addr, cfg = start(t, perm=perm)
        lines = [l for l in w.text() if re.search(WARN_RE, l)]
        check(len(lines) == 1, "mode %o: expected one warning, got %r" % (perm, lines))
        check("%s holds auth_user passwords and can be read by %s (mode %04o)" % (cfg, who, perm) in lines[0],
              "warning %r" % lines[0])
        check(wd.LOG_RE.match(lines[0]).group("tag") == "supervisor", "not from the supervisor: %r" % lines[0])
        check("s3cr" not in all_logs(w), "a password in the log")
        w.stop()
    # Readable by its owner only, or no users: no warning.
    w, addr, cfg = start(t, perm=0o600)
    w2, addr2, cfg2 = start(t, users="", perm=0o644)
    for x in (w, w2):
        check(not any(re.search(WARN_RE, l) for l in x.text()), "unexpected warning: %r" % x.text())
    # A reload reads the file again, and warns again when it is readable.
    os.chmod(cfg, 0o644)
    mark = w.mark()
    w.signal(signal.SIGHUP)
    w.wait_log(r"reload complete", 10, mark)
    lines = [l for l in w.logs_since(mark) if re.search(WARN_RE, l)]
    check(len(lines) == 1, "reload: expected one warning, got %r" % lines)


if __name__ == "__main__":
    wd.main(globals())
