"""The proof that request shaping works: warpd in forward mode sends requests
for blocked.test through the project's DPI simulator (dpisim.py: an AF_PACKET
capture on lo plus a relay that answers 302 when it blocks) to a fake origin.
The matrix: `off` is blocked by the per-segment and the reassembling DPI,
`split` passes the per-segment one only, `warp` passes both; every passing
request reaches the origin valid and complete. Also: segment counts and warp's
pauses as captured, a reused keep-alive upstream connection, per-destination
rules, `-s` overriding the file, IPv6, and each strategy's extra latency.
Needs root (AF_PACKET); exits 77 otherwise."""

import os
import struct
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dpisim  # noqa: E402
import httptest as ht  # noqa: E402
import wdtest as wd  # noqa: E402
from wdtest import check  # noqa: E402

NAME = "blocked.test"
DUMMY_NAME_RE = re.compile(r"^X-[A-Z]{16}$")
DUMMY_VALUE_RE = re.compile(r"^[A-Za-z0-9]{128}$")
DUMMY_LINE_RE = re.compile(rb"\r\nX-[A-Z]{16}: [A-Za-z0-9]{128}\r\n")
# Lower bound of one of warp's pauses as the capture's kernel timestamps
# show it (configured 200 or 300 ms; a timer never fires much early).
MIN_PAUSE = 0.15


# ---- setup -----------------------------------------------------------------------


def names_dns(t, names=(NAME,), six=False):
    dns = ht.FakeDNS(t)
    for n in names:
        if six:
            dns.add(n, aaaa=["::1"])
        else:
            dns.add(n, a=["127.0.0.1"])
    return dns


def start(t, dns, shape="split", extra="", rules=(), args=()):
    """warpd in forward mode with the given global strategy, a fixed seed,
    extra directives (one each) and raw lines appended (per-destination
    rules repeat the `shape` directive, which http_config writes once)."""
    port = wd.free_port()
    cfg = ht.http_config(t, port, "forward", 1, "shape %s\nshape_seed 4242\n%s" % (shape, extra), dns=dns)
    if rules:
        with open(cfg, "a") as f:
            f.write("".join(r + "\n" for r in rules))
    w = t.warpd(args, config=cfg, nworkers=1)
    return w, ("127.0.0.1", port)


def client_fields(auth):
    """A client's head, Host not first (warp sends the headers before Host
    ahead of the Host fragments), in an order the origin must see again."""
    return [
        ("User-Agent", "wdtest-shape/1"),
        ("Host", auth),
        ("Accept", "*/*"),
        ("X-Order-1", "first"),
        ("X-Order-2", "second"),
    ]


def fetch(t, addr, host, port, path="/x", client=None):
    """GET http://host:port/path through warpd; (response, client, fields)."""
    auth = "%s:%d" % (host, port)
    fields = client_fields(auth)
    c = client or ht.Client(t, addr, timeout=20)
    c.send(ht.request("GET", "http://%s%s" % (auth, path), fields))
    return c.response(timeout=20), c, fields


def check_blocked(r, what):
    check(r.status == 302, "%s: expected the DPI's 302, got %d %s (body %r)" % (what, r.status, r.reason, r.body[:80]))
    loc = r.header("Location")
    check(loc == "http://warning.test/blocked", "%s: 302 to %r, expected the warning page" % (what, loc))


def check_passed(r, what, path="/x"):
    check(r.status == 200,
          "%s: expected the origin's 200, got %d %s (body %r)" % (what, r.status, r.reason, r.body[:80]))
    check(r.body == b"GET %s\n" % path.encode(), "%s: body %r" % (what, r.body[:80]))


def origin_head(o, index=-1):
    reqs = o.requests()
    check(reqs, "the origin received no complete request")
    return reqs[index].head


def check_exact(o, fields, what, path="/x", index=-1):
    """The origin got exactly the client's request: request line, fields in
    order (Host blocked.test:P), Via appended; nothing added."""
    got = origin_head(o, index).raw
    want = ht.forwarded_head("GET %s HTTP/1.1" % path, fields)
    check(got == want, "%s: origin got\n%s\nexpected\n%s" % (what, ht.show(got, 2000), ht.show(want, 2000)))
    o.check_clean()


