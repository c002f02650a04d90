"""Integration tests of warpd's HTTP error answers and of request smuggling
attempts. Every error is a small text/plain page starting "warpd: <status>"
with Connection: close, the connection then ends, and a rejected request
never reaches the origin (the fake origin records every byte it gets).
Each smuggling case of the non-strict http-parser build (see
shared/reference/http-proxy-rules.md section 3.2) is its own test."""

import os
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httptest as ht  # noqa: E402
import wdtest as wd  # noqa: E402
from wdtest import check  # noqa: E402


def setup(t, extra="", dns=None, workers=1):
    o = ht.Origin(t)
    w, addr = ht.start_http(t, workers=workers, extra=extra, dns=dns)
    return o, w, addr


def nothing_reached(o, settle=0.2):
    """The origin got no connection at all (after a short settle time)."""
    time.sleep(settle)
    check(o.accepted == 0, "the origin got %d connection(s): %s" % (o.accepted, ht.show(o.raw())))


def rejected(t, payload, status, extra="", statuses=None):
    """Sends payload (which names the origin as {AUTH}) in one write; expects
    the error answer and that nothing reached the origin."""
    o, w, addr = setup(t, extra)
    c = ht.Client(t, addr)
    c.send_quietly(payload.replace(b"{AUTH}", o.text.encode()))
    r = c.response()
    if statuses and r.status in statuses:
        status = r.status
    ht.check_error(r, status)
    c.expect_closed(5)
    nothing_reached(o)
    return o, w, r


# ---- request errors ---------------------------------------------------------


def test_malformed_head_400(t):
    rejected(t, b"GET http://{AUTH}/ HTTP/1.1\r\nHost {AUTH}\r\n\r\n", 400)


def test_garbage_request_line_400(t):
    rejected(t, b"GET\r\nHost: x\r\n\r\n", 400)


