"""Integration tests of warpd's forward proxy mode on loopback, asserting on
the exact bytes that reach a fake origin and on what the client gets:
absolute-form GET/POST with length and chunked bodies both ways (trailers
too), the rewritten head (order, spelling, Host, hop-by-hop removal, Via,
byte-exact paths), keep-alive, pipelining (HEAD then GET), upstream reuse and
the retry-once case, 100-continue, HEAD/204/304, close-delimited responses,
a 64 MiB download, streaming, CONNECT with early data, Upgrade/101, an IPv6
origin, names through a fake DNS, and byte-at-a-time delivery."""

import hashlib
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httptest as ht  # noqa: E402
import wdtest as wd  # noqa: E402
from wdtest import MIB, check  # noqa: E402


def setup(t, extra="", workers=1, dns=None):
    o = ht.Origin(t)
    w, addr = ht.start_http(t, workers=workers, extra=extra, dns=dns)
    return o, w, addr


# ---- basic exchanges and the rewritten head -------------------------------------


def test_get_byte_exact_head(t):
    o, w, addr = setup(t)
    auth = o.text
    c = ht.Client(t, addr)
    fields = [
        ("Host", auth),
        ("User-Agent", "wdtest/1"),
        ("x-lower-case", "v1"),
        ("X-MiXeD-Case", "v2"),
        ("Accept", "*/*"),
        ("X-Dup", "a"),
        ("X-Dup", "b"),
        ("X-Empty", ""),
        ("X-Obs-Text", "caf\xe9"),
    ]
    # Values with whitespace around them: warpd trims, the inner spaces stay.
    raw_fields = [("%s: %s" % kv) for kv in fields] + ["X-Spaces: \t  inner  value \t "]
    c.send(ht.request("GET", "http://%s/p/q?x=1&y=%%2F" % auth, raw_fields))
    r = c.response()
    check(r.status == 200, "status %d" % r.status)
    check(r.body == b"GET /p/q?x=1&y=%2F\n", "body %r" % r.body)
    want = ht.forwarded_head("GET /p/q?x=1&y=%2F HTTP/1.1", fields + [("X-Spaces", "inner  value")])
    got = o.requests()[0].head.raw
    check(got == want, "origin got\n%s\nexpected\n%s" % (ht.show(got), ht.show(want)))
    # The response: origin's headers in order, Via added, framing kept.
    check(r.head.names()[:3] == ["Content-Type", "X-Conn", "X-Req"], "response fields %r" % r.head.fields)
    check(r.header("Content-Length") == str(len(r.body)), "response Content-Length %r" % r.header("Content-Length"))
    check(r.head.all("Via") == ["1.1 warpd"], "response Via %r" % r.head.all("Via"))
    check(r.version == "1.1", "response version %r" % r.version)
    o.check_clean()