def check_warp_head(o, fields, what, dummies=32, path="/x", index=-1):
    """The origin got the request line, `dummies` dummy headers of warp's
    format, then exactly the client's fields in order and Via."""
    head = origin_head(o, index)
    got = head.fields[:dummies]
    check(len(head.fields) == dummies + len(fields) + 1, "%s: %d fields at the origin, expected %d dummies + %d: %r"
          % (what, len(head.fields), dummies, len(fields) + 1, head.names()))
    for k, v in got:
        check(DUMMY_NAME_RE.match(k), "%s: dummy header name %r is not X-<16 A-Z>" % (what, k))
        check(DUMMY_VALUE_RE.match(v), "%s: dummy value %r is not 128 [A-Za-z0-9]" % (what, v[:40]))
    check(len({k.lower() for k, _ in got}) == dummies, "%s: dummy names repeat: %r" % (what, [k for k, _ in got]))
    want = ht.forwarded_head("GET %s HTTP/1.1" % path, got + fields)
    check(head.raw == want, "%s: origin got\n%s\nexpected\n%s" % (what, ht.show(head.raw, 6000), ht.show(want, 6000)))
    o.check_clean()


def request_line_segment(flow, path="/x"):
    first = flow.segments[0][1] if flow.segments else b""
    return first == b"GET %s HTTP/1.1\r\n" % path.encode()


def head_segments(flow, decision=0):
    d = flow.decisions[decision]
    return flow.in_range(d["since"], d["upto"])


def report(*sims):
    for s in sims:
        for line in s.describe():
            print("     " + line)


# ---- the simulator on its own (no warpd): it must block what it should --------


def test_dpisim_self_check(t):
    """A client writing the head itself: one write is blocked by both modes;
    two writes split inside the name pass the per-segment box only, and the
    origin gets the bytes unchanged."""
    o = ht.Origin(t)
    seg = dpisim.DPI(t, o.addr, "segment")
    rea = dpisim.DPI(t, o.addr, "reassemble")
    for sim in (seg, rea):
        raw = ht.request("GET", "/one", [("Host", "%s:%d" % (NAME, sim.port)), ("Accept", "*/*")])
        c = ht.Client(t, sim.addr)
        c.send(raw)
        check_blocked(c.response(), "one write via %s" % sim.mode)
        f = sim.wait_flows(1)[0]
        check(f.verdict == "blocked" and len(f.segments) == 1, "one write via %s: %s" % (sim.mode, f.describe()))
        check(bytes(f.stream) == raw, "capture reassembled %r, client sent %r" % (bytes(f.stream), raw))
    check(not o.requests(False), "a blocked request reached the origin")
    for sim, ok in ((seg, True), (rea, False)):
        raw = ht.request("GET", "/two", [("Host", "%s:%d" % ("BLOCKED.Test", sim.port)), ("Accept", "*/*")])
        cut = raw.index(b"BLOCKED") + 3
        c = ht.Client(t, sim.addr, nodelay=True)
        c.send(raw[:cut])
        time.sleep(0.05)
        c.send(raw[cut:])
        r = c.response()
        f = sim.wait_flows(2)[1]
        check(len(f.segments) == 2 and f.sizes == [cut, len(raw) - cut],
              "two writes via %s: %s" % (sim.mode, f.describe()))
        if ok:
            check_passed(r, "two writes via segment", "/two")
            check(o.requests()[-1].head.raw == raw, "origin got %r, expected %r" % (o.requests()[-1].head.raw, raw))
        else:
            check_blocked(r, "two writes via reassemble (case-insensitive match)")
    # every_request: a later head on an allowed connection is judged on its
    # own segments; an unsplit one is blocked.
    er = dpisim.DPI(t, o.addr, "segment", every_request=True)
    auth = "%s:%d" % (NAME, er.port)
    raw = ht.request("GET", "/three", [("Host", auth)])
    cut = raw.index(b"blocked") + 1
    c = ht.Client(t, er.addr, nodelay=True)
    c.send(raw[:cut])
    time.sleep(0.05)
    c.send(raw[cut:])
    check_passed(c.response(), "every_request: split first request", "/three")
    c.send(ht.request("GET", "/four", [("Host", auth)]))
    check_blocked(c.response(), "every_request: unsplit second request")
    f = er.wait_flows(1)[0]
    verdicts = [d["verdict"] for d in f.decisions]
    check(verdicts == ["allowed", "blocked"], "every_request: verdicts %r (%s)" % (verdicts, f.describe()))
    check(len(er.flows) == 1, "every_request: %d flows" % len(er.flows))
    report(seg, rea, er)
    for sim in (seg, rea, er):
        sim.check_clean()
    o.check_clean()


