"""Two warpd in a row (reverse mode, the first one's upstream is the second,
both with the same limits): whatever the first accepts, the second accepts
too. Field lines and chunked trailers are written back no longer than they
were received ("a:x" stays "a:x"), in request and response heads and in
trailers of request and response bodies. The first warpd has via off, else
the second would refuse the request as a loop (508)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httptest as ht  # noqa: E402
import wdtest as wd  # noqa: E402
from wdtest import check  # noqa: E402

# 1600 trailer lines of 5 bytes: 8 002 bytes with the empty line, under
# the 8 192-byte limit of a trailer section.
TRAILERS = b"a:x\r\n" * 1600 + b"\r\n"
# One field line of exactly 8 192 bytes (the limit), without a space.
LONG = b"X:" + b"v" * 8190


def start(t, upstream, extra, name):
    """A reverse-mode warpd with its own config file; returns its address."""
    port = wd.free_port()
    path = t.path(name)
    os.rename(ht.http_config(t, port, mode="reverse", upstream=upstream, extra=extra), path)
    t.warpd(config=path, nworkers=1)
    return ("127.0.0.1", port)


def chain(t):
    """origin <- second warpd <- first warpd; returns (origin, first's address)."""
    o = ht.Origin(t)
    second = start(t, o.text, "", "second.conf")
    return o, start(t, wd.addr_text(second), "via off", "first.conf")


def test_request_trailers(t):
    o, addr = chain(t)
    c = ht.Client(t, addr)
    c.send(b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n" + TRAILERS)
    r = c.response()
    check(r.status == 200 and r.body == b"POST /up\nhello", "answer %r" % r)
    raw = o.raw()
    check(raw.endswith(b"5\r\nhello\r\n0\r\n" + TRAILERS), "the origin got %s" % ht.show(raw[-80:]))
    o.check_clean()


def test_response_trailers(t):
    o, addr = chain(t)
    o.route("/down", ht.act_raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n" + TRAILERS, close=False))
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "/down", [("Host", "h")]))
    r = c.response()
    check(r.status == 200 and r.body == b"hello", "answer %r" % r)
    check(r.chunked.trailers == [("a", "x")] * 1600, "%d trailers arrived" % len(r.chunked.trailers))
    c.expect_open()


def test_request_long_field_line(t):
    o, addr = chain(t)
    c = ht.Client(t, addr)
    c.send(b"GET /long HTTP/1.1\r\nHost: h\r\n" + LONG + b"\r\n\r\n")
    r = c.response()
    check(r.status == 200, "answer %r" % r)
    head = o.requests()[0].head.raw
    check(b"\r\n" + LONG + b"\r\n" in head, "the origin got %s" % ht.show(head[:200]))
    o.check_clean()
    # One byte more is over the limit at the first warpd already.
    c = ht.Client(t, addr)
    c.send(b"GET /long HTTP/1.1\r\nHost: h\r\n" + LONG + b"v\r\n\r\n")
    ht.expect_error(c, 431)


def test_response_long_field_line(t):
    o, addr = chain(t)
    o.route("/long", ht.act_raw(b"HTTP/1.1 200 OK\r\n" + LONG + b"\r\nContent-Length: 2\r\n\r\nok", close=False))
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "/long", [("Host", "h")]))
    r = c.response()
    check(r.status == 200 and r.body == b"ok", "answer %r" % r)
    check(r.header("X") == LONG[2:].decode(), "X has %d bytes" % len(r.header("X", "")))
    check(b"\r\n" + LONG + b"\r\n" in r.head.raw, "the client got %s" % ht.show(r.head.raw[:200]))


def test_spacing_normalised(t):
    """Whitespace after the colon becomes one SP, none stays none, trailing
    whitespace goes (also for empty values); the second warpd passes that on
    unchanged."""
    o, addr = chain(t)
    c = ht.Client(t, addr)
    c.send(b"GET /sp HTTP/1.1\r\nHost: h\r\nX-A:1\r\nX-B:\t 2 \t\r\nX-C:\r\nX-D:   \r\n\r\n")
    r = c.response()
    check(r.status == 200, "answer %r" % r)
    want = b"GET /sp HTTP/1.1\r\nHost: h\r\nX-A:1\r\nX-B: 2\r\nX-C:\r\nX-D: \r\nVia: 1.1 warpd\r\n\r\n"
    got = o.requests()[0].head.raw
    check(got == want, "origin got %s, expected %s" % (ht.show(got), ht.show(want)))


# ---- the lines warpd adds ---------------------------------------------------
# Received lines never grow, but Via, framing and Connection lines are added:
# a head that arrived just within the limits is answered by warpd itself
# (431 for a request, 502 for a response) instead of being forwarded to a
# next hop with the same limits that would refuse it.


def one(t, extra=""):
    o = ht.Origin(t)
    w, addr = ht.start_http(t, mode="reverse", upstream=o.text, extra=extra)
    return o, addr


def fields(n):
    return [("Host", "h")] + [("X-F%03d" % i, "v") for i in range(n - 1)]


def test_request_field_count_with_via(t):
    o, addr = one(t)
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "/ok", fields(94)))
    r = c.response()
    check(r.status == 200, "94 fields: %r" % r)
    check(len(o.requests()[0].head.fields) == 95, "the origin got %d fields" % len(o.requests()[0].head.fields))
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "/full", fields(100)))
    r = c.response()
    check(r.status == 431, "100 fields and a Via to add: %r" % r)
    check(len(o.requests()) == 1, "the over-full request reached the origin")


def test_request_head_size_with_via(t):
    o, addr = one(t, "max_header_size 4096")
    base = ht.request("GET", "/s", [("Host", "h"), ("X-Pad", "")])
    pad = 4096 - len(base)
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "/s", [("Host", "h"), ("X-Pad", "p" * (pad - 40))]))
    check(c.response().status == 200, "a head 40 bytes under max_header_size was refused")
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "/s", [("Host", "h"), ("X-Pad", "p" * pad)]))
    r = c.response()
    check(r.status == 431, "a head of exactly max_header_size plus a Via line: %r" % r)
    check(len(o.requests()) == 1, "the over-long request reached the origin")


def test_request_via_line_grows(t):
    o, addr = one(t)
    via = "1.1 a" + ", 1.1 b" * 1168  # a line of 8 186 bytes, 8 197 once ", 1.1 warpd" is added
    line = "Via: " + via
    check(len(line) <= 8192 and len(line) + len(", 1.1 warpd") > 8192, "test bug: line of %d" % len(line))
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "/v", [("Host", "h"), ("Via", via)]))
    r = c.response()
    check(r.status == 431, "a Via line at the limit, to be extended: %r" % r)
    check(len(o.requests()) == 0, "the request reached the origin")


def test_response_field_count_with_framing(t):
    o, addr = one(t)
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-R%03d: v\r\n" % i for i in range(100)) + b"\r\n"
    o.route("/r", ht.act_raw(head + b"body", close=True))
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "/r", [("Host", "h")]))
    r = c.response()
    check(r.status == 502, "100 response fields plus Via and framing to add: %r" % r)


if __name__ == "__main__":
    wd.main(globals())