def test_path_bytes_untouched(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    paths = ["/a%2Fb/%2e%2e//c;p=1?q=%2F&r=//x", "/%7Euser/./../x;y", "//double//slash/", "/?", "/q?a=b?c"]
    for p in paths:
        c.send(ht.get(o.addr, p))
        r = c.response()
        check(r.status == 200, "%s: status %d" % (p, r.status))
    got = [r.target for r in o.requests()]
    check(got == paths, "origin saw targets %r, expected %r" % (got, paths))
    # An empty path becomes "/".
    c.send(ht.request("GET", "http://%s" % o.text, [("Host", o.text)]))
    r = c.response()
    check(r.status == 200, "empty path: status %d" % r.status)
    check(o.requests()[-1].head.start == b"GET / HTTP/1.1", "empty path sent as %r" % o.requests()[-1].head.start)
    o.check_clean()


def test_host_rewritten_in_place(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/h", [("X-Before", "1"), ("Host", "evil.example:81"), ("X-After", "2")]))
    r = c.response()
    check(r.status == 200, "status %d" % r.status)
    want = ht.forwarded_head("GET /h HTTP/1.1", [("X-Before", "1"), ("Host", o.text), ("X-After", "2")])
    got = o.requests()[0].head.raw
    check(got == want, "origin got %s, expected %s" % (ht.show(got), ht.show(want)))
    o.check_clean()


def test_hop_by_hop_removed(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    hs = [
        ("Host", o.text),
        ("X-First", "1"),
        ("Connection", "keep-alive, X-Secret, x-other"),
        ("X-Secret", "s"),
        ("Connection", "X-Third, Host"),
        ("X-Third", "3"),
        ("Proxy-Connection", "keep-alive"),
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Trailer", "X-T"),
        ("Upgrade", "h2c"),
        ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
        ("Proxy-Authenticate", "Basic realm=x"),
        ("X-OTHER", "o"),
        ("Accept", "*/*"),
    ]
    c.send(ht.get(o.addr, "/hop", hs))
    r = c.response()
    check(r.status == 200, "status %d" % r.status)
    want = ht.forwarded_head("GET /hop HTTP/1.1", [("Host", o.text), ("X-First", "1"), ("Accept", "*/*")])
    got = o.requests()[0].head.raw
    check(got == want, "origin got %s, expected %s" % (ht.show(got), ht.show(want)))
    o.check_clean()


def test_response_hop_by_hop_removed(t):
    o, w, addr = setup(t)
    extra = [
        ("Connection", "X-Drop"),
        ("X-Drop", "1"),
        ("Keep-Alive", "timeout=3"),
        ("Proxy-Connection", "keep-alive"),
        ("Proxy-Authenticate", "Basic realm=x"),
        ("X-Keep", "yes"),
    ]
    o.route("/r", ht.act_reply(200, b"hello", extra))
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/r"))
    r = c.response()
    check(r.body == b"hello", "body %r" % r.body)
    names = [n.lower() for n in r.head.names()]
    for bad in ("x-drop", "keep-alive", "proxy-connection", "proxy-authenticate"):
        check(bad not in names, "response still carries %s: %r" % (bad, r.head.fields))
    check(r.header("X-Keep") == "yes", "X-Keep lost: %r" % r.head.fields)
    check("close" not in r.head.tokens("Connection"), "keep-alive response says close: %r" % r.head.fields)
    c.send(ht.get(o.addr, "/again"))
    check(c.response().body == b"GET /again\n", "second request on the connection failed")
    o.check_clean()


def test_via_appended_and_off(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/v", [("Via", "1.0 first"), ("Host", o.text), ("Via", "1.1 second (x)"), ("X-A", "1")]))
    r = c.response()
    check(r.status == 200, "status %d" % r.status)
    want = ht.forwarded_head(
        "GET /v HTTP/1.1",
        [("Via", "1.0 first"), ("Host", o.text), ("Via", "1.1 second (x), 1.1 warpd"), ("X-A", "1")],
        via=None,
    )
    got = o.requests()[0].head.raw
    check(got == want, "origin got %s, expected %s" % (ht.show(got), ht.show(want)))
    # HTTP/1.0 client: "1.0 warpd" upstream, and the request line says 1.1.
    c2 = ht.Client(t, addr)
    c2.send(ht.get(o.addr, "/v10", version="1.0"))
    r = c2.response()
    check(r.status == 200, "1.0: status %d" % r.status)
    h = o.requests()[1].head
    check(h.start == b"GET /v10 HTTP/1.1", "1.0 request sent as %r" % h.start)
    check(h.all("Via") == ["1.0 warpd"], "1.0 client: Via %r" % h.all("Via"))
    o.check_clean()


def test_via_off(t):
    o, w, addr = setup(t, extra="via off")
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/nv", [("Host", o.text), ("Via", "1.0 other")]))
    r = c.response()
    check(r.status == 200, "status %d" % r.status)
    want = ht.forwarded_head("GET /nv HTTP/1.1", [("Host", o.text), ("Via", "1.0 other")], via=None)
    got = o.requests()[0].head.raw
    check(got == want, "origin got %s, expected %s" % (ht.show(got), ht.show(want)))
    check(not r.head.has("Via"), "via off: response Via %r" % r.head.all("Via"))
    o.check_clean()


# ---- bodies ---------------------------------------------------------------------


def framing_fields(h):
    return [(k, v) for k, v in h.fields if k.lower() in ("content-length", "transfer-encoding")]


def test_post_content_length(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    body = wd.data(300000, 7)
    c.send(ht.get(o.addr, "/post", [("Host", o.text), ("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))], method="POST", body=body))
    r = c.response(timeout=20)
    check(r.status == 200, "status %d" % r.status)
    check(r.body == b"POST /post\n" + body, "echoed body differs (%d bytes)" % len(r.body))
    req = o.requests()[0]
    check(req.body == body, "origin got %d body bytes, not the %d sent" % (len(req.body), len(body)))
    check(framing_fields(req.head) == [("Content-Length", str(len(body)))], "framing %r" % framing_fields(req.head))
    rest = [kv for kv in req.head.fields if kv[0].lower() not in ("content-length",)]
    check(rest == [("Host", o.text), ("Content-Type", "application/octet-stream"), ("Via", "1.1 warpd")], "fields %r" % req.head.fields)
    o.check_clean()


def test_post_chunked_with_trailers(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    pieces = [b"Wiki", b"pedia ", wd.data(70000, 3), b"x"]
    body = ht.chunk(pieces[0], b";ext=1") + ht.chunk(pieces[1], b' ; quoted="a;b"') + ht.chunk(pieces[2]) + ht.chunk(pieces[3], b";e")
    body += b"0;last=1\r\nX-Trailer: t1\r\nX-Sum: abc\r\n\r\n"
    c.send(ht.get(o.addr, "/chunked", [("Host", o.text), ("Transfer-Encoding", "chunked"), ("Trailer", "X-Trailer, X-Sum")], method="POST", body=body))
    r = c.response(timeout=20)
    check(r.status == 200, "status %d" % r.status)
    req = o.requests()[0]
    check(req.framing == "chunked", "origin framing %s" % req.framing)
    check(req.body == b"".join(pieces), "origin body differs (%d bytes)" % len(req.body))
    check(req.chunked.exts == [], "chunk extensions forwarded: %r" % req.chunked.exts)
    check(req.chunked.trailers == [("X-Trailer", "t1"), ("X-Sum", "abc")], "trailers %r" % req.chunked.trailers)
    check(framing_fields(req.head) == [("Transfer-Encoding", "chunked")], "framing %r" % framing_fields(req.head))
    o.check_clean()


def test_response_chunked_with_trailers(t):
    o, w, addr = setup(t)
    pieces = [b"alpha", wd.data(100000, 4), b"omega"]
    o.route("/rc", ht.act_chunked(pieces, [("X-Checksum", "42"), ("X-More", "m")]))
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/rc"))
    r = c.response(timeout=20)
    check(r.status == 200, "status %d" % r.status)
    check(r.framing == "chunked", "framing %s (%r)" % (r.framing, r.head.fields))
    check(r.body == b"".join(pieces), "body differs (%d bytes)" % len(r.body))
    check(r.chunked.trailers == [("X-Checksum", "42"), ("X-More", "m")], "trailers %r" % r.chunked.trailers)
    check(r.chunked.exts == [], "chunk extensions %r" % r.chunked.exts)
    # The same to an HTTP/1.0 client: de-chunked, trailers dropped, close.
    c2 = ht.Client(t, addr)
    c2.send(ht.get(o.addr, "/rc", version="1.0"))
    r = c2.response(timeout=20)
    check(r.framing == "close", "1.0 client got framing %s: %r" % (r.framing, r.head.fields))
    check(r.body == b"".join(pieces), "1.0 body differs (%d bytes)" % len(r.body))
    check(b"X-Checksum" not in r.body, "trailer leaked into the 1.0 body")
    o.check_clean()


def test_close_delimited_response(t):
    o, w, addr = setup(t)
    body = wd.data(200000, 5)
    o.route("/cd", ht.act_close_delimited(body))
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/cd"))
    r = c.response(timeout=20)
    check(r.status == 200, "status %d" % r.status)
    check(r.framing == "chunked", "1.1 client: framing %s, expected chunked (%r)" % (r.framing, r.head.fields))
    check(r.body == body, "1.1 body differs (%d bytes)" % len(r.body))
    # The client connection survives: it was re-framed.
    c.send(ht.get(o.addr, "/after"))
    check(c.response().body == b"GET /after\n", "no second answer after a re-chunked response")
    c2 = ht.Client(t, addr)
    c2.send(ht.get(o.addr, "/cd", version="1.0"))
    r = c2.response(timeout=20)
    check(r.framing == "close", "1.0 client: framing %s (%r)" % (r.framing, r.head.fields))
    check(r.body == body, "1.0 body differs (%d bytes)" % len(r.body))
    check("close" in r.head.tokens("Connection"), "1.0 close-delimited answer without Connection: close: %r" % r.head.fields)
    o.check_clean()


def test_big_download_64mib(t):
    size = 64 * MIB
    act, payload = ht.act_big(size, 11)
    want = hashlib.sha256(payload).hexdigest()
    del payload
    o, w, addr = setup(t)
    o.route("/big", act)
    c = ht.Client(t, addr, timeout=40)
    c.send(ht.get(o.addr, "/big"))
    h = hashlib.sha256()
    n = [0]

    def sink(b):
        h.update(b)
        n[0] += len(b)

    r = c.response(timeout=40, sink=sink)
    check(r.status == 200, "status %d" % r.status)
    check(n[0] == size, "got %d bytes of %d" % (n[0], size))
    check(h.hexdigest() == want, "sha256 differs")
    # The connection is still usable.
    c.send(ht.get(o.addr, "/small"))
    check(c.response().body == b"GET /small\n", "no answer after the big one")
    o.check_clean()


def streaming(t, chunked):
    o, w, addr = setup(t)
    gate = threading.Event()
    pieces = [b"first-piece", b"second", b"third", b"last"]
    o.route("/s", ht.act_stream(pieces, gate, chunked=chunked))
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/s"))
    head = c.rd.read_until(b"\r\n\r\n", timeout=5)
    check(b" 200 " in head.split(b"\r\n")[0], "head %r" % head[:80])
    first = b"first-piece"
    want = ht.chunk(first) if chunked else first
    # The first piece arrives while the origin waits for us.
    got = c.rd.read_exact(len(want), timeout=5)
    check(got == want, "first bytes %r, expected %r" % (got, want))
    check(not hasattr(gate, "last_sent"), "the origin already sent the rest")
    gate.set()
    rest = c.rd.read_until(b"0\r\n\r\n", timeout=10) if chunked else c.rd.read_exact(len(b"secondthirdlast"), timeout=10)
    check(b"last" in rest, "rest %r" % rest)
    check(not gate.timed_out, "origin timed out waiting")
    o.check_clean()


def test_streaming_chunked_response(t):
    streaming(t, True)


def test_streaming_length_response(t):
    streaming(t, False)


def test_expect_100_continue(t):
    o, w, addr = setup(t)
    o.route("/up", ht.act_continue())
    c = ht.Client(t, addr)
    body = b"x" * 5000
    c.send(ht.get(o.addr, "/up", [("Host", o.text), ("Expect", "100-continue"), ("Content-Length", str(len(body)))], method="PUT"))
    # The 100 comes from the origin before we send any body byte.
    head = c.rd.read_until(b"\r\n\r\n", timeout=5)
    check(head.startswith(b"HTTP/1.1 100"), "expected 100 Continue first, got %r" % head[:80])
    req = o.requests(complete=False)[0]
    check(req.header("Expect") == "100-continue", "Expect not forwarded: %r" % req.head.fields)
    c.send(body)
    r = c.response()
    check(r.status == 200, "status %d" % r.status)
    check(r.body == b"PUT /up\n" + body, "body %r" % r.body[:40])
    o.check_clean()


def test_head_204_304_no_body(t):
    o, w, addr = setup(t)
    o.route("/head", ht.act_no_body(200, 1234))
    o.route("/204", ht.act_no_body(204, 0))
    o.route("/304", ht.act_no_body(304, 555))
    c = ht.Client(t, addr)
    # All three on one connection: any stray body byte breaks the next answer.
    c.send(ht.get(o.addr, "/head", method="HEAD"))
    r = c.response("HEAD")
    check(r.status == 200 and r.header("Content-Length") == "1234", "HEAD: %r" % r)
    c.send(ht.get(o.addr, "/204"))
    r = c.response()
    check(r.status == 204, "204: %r" % r)
    check(not r.head.has("Transfer-Encoding"), "204 with Transfer-Encoding: %r" % r.head.fields)
    c.send(ht.get(o.addr, "/304", [("Host", o.text), ("If-None-Match", '"x"')]))
    r = c.response()
    check(r.status == 304 and r.header("Content-Length") == "555", "304: %r" % r)
    c.send(ht.get(o.addr, "/end"))
    r = c.response()
    check(r.body == b"GET /end\n", "after HEAD/204/304: %r" % r)
    check(o.per_conn() == [4], "origin connections carried %r requests" % o.per_conn())
    o.check_clean()


def test_interim_responses_to_11_only(t):
    o, w, addr = setup(t)
    early = b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
    o.route("/i", ht.act_interim([b"HTTP/1.1 100 Continue\r\n\r\n", early]))
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/i", [("Host", o.text), ("Content-Length", "2")], method="POST", body=b"ab"))
    r = c.response()
    check(r.status == 200 and r.body == b"POST /i\nab", "1.1 answer %r" % r)
    got = [h.start for h in r.interim]
    check(got == [b"HTTP/1.1 100 Continue", b"HTTP/1.1 103 Early Hints"], "1.1 client got interim %r" % got)
    check(r.interim[1].get("Link") == "</s.css>; rel=preload", "103 fields %r" % r.interim[1].fields)
    # An HTTP/1.0 client never gets a 1xx.
    c10 = ht.Client(t, addr)
    c10.send(ht.get(o.addr, "/i", [("Host", o.text), ("Content-Length", "2")], method="POST", body=b"ab", version="1.0"))
    head = c10.rd.read_until(b"\r\n\r\n", timeout=5)
    check(head.startswith(b"HTTP/1.1 200"), "1.0 client got %r first" % head[:60])
    o.check_clean()


# ---- keep-alive, pipelining, reuse ---------------------------------------------------


def test_pipelined_requests_in_order(t):
    o, w, addr = setup(t)
    o.route("/slow", ht.act_stream([b"slow-body"], threading.Event(), chunked=False, gate_timeout=0.3))
    c = ht.Client(t, addr)
    reqs = [ht.get(o.addr, "/slow"), ht.get(o.addr, "/2"), ht.get(o.addr, "/3", method="POST", headers=[("Host", o.text), ("Content-Length", "3")], body=b"abc"), ht.get(o.addr, "/4")]
    c.send(b"".join(reqs))
    bodies = [c.response().body for _ in reqs]
    check(bodies == [b"slow-body", b"GET /2\n", b"POST /3\nabc", b"GET /4\n"], "answers %r" % bodies)
    check([r.target for r in o.requests()] == ["/slow", "/2", "/3", "/4"], "origin order %r" % [r.target for r in o.requests()])
    c.expect_open()
    o.check_clean()


@wd.timeout(60)
def test_pipelined_error_waits_for_previous_answer(t):
    """A bad request that arrives once warpd is done with the exchange before
    it but still holds the end of its answer (the client has not read yet):
    the error answer comes after that answer, which arrives whole, instead of
    replacing what was still queued."""
    o, w, addr = setup(t)
    size = 4 * MIB  # more than the socket buffers take, while nobody reads
    act, payload = ht.act_big(size, 11)
    o.route("/big", act)
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/big"))
    # The access line says the exchange is over at warpd's end; if the
    # buffers took everything before, the order is still checked.
    try:
        wd.wait_until(lambda: ht.access(w), 3, "the access line of /big")
    except wd.Fail:
        pass
    c.send(b"GET /not-absolute HTTP/1.1\r\nHost: x\r\n\r\n")
    digest = hashlib.sha256()
    r = c.response(timeout=30, sink=digest.update)
    check(r.status == 200 and digest.digest() == hashlib.sha256(payload).digest(), "the big answer was damaged: %r" % r)
    ht.expect_error(c, 400)
    o.check_clean()


def test_pipelined_head_then_get(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/hd", method="HEAD") + ht.get(o.addr, "/gt"))
    r1 = c.response("HEAD")
    check(r1.status == 200 and r1.body == b"", "HEAD answer %r" % r1)
    check(r1.header("Content-Length") == str(len(b"HEAD /hd\n")), "HEAD Content-Length %r" % r1.header("Content-Length"))
    r2 = c.response()
    check(r2.body == b"GET /gt\n", "GET after HEAD: %r" % r2)
    c.expect_open()
    o.check_clean()


def test_keepalive_http11(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    for i in range(5):
        c.send(ht.get(o.addr, "/k%d" % i))
        r = c.response()
        check(r.body == b"GET /k%d\n" % i, "request %d: %r" % (i, r))
        check("close" not in r.head.tokens("Connection"), "1.1 answer %d says close" % i)
    c.expect_open()
    # Connection: close from a 1.1 client: answered with close, then closed.
    cc = ht.Client(t, addr)
    cc.send(ht.get(o.addr, "/cl", [("Host", o.text), ("Connection", "close")]))
    r = cc.response()
    check("close" in r.head.tokens("Connection"), "close answer without Connection: close")
    cc.expect_closed(5)
    # The close stayed on the client side: upstream was pooled all along.
    check(o.per_conn() == [6], "origin connections carried %r" % o.per_conn())
    o.check_clean()


def test_http10_keepalive_only_when_asked(t):
    """Issue 3: keep-alive with HTTP/1.0 clients only when they ask. Without
    the token the answer carries Connection: close and the connection ends;
    with it the answer says keep-alive (a 1.0 client needs to be told) and a
    second request is served on the same connection. Neither token goes
    upstream."""
    o, w, addr = setup(t)
    plain = ht.Client(t, addr)
    plain.send(ht.get(o.addr, "/plain", [("Host", o.text)], version="1.0"))
    r = plain.response()
    check(r.body == b"GET /plain\n", "1.0 answer %r" % r)
    check("close" in r.head.tokens("Connection"), "1.0 without keep-alive: no Connection: close: %r" % r.head.fields)
    plain.expect_closed(5)

    c10 = ht.Client(t, addr)
    for path in ("/ten", "/again"):
        c10.send(ht.get(o.addr, path, [("Host", o.text), ("Connection", "keep-alive")], version="1.0"))
        r = c10.response()
        check(r.body == ("GET %s\n" % path).encode(), "1.0 keep-alive answer %r" % r)
        check("keep-alive" in r.head.tokens("Connection"), "1.0 keep-alive answer without Connection: keep-alive: %r" % r.head.fields)
        check(r.head.has("Content-Length"), "1.0 keep-alive answer not framed by Content-Length: %r" % r.head.fields)
    for req in o.requests():
        h = req.head
        check(not h.has("Connection") and not h.has("Keep-Alive"), "keep-alive forwarded upstream: %r" % h.fields)


def test_keepalive_timeout(t):
    o, w, addr = setup(t, extra="keepalive_timeout 1s")
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/a"))
    c.response()
    t0 = time.monotonic()
    c.expect_closed(5)
    took = time.monotonic() - t0
    check(0.7 < took < 3.5, "idle client closed after %.1fs with keepalive_timeout 1s" % took)


def test_keepalive_off(t):
    o, w, addr = setup(t, extra="keepalive_timeout 0")
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/a"))
    r = c.response()
    check(r.body == b"GET /a\n", "answer %r" % r)
    check("close" in r.head.tokens("Connection"), "keepalive_timeout 0: no Connection: close")
    c.expect_closed(5)


def test_upstream_reuse_across_clients(t):
    o, w, addr = setup(t)
    for i in range(4):
        c = ht.Client(t, addr)
        c.send(ht.get(o.addr, "/u%d" % i))
        check(c.response().body == b"GET /u%d\n" % i, "request %d" % i)
        c.sock.close()
    check(o.per_conn() == [4], "origin connections carried %r requests, expected [4]" % o.per_conn())
    # Another host:port key gets its own connection.
    o2 = ht.Origin(t)
    c = ht.Client(t, addr)
    c.send(ht.get(o2.addr, "/other") + ht.get(o.addr, "/u4"))
    check(c.response().body == b"GET /other\n", "other origin")
    check(c.response().body == b"GET /u4\n", "back to the first")
    check(o.per_conn() == [5] and o2.per_conn() == [1], "per host: %r %r" % (o.per_conn(), o2.per_conn()))
    line = ht.wait_access(w, lambda a: a["target"].endswith("/u4"))
    check(line["status"] == "200" and line["upstream"] == o.text, "access line %s" % line["line"])
    check(line["method"] == "GET" and int(line["outb"]) > 0 and int(line["inb"]) > 0, "access line %s" % line["line"])
    o.check_clean()


def test_upstream_keepalive_zero(t):
    o, w, addr = setup(t, extra="upstream_keepalive 0")
    c = ht.Client(t, addr)
    for i in range(3):
        c.send(ht.get(o.addr, "/n%d" % i))
        check(c.response().body == b"GET /n%d\n" % i, "request %d" % i)
    check(o.per_conn() == [1, 1, 1], "upstream_keepalive 0: per connection %r" % o.per_conn())


def concurrent_gets(t, addr, o, path, n):
    """n clients each GET path at once; returns their answers' bodies."""
    out = [None] * n
    clients = [ht.Client(t, addr) for _ in range(n)]

    def one(i):
        try:
            clients[i].send(ht.get(o.addr, path))
            out[i] = clients[i].response().body
        except Exception as e:  # reported through out
            out[i] = repr(e)

    ths = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(15)
    return out


def act_barrier(barrier):
    """Answers only once barrier.parties requests wait at the origin."""

    def a(x):
        x.read_body()
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass
        x.respond(200, ht.default_body(x.req))

    return a


def test_upstream_keepalive_cap(t):
    o, w, addr = setup(t, extra="upstream_keepalive 2")
    o.route("/hold", act_barrier(threading.Barrier(4, timeout=5)))
    bodies = concurrent_gets(t, addr, o, "/hold", 4)
    check(bodies == [b"GET /hold\n"] * 4, "answers %r" % bodies)
    check(o.accepted == 4, "%d upstream connections for 4 concurrent requests" % o.accepted)
    # At most 2 idle connections are kept: warpd closes the others.
    wd.wait_until(lambda: sum(c.closed for c in o.conns) >= 2, 3, "2 upstream connections closed")
    time.sleep(0.3)
    check(sum(c.closed for c in o.conns) == 2, "closed upstream connections: %d, expected 2" % sum(c.closed for c in o.conns))
    c = ht.Client(t, addr)
    for i in range(3):
        c.send(ht.get(o.addr, "/again%d" % i))
        check(c.response().status == 200, "request %d" % i)
    check(o.accepted == 4, "pooled connections not used: %d accepted" % o.accepted)


def test_upstream_keepalive_timeout(t):
    o, w, addr = setup(t, extra="upstream_keepalive_timeout 1s")
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/a"))
    check(c.response().status == 200, "first request")
    t0 = time.monotonic()
    o.wait_closed(0, 4)
    took = time.monotonic() - t0
    check(0.6 < took < 3.5, "idle upstream closed after %.1fs with upstream_keepalive_timeout 1s" % took)
    c.send(ht.get(o.addr, "/b"))
    check(c.response().status == 200, "request after the pool expired")
    check(o.per_conn() == [1, 1], "per connection %r" % o.per_conn())


def test_retry_once_on_dead_pooled_connection(t):
    o, w, addr = setup(t)
    o.route("/r", ht.act_fail_when_reused())
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/r"))
    check(c.response().body == b"GET /r\n", "first answer")
    c.send(ht.get(o.addr, "/r"))
    r = c.response()
    check(r.status == 200 and r.body == b"GET /r\n", "retried request answered %r" % r)
    # conn 0: two requests (the second unanswered), conn 1: the retry.
    reqs = [(x.conn.index, x.index) for x in o.requests(complete=False)]
    check(reqs == [(0, 0), (0, 1), (1, 0)], "origin saw (conn, index) %r" % reqs)
    check(o.requests(complete=False)[1].head.raw == o.requests(complete=False)[2].head.raw, "retry sent a different head")
    o.check_clean()


def test_pooled_connection_closed_by_origin(t):
    o, w, addr = setup(t)
    o.route("/c", ht.act_close_after_answer())
    c = ht.Client(t, addr)
    # Each request after the first goes out on a pooled connection the
    # origin is closing: each needs its own retry, on one client connection.
    for i in range(3):
        c.send(ht.get(o.addr, "/c"))
        r = c.response()
        check(r.status == 200 and r.body == b"GET /c\n", "request %d of 3 on one client connection: %r" % (i + 1, r))
    check(o.per_conn() == [1, 1, 1], "per connection %r" % o.per_conn())
    o.check_clean()


def test_post_not_retried(t):
    """A non-idempotent request is never sent twice (RFC 9110 9.2.2): when the
    reused connection dies under a POST, the client gets 502 and the origin
    saw the POST once."""
    o, w, addr = setup(t)
    o.route("/r", ht.act_fail_when_reused())
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/r"))
    r = c.response()
    check(r.status == 200, "first request %r" % r)
    c.send(ht.get(o.addr, "/r", method="POST"))
    ht.expect_error(c, 502, method="POST")
    posts = [q for q in o.requests(complete=False) if q.method == "POST"]
    check(len(posts) == 1, "the origin saw the POST %d times" % len(posts))


def test_access_bytes_error_and_tunnel(t):
    """Access lines count what was sent: an error answer's bytes, and a
    tunnel's 200 once (plus what the relay carried)."""
    e = ht.RecordingEcho(t)
    w, addr = ht.start_http(t, extra="connect_ports %d" % (e.port + 1 if e.port < 65535 else 1))
    c = ht.Client(t, addr)
    target = "127.0.0.1:%d" % e.port
    c.send(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target.encode(), target.encode()))
    r = c.response("CONNECT")
    check(r.status == 403, "CONNECT to a closed port: %r" % r)
    sent = len(r.head.raw) + len(r.body)
    line = ht.wait_access(w, lambda a: a["method"] == "CONNECT" and a["status"] == "403")
    check(int(line["outb"]) == sent, "error answer out=%s, client got %d bytes" % (line["outb"], sent))

    w2, addr2 = ht.start_http(t, extra="connect_ports any")
    c2 = ht.Client(t, addr2)
    c2.send(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target.encode(), target.encode()))
    head = c2.rd.read_until(b"\r\n\r\n", timeout=5)
    check(head == b"HTTP/1.1 200 Connection established\r\n\r\n", "CONNECT answer %r" % head)
    c2.send(b"ping")
    check(c2.rd.read_exact(4, timeout=5) == b"ping", "tunnel echo")
    c2.sock.shutdown(socket.SHUT_WR)
    c2.expect_closed(5)
    line = ht.wait_access(w2, lambda a: a["method"] == "CONNECT" and a["status"] == "200")
    check(int(line["outb"]) == len(head) + 4, "tunnel out=%s, expected %d (200 once + 4)" % (line["outb"], len(head) + 4))


# ---- CONNECT and Upgrade ---------------------------------------------------------------


def test_connect_early_data(t):
    e = ht.RecordingEcho(t)
    w, addr = ht.start_http(t, extra="connect_ports any")
    c = ht.Client(t, addr)
    target = "127.0.0.1:%d" % e.port
    c.send(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\nEARLY-DATA" % (target.encode(), target.encode()))
    head = c.rd.read_until(b"\r\n\r\n", timeout=5)
    check(head == b"HTTP/1.1 200 Connection established\r\n\r\n", "CONNECT answer %r" % head)
    check(c.rd.read_exact(10, timeout=5) == b"EARLY-DATA", "early data not echoed first")
    blob = wd.data(500000, 9)
    th = threading.Thread(target=c.send, args=(blob,))
    th.start()
    back = c.rd.read_exact(len(blob), timeout=15)
    th.join(10)
    check(back == blob, "tunnel echo differs")
    c.sock.shutdown(socket.SHUT_WR)
    c.expect_closed(5)
    check(bytes(e.raw[0]) == b"EARLY-DATA" + blob, "target received %d bytes, not early data + blob" % len(e.raw[0]))
    line = ht.wait_access(w, lambda a: a["method"] == "CONNECT")
    check(line["status"] == "200", "CONNECT access line %s" % line["line"])


def test_connect_by_name(t):
    dns = ht.FakeDNS(t)
    e = ht.RecordingEcho(t)
    w, addr = ht.start_http(t, extra="connect_ports any", dns=dns)
    c = ht.Client(t, addr)
    c.send(b"CONNECT origin.test:%d HTTP/1.1\r\nHost: origin.test:%d\r\n\r\nhi" % (e.port, e.port))
    head = c.rd.read_until(b"\r\n\r\n", timeout=5)
    check(head.startswith(b"HTTP/1.1 200"), "CONNECT by name: %r" % head)
    check(c.rd.read_exact(2, timeout=5) == b"hi", "no echo through the tunnel")
    check(dns.asked("origin.test"), "the fake DNS was not asked")


def test_connect_port_list(t):
    e = ht.RecordingEcho(t)
    w, addr = ht.start_http(t, extra="connect_ports 443 %d-%d" % (e.port, e.port))
    c = ht.Client(t, addr)
    c.send(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (e.port, e.port))
    head = c.rd.read_until(b"\r\n\r\n", timeout=5)
    check(head.startswith(b"HTTP/1.1 200"), "CONNECT to a listed port: %r" % head)
    c.send(b"ping")
    check(c.rd.read_exact(4, timeout=5) == b"ping", "no echo")


def test_upgrade_websocket(t):
    o, w, addr = setup(t)
    o.route("/ws", ht.act_switch())
    c = ht.Client(t, addr)
    hs = [("Host", o.text), ("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")]
    c.send(ht.get(o.addr, "/ws", hs))
    r = c.response()
    check(r.status == 101, "status %d" % r.status)
    check(r.header("Upgrade", "").lower() == "websocket", "101 without Upgrade: %r" % r.head.fields)
    check("upgrade" in r.head.tokens("Connection"), "101 without Connection: upgrade: %r" % r.head.fields)
    req = o.requests(complete=False)[0]
    check(req.header("Upgrade") == "websocket", "Upgrade not forwarded: %r" % req.head.fields)
    check("upgrade" in req.head.tokens("Connection"), "Connection: upgrade not forwarded: %r" % req.head.fields)
    check(req.header("Sec-WebSocket-Key") == "dGhlIHNhbXBsZSBub25jZQ==", "key lost")
    frames = b"\x81\x85" + bytes(range(4)) + b"hello" + bytes(range(256)) * 50
    c.send(frames)
    back = c.rd.read_exact(len(frames), timeout=10)
    check(back == frames, "raw bytes after 101 differ")
    c.sock.shutdown(socket.SHUT_WR)
    c.expect_closed(5)
    check(o.conns[0].raw.endswith(frames), "origin did not get the raw bytes after the head")


def test_upgrade_refused_stays_http(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    hs = [("Host", o.text), ("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")]
    c.send(ht.get(o.addr, "/no-ws", hs))
    r = c.response()
    check(r.status == 200 and r.body == b"GET /no-ws\n", "answer %r" % r)
    # No switch happened: the connection still speaks HTTP.
    c.send(ht.get(o.addr, "/next"))
    r = c.response()
    check(r.status == 200 and r.body == b"GET /next\n", "next answer %r" % r)
    check([x.target for x in o.requests()] == ["/no-ws", "/next"], "origin saw %r" % [x.target for x in o.requests()])
    o.check_clean()


# ---- addresses and names -------------------------------------------------------------


def test_ipv6_origin(t):
    if not wd.have_ipv6():
        raise wd.Skip("no IPv6 loopback")
    o = ht.Origin(t, host="::1")
    w, addr = ht.start_http(t)
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "http://[::1]:%d/six" % o.port, [("Host", "[::1]:%d" % o.port)]))
    r = c.response()
    check(r.status == 200 and r.body == b"GET /six\n", "answer %r" % r)
    req = o.requests()[0]
    check(req.header("Host") == "[::1]:%d" % o.port, "Host %r" % req.header("Host"))
    check(req.conn.peer[0] == "::1", "origin connection from %r" % (req.conn.peer,))
    o.check_clean()


def test_names_through_fake_dns(t):
    dns = ht.FakeDNS(t)
    o, w, addr = setup(t, dns=dns)
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "http://origin.test:%d/n" % o.port, [("Host", "origin.test:%d" % o.port)]))
    r = c.response()
    check(r.status == 200 and r.body == b"GET /n\n", "answer %r" % r)
    check(o.requests()[0].header("Host") == "origin.test:%d" % o.port, "Host %r" % o.requests()[0].header("Host"))
    check(dns.asked("origin.test"), "the fake DNS was not asked: %r" % dns.queries)
    # Case does not matter, the cache answers the repeat.
    n = len(dns.queries)
    c.send(ht.request("GET", "http://ORIGIN.test:%d/n2" % o.port, [("Host", "ORIGIN.test:%d" % o.port)]))
    r = c.response()
    check(r.status == 200, "upper-case name: %r" % r)
    check(o.requests()[1].header("Host") == "ORIGIN.test:%d" % o.port, "Host spelling not kept: %r" % o.requests()[1].header("Host"))
    check(len(dns.queries) == n, "a cached name was asked again: %r" % dns.queries[n:])
    o.check_clean()


def test_dns_every_address_tried(t):
    if not wd.have_ipv6():
        raise wd.Skip("no IPv6 loopback")
    dns = ht.FakeDNS(t)
    o4 = ht.Origin(t)
    o6 = ht.Origin(t, host="::1")
    # v4only.test has 127.0.0.1 and ::1 but only 127.0.0.1 serves its port:
    # whichever family warpd tries first, the other must be tried as well.
    dns.add("v4only.test", a=["127.0.0.1"], aaaa=["::1"])
    w, addr = ht.start_http(t, dns=dns)
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "http://v4only.test:%d/a" % o4.port, [("Host", "v4only.test:%d" % o4.port)]))
    r = c.response()
    check(r.status == 200 and r.body == b"GET /a\n", "v4 origin via a name with AAAA too: %r" % r)
    c.send(ht.request("GET", "http://origin6.test:%d/b" % o6.port, [("Host", "origin6.test:%d" % o6.port)]))
    r = c.response()
    check(r.status == 200 and r.body == b"GET /b\n", "v6-only name: %r" % r)


# ---- byte-at-a-time ------------------------------------------------------------


@wd.timeout(60)
def test_bytewise_head_and_chunks(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    body = ht.chunk(b"Wiki", b";a=b") + ht.chunk(b"pedia") + b"0\r\nX-T: 1\r\n\r\n"
    req = ht.get(o.addr, "/bw?x=1", [("Host", o.text), ("X-Long", "v" * 40), ("Transfer-Encoding", "chunked")], method="POST", body=body)
    c.send_bytewise(req)
    r = c.response()
    check(r.status == 200 and r.body == b"POST /bw?x=1\nWikipedia", "answer %r" % r)
    got = o.requests()[0]
    check(got.body == b"Wikipedia" and got.chunked.trailers == [("X-T", "1")], "origin body %r trailers %r" % (got.body, got.chunked.trailers))
    # A length body and a second head, byte-wise on the same connection.
    c.send_bytewise(ht.get(o.addr, "/bw2", [("Host", o.text), ("Content-Length", "5")], method="POST", body=b"12345"))
    r = c.response()
    check(r.body == b"POST /bw2\n12345", "second answer %r" % r)
    o.check_clean()


def test_long_target_accepted(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    path = "/" + "a" * 7900 + "?q=" + "b" * 50
    c.send(ht.get(o.addr, path))
    r = c.response()
    check(r.status == 200, "8000-byte target: %d" % r.status)
    check(o.requests()[0].target == path, "long path changed")


def test_trace_max_forwards_zero_reflected(t):
    """TRACE with Max-Forwards: 0 ends at warpd (RFC 9110 7.6.2): a 200
    message/http with the request as received, less its credentials and
    cookies; the origin sees nothing."""
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    target = "http://%s/tr" % o.text
    fields = [("Host", o.text), ("Max-Forwards", "0"), ("Cookie", "secret=1"), ("X-Keep", "yes")]
    c.send(ht.request("TRACE", target, fields))
    r = c.response(method="TRACE")
    check(r.status == 200, "TRACE Max-Forwards 0: %d" % r.status)
    check(r.head.get("Content-Type") == "message/http", "Content-Type %r" % r.head.get("Content-Type"))
    want = ("TRACE %s HTTP/1.1\r\nHost: %s\r\nMax-Forwards: 0\r\nX-Keep: yes\r\n\r\n" % (target, o.text)).encode()
    check(r.body == want, "reflected %r, want %r" % (r.body, want))
    c.expect_closed(5)
    check(o.accepted == 0, "the origin got a connection")


def test_options_max_forwards_zero_answered(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    c.send(ht.request("OPTIONS", "http://%s/" % o.text, [("Host", o.text), ("Max-Forwards", "0")]))
    r = c.response(method="OPTIONS")
    check(r.status == 200 and r.body == b"", "OPTIONS Max-Forwards 0: %d %r" % (r.status, r.body))
    check("connect" in r.head.tokens("Allow") and "trace" in r.head.tokens("Allow"), "Allow %r" % r.head.get("Allow"))
    check(o.accepted == 0, "the origin got a connection")


def test_max_forwards_decremented(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    c.send(ht.request("TRACE", "http://%s/dec" % o.text, [("Host", o.text), ("Max-Forwards", "2")]))
    check(c.response(method="TRACE").status == 200, "TRACE Max-Forwards 2 not forwarded")
    c.send(ht.request("OPTIONS", "http://%s/dec" % o.text, [("Host", o.text), ("Max-Forwards", "5")]))
    check(c.response(method="OPTIONS").status == 200, "OPTIONS not forwarded")
    c.send(ht.request("GET", "http://%s/dec" % o.text, [("Host", o.text), ("Max-Forwards", "0")]))
    check(c.response().status == 200, "GET with Max-Forwards 0 not forwarded")
    got = [(q.method, q.header("Max-Forwards")) for q in o.requests()]
    check(got == [("TRACE", "1"), ("OPTIONS", "4"), ("GET", "0")], "origin saw %r" % got)


def test_max_forwards_bad_400(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    c.send(ht.request("OPTIONS", "http://%s/" % o.text, [("Host", o.text), ("Max-Forwards", "two")]))
    ht.check_error(c.response(method="OPTIONS"), 400)
    check(o.accepted == 0, "the origin got a connection")


def test_access_log_fields(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    body = b"z" * 100
    c.send(ht.get(o.addr, "/log?a=1", [("Host", o.text), ("Content-Length", "100")], method="POST", body=body))
    r = c.response()
    a = ht.wait_access(w, lambda a: a["target"] == "http://%s/log?a=1" % o.text)
    check(a["method"] == "POST" and a["status"] == "200", "access line %s" % a["line"])
    check(a["client"] == wd.addr_text(c.sock.getsockname()[:2]), "client field %s" % a["client"])
    check(a["upstream"] == o.text, "upstream field %s" % a["upstream"])
    check(int(a["inb"]) >= 100 and int(a["outb"]) >= len(r.body), "byte counts %s" % a["line"])
    check(float(a["ttfb"]) <= float(a["time"]), "ttfb > time: %s" % a["line"])
    c.sock.close()


def test_access_log_pooled_upstream_address(t):
    """A request on a pooled upstream connection logs the address that
    connection was made to, like the first request, not the name asked for."""
    dns = ht.FakeDNS(t)
    o, w, addr = setup(t, dns=dns)
    c = ht.Client(t, addr)
    for path in ("/p1", "/p2"):
        c.send(ht.request("GET", "http://origin.test:%d%s" % (o.port, path), [("Host", "origin.test:%d" % o.port)]))
        check(c.response().status == 200, "request %s failed" % path)
    check(o.accepted == 1, "the second request did not reuse the connection (%d)" % o.accepted)
    for path in ("/p1", "/p2"):
        a = ht.wait_access(w, lambda a, path=path: a["target"].endswith(path))
        check(a["upstream"] == o.text, "%s: upstream=%s, expected %s" % (path, a["upstream"], o.text))


def test_access_log_file(t):
    o = ht.Origin(t)
    log = t.path("access.log")
    w, addr = ht.start_http(t, extra="access_log %s" % log)
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/file-log", [("Host", o.text), ("Connection", "close")]))
    check(c.response().status == 200, "request failed")
    line = wd.wait_file_line(log, r'target="http://[^"]*/file-log"')
    m = ht.HTTP_ACCESS_RE.search(line)
    check(m is not None, "access line format: %r" % line)
    check(m.group("status") == "200" and m.group("method") == "GET", "access line %r" % line)
    check(not ht.access(w), "access lines still on stderr with access_log set")



if __name__ == "__main__":
    wd.main(globals())