# ---- the matrix -----------------------------------------------------------------


def test_off_blocked_by_both(t):
    o = ht.Origin(t)
    dns = names_dns(t)
    seg = dpisim.DPI(t, o.addr, "segment")
    rea = dpisim.DPI(t, o.addr, "reassemble")
    w, addr = start(t, dns, "off")
    for sim in (seg, rea):
        r, _, _ = fetch(t, addr, NAME, sim.port)
        check_blocked(r, "shape off via %s" % sim.mode)
        f = sim.wait_flows(1)[0]
        check(f.verdict == "blocked", "shape off via %s: %s" % (sim.mode, f.describe()))
        n = len(head_segments(f))
        check(n == 1, "shape off: the head came in %d segments, expected 1 (%s)" % (n, f.describe()))
    check(not o.requests(False), "a blocked request reached the origin: %r" % o.requests(False))
    report(seg, rea)
    seg.check_clean()
    rea.check_clean()


def test_split_passes_segment_dpi_only(t):
    o = ht.Origin(t)
    dns = names_dns(t)
    seg = dpisim.DPI(t, o.addr, "segment")
    rea = dpisim.DPI(t, o.addr, "reassemble")
    w, addr = start(t, dns, "split")
    r, _, fields = fetch(t, addr, NAME, seg.port)
    check_passed(r, "shape split via segment")
    check_exact(o, fields, "shape split via segment")
    f = seg.wait_flows(1)[0]
    check(f.verdict == "allowed", "shape split via segment: %s" % f.describe())
    segs = head_segments(f)
    check(len(segs) >= 3, "shape split: the head came in %d segments, expected >= 3 (%s)" % (len(segs), f.describe()))
    check(request_line_segment(f), "shape split: first segment %r is not the request line" % f.segments[0][1][:80])
    check(bytes(f.stream) == origin_head(o).raw, "the capture's reassembled stream differs from what the origin got")
    # The cut is inside the Host value, after one byte by default.
    host_at = bytes(f.stream).index(b"\r\nHost: ") + 8
    cuts = [off for off, _, _ in segs]
    check(host_at + 1 in cuts, "shape split: no segment starts 1 byte into the Host value (offset %d); starts %r"
          % (host_at + 1, cuts))
    r, _, _ = fetch(t, addr, NAME, rea.port)
    check_blocked(r, "shape split via reassemble")
    f = rea.wait_flows(1)[0]
    check(f.verdict == "blocked" and len(head_segments(f)) >= 3, "shape split via reassemble: %s" % f.describe())
    check(len(o.requests(False)) == 1, "origin saw %d requests, expected 1" % len(o.requests(False)))
    report(seg, rea)
    seg.check_clean()
    rea.check_clean()


def socks5_fetch(t, addr, host, port, path="/x"):
    """The same GET as fetch, in origin-form, through a SOCKS5 tunnel that
    warpd opens to host:port (by name); returns the response."""
    c = ht.Client(t, addr, timeout=20)
    c.send(b"\x05\x01\x00")
    check(c.rd.read_exact(2, timeout=5) == b"\x05\x00", "SOCKS5 method choice")
    c.send(b"\x05\x01\x00\x03" + bytes([len(host)]) + host.encode() + struct.pack(">H", port))
    rep = c.rd.read_exact(10, timeout=10)
    check(rep[:2] == b"\x05\x00", "SOCKS5 reply %r" % rep)
    c.send(ht.request("GET", path, client_fields("%s:%d" % (host, port))))
    return c.response(timeout=20)


def test_socks_http_flight_split(t):
    """A SOCKS5 client's first bytes are an HTTP head: they get the
    destination's HTTP strategy (split) as through the HTTP proxy, so the
    per-segment DPI lets them pass and the reassembling one does not."""
    o = ht.Origin(t)
    dns = names_dns(t)
    seg = dpisim.DPI(t, o.addr, "segment")
    rea = dpisim.DPI(t, o.addr, "reassemble")
    w, addr = start(t, dns, "split", extra="connect_ports any\n")
    check_passed(socks5_fetch(t, addr, NAME, seg.port), "SOCKS5, shape split via segment")
    f = seg.wait_flows(1)[0]
    check(f.verdict == "allowed" and len(head_segments(f)) >= 3, "SOCKS5 split via segment: %s" % f.describe())
    check_blocked(socks5_fetch(t, addr, NAME, rea.port), "SOCKS5, shape split via reassemble")
    seg.check_clean()
    rea.check_clean()