def test_cl_and_te_400(t):
    rejected(t, b"POST http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)


def test_duplicate_differing_cl_400(t):
    rejected(t, b"POST http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400)


def each_rejected(t, heads, status):
    """Each raw head (naming the origin as {AUTH}) on its own connection to
    one warpd: the error answer, then nothing at the origin."""
    o, w, addr = setup(t)
    for head in heads:
        c = ht.Client(t, addr)
        c.send_quietly(head.replace(b"{AUTH}", o.text.encode()))
        r = c.response()
        check(r.status == status, "%r: got %d, expected %d" % (head[-40:], r.status, status))
        ht.check_error(r, status)
        c.expect_closed(5)
    nothing_reached(o)


def test_invalid_cl_400(t):
    vals = (b"+5", b"-1", b"0x5", b"5 5", b"", b"99999999999999999999999")
    each_rejected(t, [b"POST http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nContent-Length: %s\r\n\r\nhello" % v for v in vals], 400)


def test_space_before_colon_400(t):
    rejected(t, b"GET http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nX-A : b\r\n\r\n", 400)


def test_obs_fold_400(t):
    rejected(t, b"GET http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nX-A: b\r\n c\r\n\r\n", 400)


def test_ctl_in_value_400(t):
    vals = (b"b\x00c", b"\x01b", b"b\x7f", b"b\x1bc", b"b\rc", b"\x00")
    each_rejected(t, [b"GET http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nX-A: %s\r\n\r\n" % v for v in vals], 400)


def test_head_too_large_431(t):
    o, w, addr = setup(t, extra="max_header_size 4k")
    c = ht.Client(t, addr)
    fields = [("X-Pad-%d" % i, "p" * 200) for i in range(30)]
    c.send_quietly(ht.get(o.addr, "/", [("Host", o.text)] + fields))
    ht.expect_error(c, 431)
    nothing_reached(o)
    # Just under the limit passes.
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/fits", [("Host", o.text)] + fields[:15]))
    r = c.response()
    check(r.status == 200, "a 3.2k head with max_header_size 4k: %d" % r.status)


def test_head_too_large_default_431(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    fields = [("X-Pad-%d" % i, "p" * 4000) for i in range(18)]  # ~72 KiB
    c.send_quietly(ht.get(o.addr, "/", [("Host", o.text)] + fields))
    ht.expect_error(c, 431)
    nothing_reached(o)


def test_target_too_long_414(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    c.send_quietly(ht.get(o.addr, "/" + "a" * 9000))
    ht.expect_error(c, 414)
    nothing_reached(o)
    # Also when the request line has not ended yet.
    c = ht.Client(t, addr)
    c.send_quietly(b"GET http://%s/%s" % (o.text.encode(), b"b" * 20000))
    ht.expect_error(c, 414)
    nothing_reached(o)


def test_http2_version_505(t):
    rejected(t, b"GET http://{AUTH}/ HTTP/2.0\r\nHost: {AUTH}\r\n\r\n", 505)


def test_unknown_method_501(t):
    rejected(t, b"BREW http://{AUTH}/pot HTTP/1.1\r\nHost: {AUTH}\r\n\r\n", 501)


def test_origin_form_in_forward_mode_400(t):
    rejected(t, b"GET /local HTTP/1.1\r\nHost: {AUTH}\r\n\r\n", 400)


def test_header_timeout_408(t):
    o, w, addr = setup(t, extra="header_timeout 1s")
    c = ht.Client(t, addr)
    t0 = time.monotonic()
    c.send(b"GET http://%s/ HTTP/1.1\r\nHost: %s\r\n" % (o.text.encode(), o.text.encode()))
    ht.expect_error(c, 408, timeout=5)
    took = time.monotonic() - t0
    check(0.7 < took < 3.5, "408 after %.1fs with header_timeout 1s" % took)
    # A trickling client gets no more time than a silent one.
    c = ht.Client(t, addr)
    t0 = time.monotonic()
    head = b"GET http://%s/ HTTP/1.1\r\nHost: %s\r\nX-Slow: " % (o.text.encode(), o.text.encode())
    c.send(head)
    sock = c.sock
    sock.settimeout(0.25)
    got = b""
    while time.monotonic() - t0 < 5 and not got:
        try:
            sock.send(b"a")
        except OSError:
            break
        try:
            got = sock.recv(4096)
        except socket.timeout:
            pass
        except OSError:
            break
    took = time.monotonic() - t0
    check(got.startswith(b"HTTP/1.1 408"), "trickling client got %r" % got[:60])
    check(took < 3.5, "trickling client answered after %.1fs" % took)
    nothing_reached(o)


def test_unknown_name_502(t):
    dns = ht.FakeDNS(t)
    o, w, addr = setup(t, dns=dns)
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "http://nx.test:%d/" % o.port, [("Host", "nx.test:%d" % o.port)]))
    r = ht.expect_error(c, 502)
    check(b"nx.test" in r.body and b"resolve" in r.body, "502 body does not say the name did not resolve: %r" % r.body)
    check(dns.asked("nx.test"), "the fake DNS was not asked")
    nothing_reached(o)


def test_dns_timeout_504(t):
    dns = ht.FakeDNS(t)
    o, w, addr = setup(t, dns=dns, extra="resolve_timeout 1s")
    c = ht.Client(t, addr)
    t0 = time.monotonic()
    c.send(ht.request("GET", "http://slow.test:%d/" % o.port, [("Host", "slow.test:%d" % o.port)]))
    ht.expect_error(c, 504, timeout=6)
    took = time.monotonic() - t0
    check(0.7 < took < 3.5, "504 after %.1fs with resolve_timeout 1s" % took)
    check(dns.asked("slow.test"), "the fake DNS was not asked")
    nothing_reached(o)


def test_connection_refused_502(t):
    hole = ht.wd.reserve_closed_port()
    t.add(hole)
    port = hole.getsockname()[1]
    w, addr = ht.start_http(t)
    c = ht.Client(t, addr)
    c.send(ht.get(("127.0.0.1", port), "/"))
    r = ht.expect_error(c, 502)
    check(str(port).encode() in r.body, "502 body does not name the upstream: %r" % r.body)


def test_connect_timeout_504(t):
    l, fillers = wd.full_backlog_listener()
    t.add(l)
    for f in fillers:
        t.add(f)
    port = l.getsockname()[1]
    w, addr = ht.start_http(t, extra="connect_timeout 1s")
    c = ht.Client(t, addr)
    t0 = time.monotonic()
    c.send(ht.get(("127.0.0.1", port), "/"))
    ht.expect_error(c, 504, timeout=8)
    took = time.monotonic() - t0
    check(0.7 < took < 4, "504 after %.1fs with connect_timeout 1s" % took)


def test_response_timeout_504(t):
    o, w, addr = setup(t, extra="response_timeout 1s")
    o.route("/mute", ht.act_silent(5))
    c = ht.Client(t, addr)
    t0 = time.monotonic()
    c.send(ht.get(o.addr, "/mute"))
    ht.expect_error(c, 504, timeout=6)
    took = time.monotonic() - t0
    check(0.7 < took < 3.5, "504 after %.1fs with response_timeout 1s" % took)


def test_later_phase_deadline_is_kept(t):
    """The session's timer is armed lazily: a phase whose deadline is later
    than the one armed gets its whole time, not the earlier phase's. The
    second request of a connection, on a pooled upstream connection, goes
    from keep-alive (1s) to waiting for the response (3s) without the timer
    being stopped in between."""
    o, w, addr = setup(t, extra="header_timeout 1s\nkeepalive_timeout 1s\nresponse_timeout 3s")
    o.route("/mute", ht.act_silent(8))
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/a"))
    check(c.response().status == 200, "first request failed")
    t0 = time.monotonic()
    c.send(ht.get(o.addr, "/mute"))
    ht.expect_error(c, 504, timeout=8)
    took = time.monotonic() - t0
    check(2.7 < took < 5.5, "504 after %.1fs with response_timeout 3s, keepalive_timeout 1s" % took)
    check(o.accepted == 1, "the second request did not reuse the pooled connection (%d)" % o.accepted)


def test_earlier_phase_deadline_moves_timer(t):
    """And a phase with an earlier deadline (keepalive_timeout 1s after
    header_timeout 4s) moves the timer forward."""
    o, w, addr = setup(t, extra="header_timeout 4s\nkeepalive_timeout 1s")
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/a"))
    c.response()
    t0 = time.monotonic()
    c.expect_closed(5)
    took = time.monotonic() - t0
    check(0.7 < took < 2.5, "idle client closed after %.1fs with keepalive_timeout 1s" % took)


def test_origin_closes_before_answer_502(t):
    o, w, addr = setup(t)
    o.route("/x", ht.act_close_before_answer())
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/x", [("Host", o.text), ("Content-Length", "3")], method="POST", body=b"abc"))
    ht.expect_error(c, 502)


def test_origin_closes_mid_body_truncation(t):
    o, w, addr = setup(t)
    o.route("/trunc", ht.act_close_mid_body(1000, 300))
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/trunc"))
    head = ht.read_head(c.rd, timeout=5)
    check(head.start.startswith(b"HTTP/1.1 200"), "head %r" % head.start)
    got = c.rd.read_to_eof(timeout=5)
    cl = head.get("Content-Length")
    if cl is not None:
        check(cl == "1000" and len(got) < 1000, "Content-Length %s, %d bytes then EOF" % (cl, len(got)))
    else:
        check(head.get("Transfer-Encoding") == "chunked", "no framing at all: %r" % head.fields)
        check(not got.endswith(b"0\r\n\r\n"), "a truncated body ended with a last-chunk: %r" % got[-20:])
    check(got.count(b"m") <= 300, "more body than the origin sent")
    a = ht.wait_access(w, lambda a: a["target"].endswith("/trunc"))
    check(a["close"], "no close reason for the truncated response: %s" % a["line"])


def test_origin_closes_mid_chunked_body(t):
    o, w, addr = setup(t)
    o.route("/tc", ht.act_raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"))
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/tc"))
    head = ht.read_head(c.rd, timeout=5)
    check(head.start.startswith(b"HTTP/1.1 200"), "head %r" % head.start)
    got = c.rd.read_to_eof(timeout=5)
    check(b"hello" in got, "the first chunk did not arrive: %r" % got)
    check(not got.endswith(b"0\r\n\r\n"), "a truncated chunked body ended with a last-chunk: %r" % got[-20:])


def test_response_field_space_before_colon(t):
    """Either 502 or the field cleaned up: never forwarded as received."""
    o, w, addr = setup(t)
    o.route("/sp", ht.act_raw(b"HTTP/1.1 200 OK\r\nX-Bad : 1\r\nContent-Length: 2\r\n\r\nok", close=False))
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/sp"))
    r = c.response()
    if r.status == 502:
        ht.check_error(r, 502)
    else:
        check(r.status == 200 and r.body == b"ok", "answer %r" % r)


def invalid_response(t, raw):
    o, w, addr = setup(t)
    o.route("/bad", ht.act_raw(raw))
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/bad"))
    r = ht.expect_error(c, 502)
    check(b"EVIL" not in r.body, "the invalid response leaked: %r" % r.body)


def test_invalid_status_line_502(t):
    invalid_response(t, b"HTXP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL")


def test_response_cl_and_te_502(t):
    invalid_response(t, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nEVIL\r\n0\r\n\r\n")


def test_response_duplicate_cl_502(t):
    invalid_response(t, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nEVIL!")


def test_response_bad_status_code_502(t):
    invalid_response(t, b"HTTP/1.1 20 OK\r\nContent-Length: 4\r\n\r\nEVIL")


def test_unasked_101_502(t):
    invalid_response(t, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nEVIL")


def test_via_loop_508(t):
    rejected(t, b"GET http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nVia: 1.0 proxy1, 1.1 warpd\r\n\r\n", 508)


def test_via_word_not_substring(t):
    """Only warpd's own pseudonym as a word is a loop: "warpdrive" is not."""
    o, w, addr = setup(t, "shape off")
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/v", [("Host", o.text), ("Via", "1.1 warpdrive")]))
    r = c.response()
    check(r.status == 200, "Via: 1.1 warpdrive answered %r" % r)


def test_reverse_connect_405_allow(t):
    """CONNECT in reverse mode: 405 with an Allow field (RFC 9110 15.5.6)."""
    o = ht.Origin(t)
    w, addr = ht.start_http(t, mode="reverse", upstream=o.text, extra="shape off")
    c = ht.Client(t, addr)
    c.send(b"CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n")
    r = ht.expect_error(c, 405, method="CONNECT")
    check(r.header("Allow", "") != "", "405 without Allow: %r" % r.head.fields)


def test_request_line_too_long_414_says_so(t):
    """A request line that never ends within the limit: 414 naming it."""
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    c.send_quietly(b"GET http://" + o.text.encode() + b"/" + b"a" * 9000)
    r = ht.expect_error(c, 414)
    check(b"request line too long" in r.body, "414 body %r" % r.body)
    nothing_reached(o)


def test_self_target_508(t):
    w, addr = ht.start_http(t)
    c = ht.Client(t, addr)
    c.send(ht.get(addr, "/loop"))
    r = ht.expect_error(c, 508)
    # Exactly one access line: the request did not come back in.
    time.sleep(0.2)
    lines = [a for a in ht.access(w) if a["target"].endswith("/loop")]
    check(len(lines) == 1, "access lines for the loop: %r" % [a["line"] for a in lines])


def test_access_lines_follow_requests(t):
    """A connection holds a request's state only from its head on (issue 14:
    an idle client holds no more than struct px), and the access lines say
    the same as before: none for a client that sends nothing, one for a
    head cut off, one per request of a kept-alive connection and none for
    its idle close."""
    o, w, addr = setup(t)
    silent = ht.Client(t, addr)
    silent.sock.close()
    cut = ht.Client(t, addr)
    cut.send(b"GET http://" + o.text.encode() + b"/cut HTTP/1.1\r\nHost: x\r\n")
    time.sleep(0.2)
    cut.sock.close()
    a = ht.wait_access(w, lambda a: a["close"] == "client closed mid-head", what="the cut head's line")
    check(a["method"] == "-" and a["status"] == "0", "cut head logged as %r" % a["line"])
    kept = ht.Client(t, addr)
    for path in ("/ka1", "/ka2"):
        kept.send(ht.get(o.addr, path))
        check(kept.response().status == 200, "%s answered" % path)
    time.sleep(0.2)
    kept.sock.close()
    time.sleep(0.3)
    lines = [a["line"] for a in ht.access(w)]
    check(len(lines) == 3, "access lines: %r" % lines)
    check(sum('target="http://' in x and "/ka" in x for x in lines) == 2, "kept-alive lines: %r" % lines)
    # A later request on a fresh connection is logged as usual.
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/after"))
    check(c.response().status == 200, "/after answered")
    ht.wait_access(w, lambda a: a["target"].endswith("/after"), what="/after's line")


def cpu_seconds(pid):
    """utime + stime of a process, in seconds, from /proc."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def test_fd_exhaustion_backs_off_and_recovers(t):
    """A worker left with 64 descriptors (RLIMIT_NOFILE), then 100 idle
    clients: accept fails with EMFILE, and the listener pauses instead of
    spinning on a socket it cannot take (ev(3), "The special problem of
    accept()ing when you can't"): the worker stays nearly idle and says so
    a few times, not thousands. A request that needs an upstream socket
    meanwhile gets an error answer. Once the clients leave, the worker
    serves again. (shared/reference/http-proxy-rules.md section 5.7)"""
    o = ht.Origin(t)
    o2 = ht.Origin(t)
    w, addr = ht.start_http(t)
    worker = w.workers()[0]
    # Lowering another process's limit needs no privilege (prlimit(2)).
    resource.prlimit(worker, resource.RLIMIT_NOFILE, (64, 64))
    mark = w.mark()
    first = ht.Client(t, addr)
    first.send(ht.request("GET", "http://%s/before" % o.text, [("Host", o.text)]))
    check(first.response().status == 200, "no answer before the clients came")
    idle = [t.connect(addr) for _ in range(100)]  # the kernel completes them all; warpd runs out
    wd.wait_until(lambda: any("accept failed" in l for l in w.logs_since(mark)), 5,
                  "warpd's 'accept failed' warning")
    cpu0 = cpu_seconds(worker)
    time.sleep(2.0)
    busy = cpu_seconds(worker) - cpu0
    check(busy < 0.5, "the worker used %.2f s of CPU in 2 s while out of descriptors: spinning?" % busy)
    warned = [l for l in w.logs_since(mark) if "accept failed" in l]
    check(len(warned) <= 10, "%d 'accept failed' lines in about 2 s: not rate-limited" % len(warned))
    # The first client was accepted long ago; its next request, to another
    # origin (the pooled connection to the first does not serve it), needs
    # an upstream socket, and there is none to be had.
    first.send(ht.request("GET", "http://%s/during" % o2.text, [("Host", o2.text)]))
    r = first.response()
    check(r.status in (502, 503), "request while out of descriptors: %d %s" % (r.status, r.reason))
    ht.check_error(r, r.status)
    print("     out of descriptors: worker CPU %.2f s in 2 s, %d warning line(s), a request "
          "meanwhile got %d" % (busy, len(warned), r.status), flush=True)
    for s in idle:
        s.close()
    # Recovery: new clients are served again (the back-off is at most 1 s).
    def served():
        try:
            c = ht.Client(t, addr, timeout=2)
            c.send(ht.request("GET", "http://%s/after" % o.text, [("Host", o.text)]))
            return c.response(timeout=2).status == 200
        except (OSError, wd.Fail):
            return False
    wd.wait_until(served, 10, "a request served after the clients left")
    check(w.running() and w.workers() == [worker], "the worker did not survive: %r" % w.workers())


def test_connect_port_not_allowed_403(t):
    e = ht.RecordingEcho(t)
    w, addr = ht.start_http(t, extra="connect_ports 443")  # loopback alone would allow it
    c = ht.Client(t, addr)
    # A pipelined request after the refused CONNECT must not be served either.
    c.send_quietly(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\nGET http://127.0.0.1:%d/ HTTP/1.1\r\nHost: x\r\n\r\n" % (e.port, e.port, e.port))
    ht.expect_error(c, 403, method="CONNECT")
    time.sleep(0.2)
    check(e.accepted == 0, "the CONNECT target got %d connection(s)" % e.accepted)


def test_connect_without_port_400(t):
    w, addr = ht.start_http(t, extra="connect_ports any")
    c = ht.Client(t, addr)
    c.send(b"CONNECT 127.0.0.1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    ht.expect_error(c, 400, method="CONNECT")


def test_error_on_kept_alive_connection(t):
    """A bad request after a complete exchange on the same connection gets
    its error answer like a first request would."""
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/ok"))
    check(c.response().body == b"GET /ok\n", "first request")
    time.sleep(0.1)
    c.send_quietly(b"GET http://%s/ HTTP/1.1\r\nHost: %s\r\nX-A : b\r\n\r\n" % (o.text.encode(), o.text.encode()))
    ht.expect_error(c, 400)
    check(len(o.requests(complete=False)) == 1, "origin saw %d requests" % len(o.requests(complete=False)))


def test_error_access_lines(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    c.send_quietly(b"GET http://%s/e HTTP/2.0\r\nHost: x\r\n\r\n" % o.text.encode())
    ht.expect_error(c, 505)
    a = ht.wait_access(w, lambda a: a["status"] == "505")
    check(a["upstream"] == "-" and a["close"], "505 access line %s" % a["line"])


def test_userinfo_400_not_logged(t):
    """A password in the URL (http://user:secret@host/) is refused with 400
    (RFC 9110 4.2.4), and the access line for it shows "***" in its place."""
    o, w, addr = setup(t)
    for target, shown in (
        (b"http://user:s3cret@%s/u?x=@y" % o.text.encode(), "http://***@%s/u?x=@y" % o.text),
        (b"HTTP://a:b@c:s3cret@%s" % o.text.encode(), "HTTP://***@%s" % o.text),
    ):
        mark = w.mark()
        c = ht.Client(t, addr)
        c.send_quietly(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        ht.expect_error(c, 400)
        a = ht.wait_access(w, lambda a: a["status"] == "400", mark=mark)
        check(a["target"] == shown, "access line target %r, expected %r" % (a["target"], shown))
        check("s3cret" not in "\n".join(w.logs_since(mark)), "the password is in the log")
    nothing_reached(o)


# ---- smuggling --------------------------------------------------------------

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: {AUTH}\r\n\r\n"

# (name, payload, statuses, body_level). payload names the origin as {AUTH};
# body_level cases are rejected after a valid head, which warpd may already
# have forwarded: the origin may see that head, never a complete request.
SMUGGLING = [
    ("cl_te", b"POST http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED, (400,), False),
    ("te_space_colon", b"POST http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nContent-Length: 47\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + SMUGGLED, (400,), False),
    ("cl_space_colon", b"POST http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nContent-Length : 5\r\n\r\nhello" + SMUGGLED, (400,), False),
    ("host_space_colon", b"GET http://{AUTH}/ HTTP/1.1\r\nHost : x\r\n\r\n" + SMUGGLED, (400,), False),
    ("htxp_version", b"GET http://{AUTH}/ HTXP/1.1\r\nHost: {AUTH}\r\n\r\n" + SMUGGLED, (400,), False),
    ("cr_x_end_of_head", b"GET http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\n\rX" + SMUGGLED, (400,), False),
    ("chunk_cr_cr", b"POST http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\r;ABCD\r\n0\r\n\r\n" + SMUGGLED, (400,), True),
    ("chunk_data_no_crlf", b"POST http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n" + SMUGGLED, (400,), True),
    ("nul_first_value_byte", b"GET http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nX-A: \x00b\r\n\r\n" + SMUGGLED, (400,), False),
    ("nul_host", b"GET http://{AUTH}/ HTTP/1.1\r\nHost: \x00evil\r\n\r\n" + SMUGGLED, (400,), False),
    ("te_chunked_identity", b"POST http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n" + SMUGGLED, (400, 501), False),
    ("te_chunked_comma_identity", b"POST http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + SMUGGLED, (400, 501), False),
    ("te_in_http10", b"POST http://{AUTH}/ HTTP/1.0\r\nHost: {AUTH}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED, (400,), False),
    ("obs_fold_cl", b"POST http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nContent-Length:\r\n 5\r\n\r\nhello" + SMUGGLED, (400,), False),
    ("leading_space_te", b"POST http://{AUTH}/ HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: {AUTH}\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + SMUGGLED, (400,), False),
    ("te_xchunked", b"POST http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + SMUGGLED, (400, 501), False),
    ("te_gzip_chunked", b"POST http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + SMUGGLED, (501,), False),
    ("cl_list", b"POST http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nContent-Length: 5, 5\r\n\r\nhello" + SMUGGLED, (400,), False),
    ("bare_lf_chunk_size", b"POST http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n" + SMUGGLED, (400,), True),
    ("chunk_size_overflow", b"POST http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n" + SMUGGLED, (400,), True),
    ("bad_chunk_size", b"POST http://{AUTH}/ HTTP/1.1\r\nHost: {AUTH}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n" + SMUGGLED, (400,), True),
]


def smuggle(t, payload, statuses, body_level, legit_first):
    o, w, addr = setup(t)
    auth = o.text.encode()
    first = ht.get(o.addr, "/legit") if legit_first else b""
    c = ht.Client(t, addr)
    c.send_quietly(first + payload.replace(b"{AUTH}", auth))
    if legit_first:
        try:
            r = c.response()
        except wd.Fail as e:
            raise wd.Fail("no answer to the legitimate first request: %s" % e)
        check(r.status == 200 and r.body == b"GET /legit\n", "the legitimate first request: %r" % r)
        try:
            r = c.response()
        except wd.Fail as e:
            raise wd.Fail("first request answered, then no error answer to the bad one: %s" % e)
    else:
        r = c.response()
    check(r.status in statuses, "expected %s, got %d (%r)" % (statuses, r.status, r.body[:100]))
    ht.check_error(r, r.status)
    c.expect_closed(5)
    time.sleep(0.2)
    done = o.requests()
    seen = o.requests(complete=False)
    targets = [x.target for x in seen]
    check("/smuggled" not in targets, "the smuggled request reached the origin: %s" % ht.show(o.raw()))
    if legit_first:
        check([x.target for x in done] == ["/legit"], "origin completed %r, expected only /legit" % [x.target for x in done])
        want = ht.forwarded_head("GET /legit HTTP/1.1", [("Host", o.text)])
        if not body_level:
            check(o.raw() == want, "origin bytes %s, expected only the first request" % ht.show(o.raw()))
    elif body_level:
        check(done == [], "a complete request reached the origin: %s" % ht.show(o.raw()))
    else:
        check(o.accepted == 0, "the origin got a connection: %s" % ht.show(o.raw()))
    check(not o.violations, "invalid bytes reached the origin: %s" % o.violations)


def _make(name, payload, statuses, body_level, legit_first):
    def f(t):
        smuggle(t, payload, statuses, body_level, legit_first)

    f.__name__ = "test_smuggle_%s%s" % (name, "_after_legit" if legit_first else "")
    return f


for _name, _payload, _statuses, _body_level in SMUGGLING:
    for _legit in (False, True):
        _f = _make(_name, _payload, _statuses, _body_level, _legit)
        globals()[_f.__name__] = _f


def test_smuggle_after_connection_close(t):
    o, w, addr = setup(t)
    c = ht.Client(t, addr)
    c.send_quietly(ht.get(o.addr, "/first", [("Host", o.text), ("Connection", "close")]) + ht.get(o.addr, "/smuggled"))
    r = c.response()
    check(r.body == b"GET /first\n", "first answer %r" % r)
    check("close" in r.head.tokens("Connection"), "answer without Connection: close")
    c.expect_closed(5)
    time.sleep(0.2)
    check([x.target for x in o.requests(complete=False)] == ["/first"], "origin saw %r" % [x.target for x in o.requests(complete=False)])


def test_smuggle_response_extra_bytes(t):
    o, w, addr = setup(t)
    poison = b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\npoisoned"
    o.route("/x", ht.act_extra_after(b"real", poison))
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/x"))
    r = c.response()
    check(r.body == b"real", "first answer %r" % r)
    c.send(ht.get(o.addr, "/y"))
    r = c.response()
    check(r.body == b"GET /y\n", "second answer is %r, not the origin's answer to /y" % r)
    # The connection with stray bytes was not reused.
    check(o.per_conn() == [1, 1], "origin per connection %r" % o.per_conn())


def test_smuggle_204_with_body(t):
    o, w, addr = setup(t)
    o.route("/nc", ht.act_raw(b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\nHTTP/1.1 2", close=False))
    c = ht.Client(t, addr)
    c.send(ht.get(o.addr, "/nc"))
    r = c.response()
    check(r.status == 204, "204 answer %r" % r)
    c.send(ht.get(o.addr, "/next"))
    r = c.response()
    check(r.body == b"GET /next\n", "answer after a 204 with junk: %r" % r)


if __name__ == "__main__":
    wd.main(globals())
