"""PROXY protocol headers in front of clients (issue 11, section 4, the
receiving side): `listen ADDR proxy_protocol` takes a v1 or v2 header before
anything else, in every mode; the address it carries becomes the client's
for the access log and allow/deny; the bytes after it reach the intake
untouched. No header within header_timeout, a broken one, or one from a
peer proxy_protocol_from does not list: closed, with a log line."""

import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httptest as ht  # noqa: E402
import wdtest as wd  # noqa: E402
from wdtest import check  # noqa: E402

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(src, sport, dst=None, dport=80):
    fam = "TCP6" if ":" in src else "TCP4"
    dst = dst or ("::1" if ":" in src else "127.0.0.1")
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport, dport)).encode()


def v2(src, sport, dst=None, dport=80, local=False, tlv=b""):
    dst = dst or ("::1" if ":" in src else "127.0.0.1")
    if local:
        return V2_SIG + b"\x20\x00" + struct.pack(">H", len(tlv)) + tlv
    if ":" in src:
        body = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
        fam = b"\x21"
    else:
        body = socket.inet_aton(src) + socket.inet_aton(dst)
        fam = b"\x11"
    body += struct.pack(">HH", sport, dport) + tlv
    return V2_SIG + b"\x21" + fam + struct.pack(">H", len(body)) + body


def start(t, mode="reverse", extra=""):
    o = ht.Origin(t)
    port = wd.free_port()
    w, addr = ht.start_http(
        t,
        mode=mode,
        upstream=o.text if mode == "reverse" else None,
        extra="listen 127.0.0.1:%d proxy_protocol\nheader_timeout 2s\n%s" % (port, extra),
    )
    return o, w, ("127.0.0.1", port)


def get(t, addr, header, path="/p"):
    c = ht.Client(t, addr)
    c.send(header + ht.request("GET", path, [("Host", "backend")]))
    return c.response()


def test_v1_and_v2_carry_the_client(t):
    o, w, addr = start(t)
    cases = [
        (v1("192.0.2.7", 40000), "192.0.2.7:40000"),
        (v1("2001:db8::7", 40001), "[2001:db8::7]:40001"),
        (v2("198.51.100.9", 40002), "198.51.100.9:40002"),
        (v2("2001:db8::9", 40003, "::1"), "[2001:db8::9]:40003"),
        (v2("198.51.100.10", 40004, tlv=b"\x05\x00\x03abc"), "198.51.100.10:40004"),
    ]
    mark = w.mark()
    for header, _ in cases:
        r = get(t, addr, header)
        check(r.status == 200 and r.body == b"GET /p\n", "answer %r" % r)
    wd.wait_until(lambda: len(ht.access(w, mark)) >= len(cases), 5, "the access lines")
    clients = [a["client"] for a in ht.access(w, mark)]
    check(clients == [c for _, c in cases], "access lines name %r" % clients)
    # The origin got the request only, never a header byte.
    check(all(q.head.raw.startswith(b"GET /p ") for q in o.requests()), "a PROXY header reached the origin")
    o.check_clean()


def test_local_keeps_the_peer(t):
    o, w, addr = start(t)
    mark = w.mark()
    r = get(t, addr, v2("", 0, local=True))
    check(r.status == 200, "v2 LOCAL: %r" % r)
    wd.wait_until(lambda: ht.access(w, mark), 5, "the access line")
    check(ht.access(w, mark)[0]["client"].startswith("127.0.0.1:"), "LOCAL: %r" % ht.access(w, mark))


def test_allow_deny_use_the_carried_address(t):
    o, w, addr = start(t, extra="deny 192.0.2.0/24\nallow all")
    r = get(t, addr, v1("192.0.2.7", 40000))
    check(r.status == 403, "a denied carried address got %r" % r)
    r = get(t, addr, v1("198.51.100.1", 40000))
    check(r.status == 200, "an allowed carried address got %r" % r)
    check(len(o.requests()) == 1, "the origin saw %d requests" % len(o.requests()))


def expect_refused(t, w, addr, data, log, wait=3):
    mark = w.mark()
    c = t.connect(addr)
    if data:
        c.sendall(data)
    how, _ = wd.expect_closed(c, wait + 2)
    w.wait_log(log, wait, mark)