def check_warp_capture(f, what, path="/x", first=1, most=4, pause_min=MIN_PAUSE):
    """Warp as the capture saw it: request line alone, a pause, then the
    Host value in fragments of `first` then at most `most` bytes, each after
    a pause (kernel timestamps of the capture)."""
    check(request_line_segment(f, path), "%s: first segment %r is not the request line" % (what, f.segments[0][1][:80]))
    segs = head_segments(f)
    check(len(segs) >= 5, "%s: the head came in %d segments (%s)" % (what, len(segs), f.describe()))
    gap = segs[1][2] - segs[0][2]
    check(gap >= pause_min,
          "%s: %.0f ms between the request line and the next segment, expected ~200" % (what, gap * 1000))
    stream = bytes(f.stream)
    i = stream.index(b"\r\nHost: ") + 8
    end = stream.index(b"\r\n", i)
    frags = [s for s in segs if i <= s[0] < end]
    check(frags and frags[0][0] == i, "%s: no segment starts at the Host value (offset %d); starts %r"
          % (what, i, [s[0] for s in segs]))
    check(len(frags[0][1]) == first, "%s: first Host fragment %r, expected %d bytes" % (what, frags[0][1], first))
    for k, s in enumerate(frags):
        body = s[1][: end - s[0]]  # the last one may carry the rest of the head
        if k > 0:
            check(1 <= len(body) <= most,
                  "%s: Host fragment %d is %r, expected at most %d bytes" % (what, k, body, most))
        prev = segs[segs.index(s) - 1]
        pause = s[2] - prev[2]
        check(pause >= pause_min,
              "%s: Host fragment %d after %.0f ms, expected >= %.0f" % (what, k, pause * 1000, pause_min * 1000))
    return len(frags)


def test_warp_passes_both(t):
    o = ht.Origin(t)
    dns = names_dns(t)
    seg = dpisim.DPI(t, o.addr, "segment")
    rea = dpisim.DPI(t, o.addr, "reassemble")
    w, addr = start(t, dns, "warp")
    for n, sim in enumerate((seg, rea)):
        r, _, fields = fetch(t, addr, NAME, sim.port)
        check_passed(r, "shape warp via %s" % sim.mode)
        check_warp_head(o, fields, "shape warp via %s" % sim.mode)
        f = sim.wait_flows(1)[0]
        check(f.verdict == "allowed", "shape warp via %s: %s" % (sim.mode, f.describe()))
        check(bytes(f.stream) == origin_head(o).raw,
              "the capture's reassembled stream differs from what the origin got")
        check_warp_capture(f, "shape warp via %s" % sim.mode)
        d = f.decisions[0]
        check(not d["segment_hit"] and not d["reassemble_hit"], "shape warp: %r" % d)
    check(len(o.requests()) == 2, "origin saw %d requests, expected 2" % len(o.requests()))
    report(seg, rea)
    seg.check_clean()
    rea.check_clean()


