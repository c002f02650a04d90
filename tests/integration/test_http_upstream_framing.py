"""Broken chunked framing from the upstream: when nothing of the response
has reached the client yet (the invalid chunk came in the same read as the
head, which is only queued once its body bytes are decoded) the client gets
a 502 like for any other broken answer; once the head went out, the only
honest signal left is closing the connection without the last chunk."""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httptest as ht  # noqa: E402
import wdtest as wd  # noqa: E402
from wdtest import check  # noqa: E402

HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


def setup(t):
    o = ht.Origin(t)
    w, addr = ht.start_http(t, mode="reverse", upstream=o.text)
    return o, w, addr


def bad_with_head(t, body, version="1.1"):
    """The head and a broken body in one write: a 502, nothing leaked."""
    o, w, addr = setup(t)
    o.route("/bad", ht.act_raw(HEAD + body, close=False))
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "/bad", [("Host", "h")], version=version))
    r = ht.expect_error(c, 502)
    check(b"hello" not in r.body, "the broken response leaked: %r" % r.body)
    a = ht.wait_access(w, lambda a: a["target"] == "/bad")
    check(a["status"] == "502", "access line %s" % a["line"])


def test_bad_size_with_head_502(t):
    bad_with_head(t, b"zz\r\nhello\r\n0\r\n\r\n")


def test_bad_size_after_a_chunk_with_head_502(t):
    bad_with_head(t, b"5\r\nhello\r\nzz\r\n0\r\n\r\n")


def test_bad_chunk_end_with_head_502(t):
    bad_with_head(t, b"5\r\nhelloXX0\r\n\r\n")


def test_bad_size_with_head_http10_client_502(t):
    """An HTTP/1.0 client gets the body de-chunked: the same 502."""
    bad_with_head(t, b"zz\r\n", version="1.0")


def act_bad_later(gate):
    """The head and a first chunk, then (once the test saw them, bounded) an
    invalid chunk size."""

    def a(x):
        x.read_body()
        x.send(HEAD + b"5\r\nhello\r\n")
        gate.timed_out = not gate.wait(10)
        x.send(b"zz\r\n")

    return a


def test_bad_size_after_head_went_out_closes(t):
    o, w, addr = setup(t)
    gate = threading.Event()
    o.route("/later", act_bad_later(gate))
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "/later", [("Host", "h")]))
    head = ht.read_head(c.rd, timeout=5)
    check(head.start == b"HTTP/1.1 200 OK", "head %r" % head.start)
    check(head.get("Transfer-Encoding") == "chunked", "framing %r" % head.fields)
    first = c.rd.read_exact(len(b"5\r\nhello\r\n"), timeout=5)
    check(first == b"5\r\nhello\r\n", "first chunk %r" % first)
    gate.set()
    rest = c.rd.read_to_eof(timeout=5)
    check(not gate.timed_out, "the origin was never told to go on")
    check(rest == b"", "after the head went out only a close is right, got %r" % rest[:80])
    a = ht.wait_access(w, lambda a: a["target"] == "/later")
    check(a["status"] == "200" and "malformed" in (a["close"] or ""), "access line %s" % a["line"])


if __name__ == "__main__":
    wd.main(globals())