def test_refused_headers(t):
    o, w, addr = start(t)
    expect_refused(t, w, addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", r"PROXY protocol header refused \(no PROXY header\)")
    expect_refused(t, w, addr, b"PROXY TCP4 192.0.2.1 ::1 1 2\r\n", r"PROXY protocol header refused \(malformed\)")
    expect_refused(t, w, addr, V2_SIG + b"\x21\x12\x00\x0c" + b"\x00" * 12, r"PROXY protocol header refused \(address family not taken\)")
    t0 = time.monotonic()
    expect_refused(t, w, addr, b"PROXY TCP4 192.0", r"no PROXY protocol header within header_timeout", wait=5)
    check(time.monotonic() - t0 >= 1.5, "a half header was closed before header_timeout (2s)")
    check(not o.requests(), "a refused connection reached the origin")


def test_proxy_protocol_from(t):
    o, w, addr = start(t, extra="proxy_protocol_from 10.0.0.0/8 192.0.2.1")
    expect_refused(t, w, addr, v1("198.51.100.1", 1), r"not accepted from this peer \(proxy_protocol_from\)")
    o2, w2, addr2 = start(t, extra="proxy_protocol_from 127.0.0.0/8")
    r = get(t, addr2, v1("198.51.100.1", 1))
    check(r.status == 200, "a listed peer: %r" % r)


def test_tcp_and_forward_modes(t):
    e = ht.RecordingEcho(t)
    port = wd.free_port()
    cfg = t.tcp_config(port, e.server.text if hasattr(e.server, "text") else wd.addr_text(e.addr), workers=1,
                       extra="listen 127.0.0.1:%d proxy_protocol" % port)
    w = t.warpd(config=cfg, nworkers=1)
    c = t.connect(("127.0.0.1", port))
    c.sendall(v2("203.0.113.5", 5555) + b"payload")
    check(wd.recv_exact(c, 7, 5) == b"payload", "the bytes after the header did not reach the upstream")
    c.close()
    wd.wait_until(lambda: e.raw and bytes(e.raw[0]) == b"payload", 5, "the upstream to get exactly the payload")
    wd.wait_until(lambda: any("client=203.0.113.5:5555" in l for l in w.text()), 5, "a tcp-mode access line with the carried client")
    # forward mode, with SOCKS on the same port behind the header
    o, wf, addrf = start(t, mode="forward", extra="connect_ports any")
    c = t.connect(addrf)
    c.sendall(v1("203.0.113.6", 6666) + b"\x05\x01\x00")
    check(wd.recv_exact(c, 2, 5) == b"\x05\x00", "SOCKS5 behind a PROXY header")


def test_upstream_proxy_protocol_tcp(t):
    """tcp mode: the upstream gets the header first (v1 and v2), naming the
    client and the address it connected to, then the client's bytes."""
    for version in ("v1", "v2"):
        e = ht.RecordingEcho(t)
        port = wd.free_port()
        cfg = t.tcp_config(port, wd.addr_text(e.addr), workers=1, extra="upstream_proxy_protocol %s" % version,
                           name="tcp-%s.conf" % version)
        w = t.warpd(config=cfg, nworkers=1)
        c = t.connect(("127.0.0.1", port))
        c.sendall(b"data")
        mine = c.getsockname()
        wd.wait_until(lambda: e.raw and len(e.raw[0]) >= 4 and bytes(e.raw[0]).endswith(b"data"), 5, "the upstream's bytes")
        raw = bytes(e.raw[0])
        if version == "v1":
            want = ("PROXY TCP4 %s 127.0.0.1 %d %d\r\ndata" % (mine[0], mine[1], port)).encode()
            check(raw == want, "upstream got %r, expected %r" % (raw, want))
        else:
            want = v2(mine[0], mine[1], "127.0.0.1", port) + b"data"
            check(raw == want, "upstream got %r, expected %r" % (raw, want))
        c.close()
        w.stop()


def test_upstream_proxy_protocol_reverse_carries_the_front_header(t):
    """reverse mode behind a balancer: the client address of the PROXY header
    in front goes on in the header warpd sends upstream, each request on a
    fresh upstream connection."""
    got = []

    def handler(sock, srv):
        rd = ht.Reader(sock, timeout=5)
        try:
            while True:
                line = rd.read_line()
                head = rd.read_until(b"\r\n\r\n")
                got.append(line)
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except Exception:
            pass

    srv = t.server(handler, name="pp-origin")
    port = wd.free_port()
    w, _ = ht.start_http(t, mode="reverse", upstream=wd.addr_text(srv.addr),
                         extra="listen 127.0.0.1:%d proxy_protocol\nupstream_proxy_protocol v1" % port)
    c = ht.Client(t, ("127.0.0.1", port))
    c.send(v1("192.0.2.44", 4444) + ht.request("GET", "/1", [("Host", "b")]))
    check(c.response().status == 200, "first request")
    c.send(ht.request("GET", "/2", [("Host", "b")]))
    check(c.response().status == 200, "second request")
    wd.wait_until(lambda: len(got) >= 2, 5, "two upstream connections")
    check(all(l.startswith(b"PROXY TCP4 192.0.2.44 127.0.0.1 4444 %d" % port) for l in got[:2]), "upstream headers %r" % got)
    check(srv.accepted >= 2, "the two requests shared an upstream connection")


def test_upstream_proxy_protocol_refused_in_forward_mode(t):
    cfg = t.config("listen 127.0.0.1:%d\nmode forward\nupstream_proxy_protocol v2\n" % wd.free_port())
    r = t.run(["-t", "-c", cfg])
    check(r.returncode == 2 and "upstream_proxy_protocol works in tcp and reverse modes only" in r.stderr, "%s" % r)


if __name__ == "__main__":
    wd.main(globals())