def test_split_knobs(t):
    """split with every knob: cuts after the method, 3 bytes into the path
    and 3 bytes into the Host value; Host field spelt "host"; the value's
    letters in mixed case. Valid at the origin, passes the per-segment box."""
    o = ht.Origin(t)
    dns = names_dns(t)
    seg = dpisim.DPI(t, o.addr, "segment")
    knobs = ("shape_split_pos 3\nshape_split_method on\nshape_split_path 3\n"
             "shape_host_header host\nshape_mixed_case on\n")
    w, addr = start(t, dns, "split", knobs)
    r, _, fields = fetch(t, addr, NAME, seg.port, "/abcdef")
    check_passed(r, "split knobs", "/abcdef")
    head = origin_head(o)
    got_host = [(k, v) for k, v in head.fields if k.lower() == "host"]
    auth = dict(fields)["Host"]
    check(len(got_host) == 1 and got_host[0][0] == "host", "Host field sent as %r, expected name 'host'" % got_host)
    value = got_host[0][1]
    check(value.lower() == auth and value != auth, "Host value %r: expected %r in mixed case" % (value, auth))
    want = ht.forwarded_head("GET /abcdef HTTP/1.1", [("host", value) if k == "Host" else (k, v) for k, v in fields])
    check(head.raw == want,
          "split knobs: origin got\n%s\nexpected\n%s" % (ht.show(head.raw, 2000), ht.show(want, 2000)))
    o.check_clean()
    f = seg.wait_flows(1)[0]
    check(f.verdict == "allowed", "split knobs: %s" % f.describe())
    stream = bytes(f.stream)
    check(stream == head.raw, "the capture's reassembled stream differs from what the origin got")
    hv = stream.index(b"\r\nhost: ") + 8
    rl = stream.index(b"\r\n") + 2
    starts = [off for off, _, _ in head_segments(f)]
    want_starts = [0, 4, 7, rl, hv + 3]
    check(starts == want_starts,
          "split knobs: segments start at %r, expected %r (%s)" % (starts, want_starts, f.describe()))
    report(seg)
    seg.check_clean()


def test_warp_knobs(t):
    """warp with its numbers changed: 4 dummy headers X-<5>: <10>, Host
    fragments of 2 then 3, pauses of 50 ms and 60 or 70 ms."""
    o = ht.Origin(t)
    dns = names_dns(t)
    seg = dpisim.DPI(t, o.addr, "segment")
    knobs = ("shape_delay 50ms\nshape_dummy_headers 4\nshape_dummy_length 10\nshape_dummy_name_length 5\n"
             "shape_fragment 2 3-3\nshape_fragment_delay 60ms 70ms\n")
    w, addr = start(t, dns, "warp", knobs)
    t0 = time.monotonic()
    r, _, fields = fetch(t, addr, NAME, seg.port)
    took = time.monotonic() - t0
    check_passed(r, "warp knobs")
    head = origin_head(o)
    check(len(head.fields) == 4 + len(fields) + 1,
          "warp knobs: %d fields at the origin: %r" % (len(head.fields), head.names()))
    for k, v in head.fields[:4]:
        check(re.match(r"^X-[A-Z]{5}$", k) and re.match(r"^[A-Za-z0-9]{10}$", v), "warp knobs: dummy %r: %r" % (k, v))
    want = ht.forwarded_head("GET /x HTTP/1.1", head.fields[:4] + fields)
    check(head.raw == want, "warp knobs: origin got\n%s\nexpected\n%s" % (ht.show(head.raw, 2000), ht.show(want, 2000)))
    o.check_clean()
    f = seg.wait_flows(1)[0]
    check(f.verdict == "allowed", "warp knobs: %s" % f.describe())
    nfrag = check_warp_capture(f, "warp knobs", first=2, most=3, pause_min=0.04)
    check(took < 0.05 + nfrag * 0.07 + 0.5, "warp knobs took %.0f ms for %d fragments: configured pauses ignored?"
          % (took * 1000, nfrag))
    report(seg)
    seg.check_clean()


# ---- keep-alive, rules, command line, IPv6 ----------------------------------------


def test_keepalive_second_request_shaped(t):
    """Both requests on one (pooled) upstream connection; the DPI judges the
    second head on its own segments too."""
    o = ht.Origin(t)
    dns = names_dns(t)
    seg = dpisim.DPI(t, o.addr, "segment", every_request=True)
    w, addr = start(t, dns, "split")
    r, c, fields = fetch(t, addr, NAME, seg.port, "/first")
    check_passed(r, "first request", "/first")
    r, _, _ = fetch(t, addr, NAME, seg.port, "/second")  # a new client: the upstream comes from the pool
    check_passed(r, "second request (new client, pooled upstream)", "/second")
    r, _, _ = fetch(t, addr, NAME, seg.port, "/third", client=c)  # the first client, kept alive
    check_passed(r, "third request (kept-alive client)", "/third")
    check(o.per_conn() == [3], "origin connections carried %r requests, expected one connection with 3" % o.per_conn())
    check_exact(o, fields, "second request", "/second", 1)
    check_exact(o, fields, "third request", "/third", 2)
    flows = seg.wait_flows(1)
    check(len(seg.flows) == 1, "the DPI saw %d upstream connections, expected 1" % len(seg.flows))
    f = flows[0]
    wd.wait_until(lambda: len(f.decisions) == 3, 5, "3 decisions on the flow")
    for k, d in enumerate(f.decisions):
        check(d["verdict"] == "allowed", "request %d: %r" % (k + 1, d))
        check(d["segments"] >= 3, "request %d on the reused connection came in %d segments, expected >= 3 (%s)"
              % (k + 1, d["segments"], f.describe()))
    report(seg)
    seg.check_clean()


