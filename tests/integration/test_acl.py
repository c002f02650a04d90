"""Integration tests of warpd's client access rules (allow, deny) on
loopback: a client bound to 127.0.0.2 against one from 127.0.0.1, in forward,
reverse and tcp modes; IPv6 rules on a [::1] listener; the 403 arrives even
when the client sends nothing, or keeps sending a large body; a denied
client never reaches the origin; the access and error log lines, and no
flood of the latter; bad rules fail the config check with file:line; and a
reload with new rules applies to new connections."""

import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httptest as ht  # noqa: E402
import wdtest as wd  # noqa: E402
from wdtest import MIB, check  # noqa: E402

DENIED_CLOSE = "client address not allowed (allow/deny)"
DENIED_LOG = re.compile(r"info: (?P<client>\S+): client denied (?P<why>.*)$")


def need_second_loopback():
    """127.0.0.2 is loopback on Linux (all of 127/8 is routed to lo)."""
    s = socket.socket()
    try:
        s.bind(("127.0.0.2", 0))
    except OSError as e:
        raise wd.Skip("cannot bind 127.0.0.2: %s" % e)
    finally:
        s.close()


def client_from(t, src, addr, timeout=10.0):
    """An ht.Client whose socket is bound to the source address src."""
    s = socket.socket(wd.family_of(addr[0]), socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.bind((src, 0))
        s.connect(addr)
    except BaseException:
        s.close()
        raise
    t.add(s)
    c = ht.Client.__new__(ht.Client)
    c.sock = s
    c.rd = ht.Reader(s, timeout=timeout)
    return c


def write_config(t, port, acl, mode="forward", upstream=None, host="127.0.0.1", workers=1, name="warpd.conf"):
    """httptest's config (or a tcp one) with the allow/deny lines appended
    as they are: those directives may repeat."""
    if mode == "tcp":
        path = t.tcp_config(port, upstream, workers, host=host, name=name)
    else:
        path = ht.http_config(t, port, mode, workers, "", upstream, None, host)
    with open(path) as f:
        text = f.read()
    return t.config(text + acl, name)


def start(t, acl, mode="forward", upstream=None, host="127.0.0.1", workers=1, name="warpd.conf"):
    port = wd.free_port(host)
    cfg = write_config(t, port, acl, mode, upstream, host, workers, name)
    w = t.warpd(config=cfg, nworkers=workers)
    return w, (host, port)


def denied_lines(w, mark=0):
    out = []
    for line in w.logs_since(mark):
        m = DENIED_LOG.search(line)
        if m:
            out.append(m.groupdict())
    return out


def me(c):
    return wd.addr_text(c.sock.getsockname()[:2])


def expect_denied(w, c, why, request=b""):
    """c gets warpd's 403 and the connection ends; the access line says 403
    with no upstream, and one info line names the client and the reason."""
    if request:
        c.send_quietly(request)
    ht.expect_error(c, 403)
    who = me(c)
    a = ht.wait_access(w, lambda a: a["client"] == who, what="the access line of %s" % who)
    check(a["status"] == "403" and a["upstream"] == "-" and a["method"] == "-",
          "access line of a denied client: %s" % a["line"])
    check(a["close"] == DENIED_CLOSE, "access line close reason: %s" % a["line"])
    lines = [d for d in denied_lines(w) if d["client"] == who]
    check(len(lines) == 1, "expected one 'client denied' line for %s, got %r" % (who, lines))
    check(lines[0]["why"] == why, "denied line says %r, expected %r" % (lines[0]["why"], why))


def expect_proxied(o, c, path):
    c.send(ht.get(o.addr, path))
    r = c.response()
    check(r.status == 200, "%s: status %d" % (path, r.status))
    check(any(q.target == path for q in o.requests()), "the origin did not get %s" % path)


# ---- forward and reverse modes -------------------------------------------


def test_forward_allow_one_address(t):
    need_second_loopback()
    o = ht.Origin(t)
    w, addr = start(t, "allow 127.0.0.1/32\n")
    # A denied client that sends a request gets 403; the origin sees nothing.
    c = client_from(t, "127.0.0.2", addr)
    expect_denied(w, c, "(no rule matches: denied by default)", ht.get(o.addr, "/denied"))
    # The 403 is sent at accept: a client that sends nothing gets it too.
    c2 = client_from(t, "127.0.0.2", addr)
    expect_denied(w, c2, "(no rule matches: denied by default)")
    # The allowed address is proxied, keep-alive as usual.
    c3 = client_from(t, "127.0.0.1", addr)
    expect_proxied(o, c3, "/ok1")
    expect_proxied(o, c3, "/ok2")
    check(o.accepted == 1, "the origin accepted %d connections, expected 1" % o.accepted)
    check([q.target for q in o.requests()] == ["/ok1", "/ok2"], "origin got %r" % [q.target for q in o.requests()])
    check(not any("open proxy" in l for l in w.text()), "open-proxy warning on a loopback listener")
    o.check_clean()


def test_forward_deny_one_then_allow_all(t):
    need_second_loopback()
    o = ht.Origin(t)
    w, addr = start(t, "deny 127.0.0.2\nallow all\n", workers=2)
    for i in range(3):
        c = client_from(t, "127.0.0.2", addr)
        expect_denied(w, c, "by 'deny 127.0.0.2'", ht.get(o.addr, "/no%d" % i))
    for src in ("127.0.0.1", "127.0.0.3"):
        c = client_from(t, src, addr)
        expect_proxied(o, c, "/from-" + src)
    got = [q.target for q in o.requests()]
    check(got == ["/from-127.0.0.1", "/from-127.0.0.3"], "origin got %r" % got)
    o.check_clean()


def test_reverse_mode_denied(t):
    need_second_loopback()
    o = ht.Origin(t)
    w, addr = start(t, "allow 127.0.0.1\ndeny all\n", mode="reverse", upstream=o.text)
    c = client_from(t, "127.0.0.2", addr)
    expect_denied(w, c, "by 'deny all'", ht.request("GET", "/r", [("Host", "x")]))
    c = client_from(t, "127.0.0.1", addr)
    c.send(ht.request("GET", "/r-ok", [("Host", "x")]))
    r = c.response()
    check(r.status == 200, "allowed client in reverse mode: %d" % r.status)
    check([q.target for q in o.requests()] == ["/r-ok"], "origin got %r" % [q.target for q in o.requests()])
    o.check_clean()


def test_ipv6_rules(t):
    if not wd.have_ipv6():
        raise wd.Skip("no IPv6 loopback")
    o = ht.Origin(t)
    # ::1 allowed by an IPv6 rule.
    w, addr = start(t, "allow ::1/128\ndeny all\n", host="::1")
    c = client_from(t, "::1", addr)
    expect_proxied(o, c, "/v6")
    # IPv4 rules never match an IPv6 client: with only those, ::1 is denied.
    w2, addr2 = start(t, "allow 127.0.0.1\nallow 0.0.0.0/0\n", host="::1", name="w2.conf")
    c = client_from(t, "::1", addr2)
    expect_denied(w2, c, "(no rule matches: denied by default)", ht.get(o.addr, "/v6-no"))
    # An IPv6 network that holds ::1, before allow all.
    w3, addr3 = start(t, "deny ::/64\nallow all\n", host="::1", name="w3.conf")
    c = client_from(t, "::1", addr3)
    expect_denied(w3, c, "by 'deny ::/64'", ht.get(o.addr, "/v6-no"))
    check([q.target for q in o.requests()] == ["/v6"], "origin got %r" % [q.target for q in o.requests()])
    o.check_clean()


@wd.timeout(60)
def test_denied_client_sending_large_body_gets_403(t):
    """The 403 goes out at accept while the client is still sending its
    body; the lingering close drains it, so no reset destroys the answer."""
    need_second_loopback()
    o = ht.Origin(t)
    w, addr = start(t, "allow 127.0.0.1\n")
    size = 8 * MIB
    c = client_from(t, "127.0.0.2", addr)
    head = ht.get(o.addr, "/upload", [("Host", o.text), ("Content-Length", str(size))], method="POST")
    c.send(head)
    chunk = b"x" * 65536
    for _ in range(size // len(chunk)):
        c.send(chunk)  # raises if warpd reset the connection
    r = c.response(timeout=10)
    ht.check_error(r, 403)
    c.expect_closed(5)
    # Chunked, never finished: the client stops after a while, then reads.
    c = client_from(t, "127.0.0.2", addr)
    c.send(ht.get(o.addr, "/upload2", [("Host", o.text), ("Transfer-Encoding", "chunked")], method="POST"))
    for _ in range(32):
        c.send(ht.chunk(b"y" * 32768))
    r = c.response(timeout=10)
    ht.check_error(r, 403)
    check(o.accepted == 0, "the origin accepted %d connections from denied clients" % o.accepted)
    wd.wait_until(lambda: len(ht.access(w)) >= 2, 5, "two access lines")
    check(all(a["status"] == "403" for a in ht.access(w)), "access lines: %r" % [a["line"] for a in ht.access(w)])


@wd.timeout(60)
def test_denied_log_not_flooded(t):
    """Every denied client has its access line; the error log has at most a
    few lines per second, and the next line says how many it left out."""
    need_second_loopback()
    w, addr = start(t, "allow 127.0.0.1\n")
    n = 80
    t0 = time.monotonic()
    for _ in range(n):
        c = client_from(t, "127.0.0.2", addr)
        r = c.response(timeout=10)
        check(r.status == 403, "status %d" % r.status)
        c.sock.close()
    elapsed = time.monotonic() - t0
    time.sleep(1.1)
    c = client_from(t, "127.0.0.2", addr)
    check(c.response(timeout=10).status == 403, "the last client was not denied")
    wd.wait_until(lambda: len(ht.access(w)) == n + 1, 10, "%d access lines" % (n + 1))
    lines = denied_lines(w)
    more = 0
    for d in lines:
        m = re.search(r"\(and (\d+) more denied clients not logged\)$", d["why"])
        if m:
            more += int(m.group(1))
    check(len(lines) + more == n + 1,
          "%d denied lines + %d reported as not logged != %d clients" % (len(lines), more, n + 1))
    if elapsed < 5:
        check(len(lines) <= 10 * (int(elapsed) + 2), "%d 'client denied' lines in %.1fs" % (len(lines), elapsed))
        check(more > 0, "no line said that denied clients were left out")


# ---- tcp mode ----------------------------------------------------------------


def test_tcp_mode_denied_closed(t):
    need_second_loopback()
    e = t.echo(banner=b"HELLO")
    w, addr = start(t, "allow 127.0.0.1\n", mode="tcp", upstream=e.text, workers=2)
    for i in range(3):
        c = client_from(t, "127.0.0.2", addr)
        if i == 1:
            c.send_quietly(b"data from a denied client")
        how, secs = wd.expect_closed(c.sock, 5)
        check(secs < 2, "a denied client was closed after %.1fs" % secs)
        who = me(c)
        a = wd.wait_until(lambda: next((a for a in w.access_lines() if a["client"] == who), None), 5,
                          "the access line of %s" % who)
        check(a["close"] == DENIED_CLOSE and a["upstream"] == "-" and a["inb"] == "0" and a["outb"] == "0",
              "access line of a denied tcp client: %s" % a["line"])
    check(e.accepted == 0, "the upstream accepted %d connections from denied clients" % e.accepted)
    # The allowed address is relayed.
    c = client_from(t, "127.0.0.1", addr)
    check(wd.recv_exact(c.sock, 5, 5) == b"HELLO", "no banner through the relay")
    c.send(b"ping")
    c.sock.shutdown(socket.SHUT_WR)
    check(wd.recv_until_eof(c.sock, 5) == b"ping", "echo through the relay failed")
    check(e.accepted == 1, "the upstream accepted %d connections, expected 1" % e.accepted)
    lines = denied_lines(w)
    check(len(lines) == 3, "expected 3 'client denied' lines, got %r" % lines)


# ---- configuration -----------------------------------------------------------

# (rules, line of the error counting from the end of the base config, words
# the message must contain)
BAD_RULES = [
    ("allow 127.0.0.1\ndeny all\nallow 10.0.0.1/8\n", 3, "allow: address has bits set after the /8 prefix"),
    ("deny 10.0.0.0/33\n", 1, "deny: prefix length out of range (0-32 for IPv4)"),
    ("allow ::1/129\n", 1, "allow: prefix length out of range (0-128 for IPv6)"),
    ("allow 127.0.0.1 localhost\n", 1, "allow: expected 'all' or an address"),
    ("deny\n", 1, "'deny' takes one or more values"),
    ("deny 10.0.0.0/8\nallow 10.1.2.3\n", 2, "allow: never reached: the earlier 'deny 10.0.0.0/8'"),
]


def test_bad_rules_fail_check_and_start(t):
    port = wd.free_port()
    base = "listen 127.0.0.1:%d\nworkers 1\n" % port
    for i, (rules, line, words) in enumerate(BAD_RULES):
        cfg = t.config(base + rules, "bad%d.conf" % i)
        want = "%s:%d: %s" % (cfg, line + 2, words)
        for args in (["-t", "-c", cfg], ["-c", cfg]):
            r = t.run(args)
            check(r.returncode == 2, "%s with %r: %s, expected status 2" % (args[0], rules, r))
            lines = r.err_lines()
            check(len(lines) == 1 and want in lines[0], "%r: expected one line with %r, got %r" % (rules, want, r.stderr))
        check(not wd.procs_with_arg(cfg), "processes left running with %s" % cfg)
    ok = t.config(base + "allow 127.0.0.1 ::1\ndeny 127.0.0.2\nallow 10.0.0.0/8\ndeny all\n", "ok.conf")
    r = t.run(["-t", "-c", ok])
    check(r.returncode == 0 and "configuration OK" in r.stdout, "good rules: %s" % r)


@wd.timeout(60)
def test_reload_changes_rules(t):
    need_second_loopback()
    o = ht.Origin(t)
    port = wd.free_port()
    addr = ("127.0.0.1", port)
    cfg = write_config(t, port, "allow 127.0.0.1\n", workers=2)
    w = t.warpd(config=cfg, nworkers=2)
    expect_denied(w, client_from(t, "127.0.0.2", addr), "(no rule matches: denied by default)", ht.get(o.addr, "/a"))
    expect_proxied(o, client_from(t, "127.0.0.1", addr), "/b")

    # The other way round.
    write_config(t, port, "deny 127.0.0.1\nallow all\n", workers=2)
    mark = w.mark()
    w.signal(signal.SIGHUP)
    w.wait_log(r"reload complete", 10, mark)
    check(not any("reload failed" in l for l in w.logs_since(mark)), "reload failed")
    expect_proxied(o, client_from(t, "127.0.0.2", addr), "/c")
    expect_denied(w, client_from(t, "127.0.0.1", addr), "by 'deny 127.0.0.1'", ht.get(o.addr, "/d"))

    # A bad rule: the reload fails, naming the line, and the rules stay.
    write_config(t, port, "deny 127.0.0.1\nallow 127.0.0.2/8\n", workers=2)
    mark = w.mark()
    w.signal(signal.SIGHUP)
    line = w.wait_log(r"reload failed", 10, mark)
    check(re.search(r"%s:\d+: allow: address has bits set" % re.escape(cfg), line), "reload failure: %r" % line)
    expect_denied(w, client_from(t, "127.0.0.1", addr), "by 'deny 127.0.0.1'", ht.get(o.addr, "/e"))

    # No rules at all: everybody again.
    write_config(t, port, "", workers=2)
    mark = w.mark()
    w.signal(signal.SIGHUP)
    w.wait_log(r"reload complete", 10, mark)
    expect_proxied(o, client_from(t, "127.0.0.1", addr), "/f")
    expect_proxied(o, client_from(t, "127.0.0.2", addr), "/g")
    check([q.target for q in o.requests()] == ["/b", "/c", "/f", "/g"], "origin got %r" % [q.target for q in o.requests()])
    o.check_clean()


if __name__ == "__main__":
    wd.main(globals())
