"""Integration tests of warpd's reverse proxy mode: origin-form requests go
to the one configured upstream over the keep-alive pool, Host is kept as the
client sent it unless upstream_host is set, framing follows the same rules
as forward mode, absolute-form is accepted too, and errors are answered the
same way."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httptest as ht  # noqa: E402
import wdtest as wd  # noqa: E402
from wdtest import check  # noqa: E402


def setup(t, extra="", workers=1, origin=None):
    o = origin or ht.Origin(t)
    w, addr = ht.start_http(t, mode="reverse", workers=workers, extra=extra, upstream=o.text)
    return o, w, addr


def test_origin_form_byte_exact(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    fields = [("Host", "www.example.org"), ("User-Agent", "wdtest"), ("x-case", "V"), ("Connection", "keep-alive, X-Gone"), ("X-Gone", "1"), ("Accept", "*/*")]
    c.send(ht.request("GET", "/a%2Fb//c;d?e=%2e%2e", fields))
    r = c.response()
    check(r.status == 200 and r.body == b"GET /a%2Fb//c;d?e=%2e%2e\n", "answer %r" % r)
    want = ht.forwarded_head("GET /a%2Fb//c;d?e=%2e%2e HTTP/1.1", [("Host", "www.example.org"), ("User-Agent", "wdtest"), ("x-case", "V"), ("Accept", "*/*")])
    got = o.requests()[0].head.raw
    check(got == want, "origin got %s, expected %s" % (ht.show(got), ht.show(want)))
    check(r.head.all("Via") == ["1.1 warpd"], "response Via %r" % r.head.all("Via"))
    o.check_clean()


def test_upstream_host(t):
    o, w, addr = setup(t, extra="upstream_host backend.internal:8080")
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "/h", [("X-A", "1"), ("Host", "public.example"), ("X-B", "2")]))
    r = c.response()
    check(r.status == 200, "status %d" % r.status)
    want = ht.forwarded_head("GET /h HTTP/1.1", [("X-A", "1"), ("Host", "backend.internal:8080"), ("X-B", "2")])
    got = o.requests()[0].head.raw
    check(got == want, "origin got %s, expected %s" % (ht.show(got), ht.show(want)))
    o.check_clean()


def test_pool_reuse(t):
    o, w, addr = setup(t)
    for i in range(5):
        c = ht.Client(t, addr)
        c.send(ht.request("GET", "/p%d" % i, [("Host", "site")]))
        check(c.response().body == b"GET /p%d\n" % i, "request %d" % i)
        c.sock.close()
    check(o.per_conn() == [5], "upstream connections carried %r, expected [5]" % o.per_conn())
    a = ht.wait_access(w, lambda a: a["target"] == "/p4")
    check(a["status"] == "200" and a["upstream"] == o.text, "access line %s" % a["line"])


def test_pipelined_and_keepalive(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    reqs = [ht.request("HEAD", "/1", [("Host", "s")]), ht.request("GET", "/2", [("Host", "s")]), ht.request("POST", "/3", [("Host", "s"), ("Content-Length", "4")], b"body")]
    c.send(b"".join(reqs))
    r1 = c.response("HEAD")
    r2 = c.response()
    r3 = c.response()
    check(r1.status == 200 and r1.body == b"", "HEAD %r" % r1)
    check(r2.body == b"GET /2\n" and r3.body == b"POST /3\nbody", "answers %r %r" % (r2, r3))
    c.expect_open()
    o.check_clean()


def test_chunked_both_ways(t):
    o, w, addr = setup(t)
    o.route("/rc", ht.act_chunked([b"one", b"two", b"three"], [("X-T", "9")]))
    c = ht.Client(t, addr)
    body = ht.chunk(b"abc", b";x=1") + ht.chunk(b"defg") + b"0\r\nX-Req-Trailer: r\r\n\r\n"
    c.send(ht.request("POST", "/up", [("Host", "s"), ("Transfer-Encoding", "chunked")], body))
    r = c.response()
    check(r.body == b"POST /up\nabcdefg", "answer %r" % r)
    req = o.requests()[0]
    check(req.framing == "chunked" and req.body == b"abcdefg" and req.chunked.exts == [], "origin body %r exts %r" % (req.body, req.chunked.exts))
    check(req.chunked.trailers == [("X-Req-Trailer", "r")], "request trailers %r" % req.chunked.trailers)
    c.send(ht.request("GET", "/rc", [("Host", "s")]))
    r = c.response()
    check(r.framing == "chunked" and r.body == b"onetwothree", "chunked answer %r" % r)
    check(r.chunked.trailers == [("X-T", "9")], "response trailers %r" % r.chunked.trailers)
    o.check_clean()


def test_close_delimited_rechunked(t):
    o, w, addr = setup(t)
    body = wd.data(50000, 21)
    o.route("/cd", ht.act_close_delimited(body))
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "/cd", [("Host", "s")]))
    r = c.response()
    check(r.framing == "chunked" and r.body == body, "1.1 client: framing %s, %d bytes" % (r.framing, len(r.body)))
    c10 = ht.Client(t, addr)
    c10.send(ht.request("GET", "/cd", [("Host", "s")], version="1.0"))
    r = c10.response()
    check(r.framing == "close" and r.body == body, "1.0 client: framing %s, %d bytes" % (r.framing, len(r.body)))
    h = o.requests()[-1].head
    check(h.start == b"GET /cd HTTP/1.1" and h.all("Via") == ["1.0 warpd"], "1.0 request sent as %r Via %r" % (h.start, h.all("Via")))


def test_absolute_form_accepted(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "http://whatever.example/abs?q=1", [("Host", "whatever.example")]))
    r = c.response()
    check(r.status == 200 and r.body == b"GET /abs?q=1\n", "answer %r" % r)
    h = o.requests()[0].head
    check(h.start == b"GET /abs?q=1 HTTP/1.1", "request line %r" % h.start)
    check(h.get("Host") == "whatever.example", "Host %r" % h.get("Host"))
    o.check_clean()


def test_upstream_refused_502(t):
    hole = wd.reserve_closed_port()
    t.add(hole)
    w, addr = ht.start_http(t, mode="reverse", upstream="127.0.0.1:%d" % hole.getsockname()[1])
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "/", [("Host", "s")]))
    ht.expect_error(c, 502)


def test_malformed_400_and_nothing_forwarded(t):
    o, w, addr = setup(t)
    for bad in (b"GET / HTTP/1.1\r\nHost: s\r\nX-A : b\r\n\r\n", b"POST / HTTP/1.1\r\nHost: s\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"GET / HTTP/1.1\r\nHost: s\r\n\rXGET /smuggled HTTP/1.1\r\nHost: s\r\n\r\n"):
        c = ht.Client(t, addr)
        c.send_quietly(bad)
        ht.expect_error(c, 400)
    time.sleep(0.2)
    check(o.accepted == 0, "the upstream got %d connection(s): %s" % (o.accepted, ht.show(o.raw())))


def test_origin_truncates_body(t):
    o, w, addr = setup(t)
    o.route("/t", ht.act_close_mid_body(5000, 1000))
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "/t", [("Host", "s")]))
    head = ht.read_head(c.rd, timeout=5)
    got = c.rd.read_to_eof(timeout=5)
    check(head.get("Content-Length") == "5000" and len(got) < 5000, "head %r, %d bytes before EOF" % (head.fields, len(got)))


def test_options_max_forwards_zero(t):
    """OPTIONS * with Max-Forwards: 0 is answered by warpd, with what reverse
    mode forwards (no CONNECT); with 1 it goes on with 0."""
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    c.send(ht.request("OPTIONS", "*", [("Host", "www.example.org"), ("Max-Forwards", "0")]))
    r = c.response(method="OPTIONS")
    check(r.status == 200, "OPTIONS * Max-Forwards 0: %d" % r.status)
    allow = r.head.tokens("Allow")
    check("options" in allow and "connect" not in allow, "Allow %r" % r.head.get("Allow"))
    check(o.accepted == 0, "the origin got a connection")
    c = ht.Client(t, addr)
    c.send(ht.request("OPTIONS", "*", [("Host", "www.example.org"), ("Max-Forwards", "1")]))
    check(c.response(method="OPTIONS").status == 200, "OPTIONS * not forwarded")
    q = o.requests()[0]
    check(q.target == "*" and q.header("Max-Forwards") == "0", "origin saw %s %r" % (q.target, q.header("Max-Forwards")))


def test_max_connections_closes_oldest_idle(t):
    """At max_connections, a new client takes the place of the connection
    kept alive the longest without a request; the others keep theirs."""
    o, w, addr = setup(t, extra="max_connections 4\nkeepalive_timeout 60s")
    req = ht.request("GET", "/k", [("Host", "backend")])
    cs = []
    for _ in range(4):
        c = ht.Client(t, addr)
        c.send(req)
        check(c.response().status == 200, "a first client was not served")
        cs.append(c)
    mark = w.mark()
    e = ht.Client(t, addr)
    e.send(req)
    r = e.response(timeout=5)
    check(r.status == 200, "the fifth client got %r" % r)
    how, _ = cs[0].expect_closed(3)
    check(how == "eof", "the oldest idle connection ended with a %s" % how)
    for c in cs[1:]:
        c.send(req)
        check(c.response().status == 200, "a younger idle client lost its connection")
    w.wait_log(r"max_connections \(4\) reached: closed 1 idle keep-alive connection", mark=mark)


def test_max_connections_waits_then_takes_idle(t):
    """Four clients connected but silent fill max_connections: a fifth waits
    in the queue. Once one of the four has its answer and waits, kept alive,
    the fifth is admitted in its place, long before keepalive_timeout."""
    o, w, addr = setup(t, extra="max_connections 4\nkeepalive_timeout 60s\nheader_timeout 30s")
    req = ht.request("GET", "/k", [("Host", "backend")])
    cs = [ht.Client(t, addr) for _ in range(4)]
    w.wait_log(r"max_connections \(4\) reached, accepting paused")
    e = ht.Client(t, addr)
    e.send(req)
    e.expect_open(0.5)
    cs[2].send(req)
    check(cs[2].response().status == 200, "a connected client was not served")
    r = e.response(timeout=5)
    check(r.status == 200, "the queued client got %r" % r)
    how, _ = cs[2].expect_closed(3)
    check(how == "eof", "the idle connection ended with a %s" % how)
    for c in (cs[0], cs[1], cs[3]):
        c.send(req)
        check(c.response().status == 200, "a silent client lost its connection")


if __name__ == "__main__":
    wd.main(globals())