def test_shape_reused_off_split(t):
    """shape_reused off: the first request on an upstream connection is split,
    the next one on the same (pooled) connection goes as one segment. A DPI
    that judges every request on a connection blocks that one: the knob is
    for censors that look at a connection's first request only."""
    o = ht.Origin(t)
    dns = names_dns(t)
    seg = dpisim.DPI(t, o.addr, "segment", every_request=True)
    w, addr = start(t, dns, "split", "shape_reused off\n")
    r, _, fields = fetch(t, addr, NAME, seg.port, "/first")
    check_passed(r, "first request", "/first")
    check_exact(o, fields, "first request", "/first")
    r, _, _ = fetch(t, addr, NAME, seg.port, "/second")  # a new client: the upstream comes from the pool
    check_blocked(r, "second request on the reused connection, unshaped")
    f = seg.wait_flows(1)[0]
    check(len(seg.flows) == 1, "the DPI saw %d upstream connections, expected 1" % len(seg.flows))
    wd.wait_until(lambda: len(f.decisions) == 2, 5, "2 decisions on the flow")
    first, second = f.decisions
    check(first["verdict"] == "allowed" and first["segments"] >= 3, "first request: %r (%s)" % (first, f.describe()))
    check(second["verdict"] == "blocked" and second["segments"] == 1,
          "second request: %r, expected one segment, blocked (%s)" % (second, f.describe()))
    check(len(o.requests()) == 1, "origin saw %d requests, expected only the first" % len(o.requests()))
    report(seg)
    seg.check_clean()


def test_shape_reused_off_warp(t):
    """shape_reused off with warp: the first request on a connection gets the
    dummy headers and the pauses, a request on the reused connection goes
    as the client sent it, without the pauses; a fresh connection (a second
    destination port) is shaped again."""
    o = ht.Origin(t)
    o2 = ht.Origin(t)
    dns = names_dns(t)
    w, addr = start(t, dns, "warp", "shape_reused off\nshape_delay 300ms\n")
    c = ht.Client(t, addr, timeout=20)
    t0 = time.monotonic()
    r, _, fields = fetch(t, addr, NAME, o.port, "/first", client=c)
    first = time.monotonic() - t0
    check_passed(r, "first request", "/first")
    check_warp_head(o, fields, "first request", path="/first")
    t0 = time.monotonic()
    r, _, fields = fetch(t, addr, NAME, o.port, "/second", client=c)
    second = time.monotonic() - t0
    check_passed(r, "second request", "/second")
    check_exact(o, fields, "second request (reused upstream connection)", "/second")
    check(o.per_conn() == [2], "origin connections carried %r requests, expected one with 2" % o.per_conn())
    check(first > 0.3, "first request took %.0f ms, expected warp's pauses (> 300 ms)" % (first * 1e3))
    check(second < first / 2, "second request took %.0f ms against %.0f ms for the first: still paused?"
          % (second * 1e3, first * 1e3))
    r, _, fields = fetch(t, addr, NAME, o2.port, "/third", client=c)
    check_passed(r, "third request (another origin: a new connection)", "/third")
    check_warp_head(o2, fields, "third request (new upstream connection)", path="/third")


def test_per_destination_rules(t):
    """Default off; `shape split plain.test` then `shape warp *.test`: the
    first match wins, and hosts matching no rule get the default."""
    names = (NAME, "plain.test", "blocked.other")
    o = ht.Origin(t)
    dns = names_dns(t, names)
    rea = dpisim.DPI(t, o.addr, "reassemble", names=[n.encode() for n in names])
    w, addr = start(t, dns, "off", rules=("shape split plain.test", "shape warp *.test"))
    r, _, fields = fetch(t, addr, NAME, rea.port)
    check_passed(r, "blocked.test (rule *.test: warp)")
    check_warp_head(o, fields, "blocked.test (rule *.test: warp)")
    f = rea.wait_flows(1)[0]
    check_warp_capture(f, "blocked.test (rule *.test: warp)")
    r, _, _ = fetch(t, addr, "plain.test", rea.port)
    check_blocked(r, "plain.test (first rule: split, not warp)")
    f = rea.wait_flows(2)[1]
    check(len(head_segments(f)) >= 3 and request_line_segment(f), "plain.test should be split: %s" % f.describe())
    check(not DUMMY_LINE_RE.search(bytes(f.stream)), "plain.test got warp's dummy headers")
    r, _, _ = fetch(t, addr, "blocked.other", rea.port)
    check_blocked(r, "blocked.other (no rule: default off)")
    f = rea.wait_flows(3)[2]
    check(len(head_segments(f)) == 1, "blocked.other should be unshaped: %s" % f.describe())
    check(len(o.requests(False)) == 1, "origin saw %d requests, expected 1" % len(o.requests(False)))
    report(rea)
    rea.check_clean()


def test_command_line_overrides(t):
    o = ht.Origin(t)
    dns = names_dns(t)
    seg = dpisim.DPI(t, o.addr, "segment")
    w, addr = start(t, dns, "warp", args=("-s", "off"))
    t0 = time.monotonic()
    r, _, _ = fetch(t, addr, NAME, seg.port)
    check_blocked(r, "shape warp in the file, -s off")
    f = seg.wait_flows(1)[0]
    check(len(head_segments(f)) == 1,
          "-s off: the head came in %d segments (%s)" % (len(head_segments(f)), f.describe()))
    check(time.monotonic() - t0 < 1.0, "-s off took %.1fs: warp's pauses?" % (time.monotonic() - t0))
    report(seg)
    seg.check_clean()


def test_ipv6(t):
    if not wd.have_ipv6():
        raise wd.Skip("no IPv6 loopback")
    o = ht.Origin(t, "::1")
    dns = names_dns(t, six=True)
    seg = dpisim.DPI(t, o.addr, "segment", host="::1")
    rea = dpisim.DPI(t, o.addr, "reassemble", host="::1")
    w, addr = start(t, dns, "split")
    r, _, fields = fetch(t, addr, NAME, seg.port)
    check_passed(r, "IPv6, shape split via segment")
    check_exact(o, fields, "IPv6, shape split via segment")
    f = seg.wait_flows(1)[0]
    check(len(head_segments(f)) >= 3 and request_line_segment(f), "IPv6 split: %s" % f.describe())
    r, _, _ = fetch(t, addr, NAME, rea.port)
    check_blocked(r, "IPv6, shape split via reassemble")
    report(seg, rea)
    seg.check_clean()
    rea.check_clean()


# ---- latency --------------------------------------------------------------------


@wd.timeout(80)
def test_latency(t):
    """Time to a full response through warpd straight to the origin (no
    simulator), median of 5 after a warm-up, per strategy."""
    o = ht.Origin(t)
    dns = names_dns(t)
    med = {}
    for strategy in ("off", "split", "warp"):
        w, addr = start(t, dns, strategy)
        c = ht.Client(t, addr, timeout=20)
        times = []
        for k in range(6):
            t0 = time.monotonic()
            r, _, _ = fetch(t, addr, NAME, o.port, "/lat%d" % k, client=c)
            dt = time.monotonic() - t0
            check_passed(r, "%s request %d" % (strategy, k), "/lat%d" % k)
            if k:
                times.append(dt)
        med[strategy] = statistics.median(times)
        c.sock.close()
        w.stop()
    ms = {k: v * 1e3 for k, v in med.items()}
    line = "latency: off %.1f ms, split %.1f ms, warp %.0f ms" % (ms["off"], ms["split"], ms["warp"])
    print(line, flush=True)
    check(med["split"] - med["off"] < 0.050,
          "split adds %.1f ms over off, expected < 50" % ((med["split"] - med["off"]) * 1e3))
    check(med["warp"] > 1.0, "warp took %.0f ms, expected > 1 s (its pauses)" % (med["warp"] * 1e3))
    o.check_clean()


if __name__ == "__main__":
    why = dpisim.capture_unavailable()
    if why:
        print("skip: %s" % why)
        sys.exit(77)
    wd.main(globals())
