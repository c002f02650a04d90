"""SOCKS5 and SOCKS4/4a on the forward port (issue 11, section 1): curl's
four SOCKS options and an HTTP proxy request on the same port, names
resolved by warpd through its own resolver (a fake DNS here), RFC 1929
credentials checked against auth_user, and the reply code of every failure
at the byte level: a command other than CONNECT, a port connect_ports does
not allow, a refused port, an unknown name, warpd's own address, an unknown
address type, a malformed greeting, a client that stops mid-greeting, and
bytes sent right after the request, which reach the upstream."""

import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httptest as ht  # noqa: E402
import wdtest as wd  # noqa: E402
from wdtest import check  # noqa: E402

SOCKS_RE = r"client=\S+ proto=socks(?P<v>\d)(?: user=(?P<user>\S+))? target=(?P<target>\S+) reply=(?P<rep>-?\d+) "


def start(t, extra="", dns=None):
    dns = dns or ht.FakeDNS(t)
    w, addr = ht.start_http(t, extra="connect_ports any\nheader_timeout 2s\n" + extra, dns=dns)
    return w, addr, dns


def curl(args, timeout=10):
    return subprocess.run(["curl", "-s", "-S", "-m", "5"] + args, capture_output=True, timeout=timeout)


def socks_lines(w):
    import re

    out = []
    for line in w.text():
        m = re.search(SOCKS_RE, line)
        if m and " access: " in line:
            out.append(m.groupdict())
    return out


def test_curl_every_variant_and_http_on_one_port(t):
    o = ht.Origin(t)
    w, addr, dns = start(t)
    proxy = wd.addr_text(addr)
    url_ip = "http://127.0.0.1:%d/s" % o.addr[1]
    url_name = "http://origin.test:%d/s" % o.addr[1]
    for opt, url in (("--socks5-hostname", url_name), ("--socks5", url_ip), ("--socks4a", url_name), ("--socks4", url_ip)):
        r = curl([opt, proxy, url])
        check(r.returncode == 0 and r.stdout == b"GET /s\n", "%s %s: rc %d %r %r" % (opt, url, r.returncode, r.stdout, r.stderr))
    r = curl(["-x", "http://" + proxy, url_ip])
    check(r.returncode == 0 and r.stdout == b"GET /s\n", "HTTP proxy on the same port: %r %r" % (r.stdout, r.stderr))
    wd.wait_until(lambda: len(socks_lines(w)) >= 4, 5, "four SOCKS access lines")
    lines = socks_lines(w)
    check([l["v"] for l in lines] == ["5", "5", "4", "4"], "access lines: %r" % lines)
    check(lines[0]["target"] == "origin.test:%d" % o.addr[1], "socks5h target: %r" % lines[0])
    check(all(l["rep"] in ("0", "90") for l in lines), "replies: %r" % lines)
    check(dns.asked("origin.test"), "warpd did not resolve the name itself")
    o.check_clean()


def test_credentials(t):
    o = ht.Origin(t)
    w, addr, dns = start(t, "auth_user alice s3cret")
    url = "http://127.0.0.1:%d/a" % o.addr[1]
    r = curl(["-x", "socks5h://alice:s3cret@%s" % wd.addr_text(addr), url])
    check(r.returncode == 0 and r.stdout == b"GET /a\n", "right credentials: %r %r" % (r.stdout, r.stderr))
    r = curl(["-x", "socks5h://alice:wrong@%s" % wd.addr_text(addr), url])
    check(r.returncode != 0, "wrong credentials were accepted")
    r = curl(["-x", "socks5h://%s" % wd.addr_text(addr), url])
    check(r.returncode != 0, "no credentials were accepted")
    r = curl(["--socks4", wd.addr_text(addr), url])
    check(r.returncode != 0, "SOCKS4 was accepted with auth_user set")
    # At the byte level: only user/password is offered, a wrong one gets 0x01.
    c = t.connect(addr)
    c.sendall(b"\x05\x01\x00")
    check(wd.recv_exact(c, 2, 5) == b"\x05\xff", "no-auth offered alone with users set")
    c = t.connect(addr)
    c.sendall(b"\x05\x02\x00\x02")
    check(wd.recv_exact(c, 2, 5) == b"\x05\x02", "method choice with users set")
    c.sendall(b"\x01\x05alice\x05wrong")
    check(wd.recv_exact(c, 2, 5) == b"\x01\x01", "wrong password status")
    how, _ = wd.expect_closed(c, 3)
    wd.wait_until(lambda: any(l.get("user") == "alice" for l in socks_lines(w)), 5, "an access line with user=alice")
    check(not any("s3cret" in l or "wrong" in l for l in w.text()), "a password reached the log")
    check(len(o.requests()) == 1, "the origin saw %d requests, expected 1" % len(o.requests()))


def socks5_request(c, atyp_addr, port, cmd=1):
    c.sendall(b"\x05\x01\x00")
    check(wd.recv_exact(c, 2, 5) == b"\x05\x00", "method choice")
    c.sendall(b"\x05" + bytes([cmd]) + b"\x00" + atyp_addr + struct.pack(">H", port))
    head = wd.recv_exact(c, 4, 5)
    rest = wd.recv_exact(c, {1: 6, 4: 18}[head[3]], 5)
    return head, rest


def ipv4(a):
    return b"\x01" + socket.inet_aton(a)


def name(n):
    return b"\x03" + bytes([len(n)]) + n.encode()


def test_reply_codes(t):
    e = ht.RecordingEcho(t)
    w, addr, dns = start(t, "")
    held = t.add(wd.reserve_closed_port())
    closed = held.getsockname()[1]
    cases = [
        ("BIND", ipv4("127.0.0.1"), e.port, 2, 0x07),
        ("UDP ASSOCIATE", ipv4("127.0.0.1"), e.port, 3, 0x07),
        ("a refused port", ipv4("127.0.0.1"), closed, 1, 0x05),
        ("an unknown name", name("nx.test"), 80, 1, 0x04),
        ("warpd itself", ipv4("127.0.0.1"), addr[1], 1, 0x02),
    ]
    for what, a, port, cmd, want in cases:
        c = t.connect(addr)
        head, _ = socks5_request(c, a, port, cmd)
        check(head[0] == 5 and head[1] == want, "%s: reply %r, expected 0x%02x" % (what, head, want))
        how, _ = wd.expect_closed(c, 3)
    # connect_ports: a port not in the list is not allowed (0x02), by SOCKS5 and SOCKS4.
    w2, addr2, _ = start(t, "connect_ports 443", dns=dns)
    c = t.connect(addr2)
    head, _ = socks5_request(c, ipv4("127.0.0.1"), e.port)
    check(head[1] == 0x02, "connect_ports: %r" % head)
    c = t.connect(addr2)
    c.sendall(b"\x04\x01" + struct.pack(">H", e.port) + socket.inet_aton("127.0.0.1") + b"u\x00")
    check(wd.recv_exact(c, 8, 5)[:2] == b"\x00\x5b", "SOCKS4 to a port connect_ports does not allow")
    # An address type SOCKS5 does not have: 0x08.
    c = t.connect(addr)
    c.sendall(b"\x05\x01\x00")
    check(wd.recv_exact(c, 2, 5) == b"\x05\x00", "method choice")
    c.sendall(b"\x05\x01\x00\x09abcdef")
    check(wd.recv_exact(c, 2, 5) == b"\x05\x08", "unknown address type")


def tcp_exists(local, remote):
    def hexaddr(a):
        return "%s:%04X" % (socket.inet_aton(a[0])[::-1].hex().upper(), a[1])

    with open("/proc/net/tcp") as f:
        next(f)
        return any(l.split()[1] == hexaddr(local) and l.split()[2] == hexaddr(remote) for l in f)


def test_success_reply_and_early_data(t):
    e = ht.RecordingEcho(t)
    w, addr, dns = start(t)
    c = t.connect(addr)
    # Greeting, request and the first application bytes in one write.
    c.sendall(b"\x05\x01\x00" + b"\x05\x01\x00" + ipv4("127.0.0.1") + struct.pack(">H", e.port) + b"early")
    check(wd.recv_exact(c, 2, 5) == b"\x05\x00", "method choice")
    head = wd.recv_exact(c, 10, 5)
    check(head[:4] == b"\x05\x00\x00\x01", "success reply %r" % head)
    bound = (socket.inet_ntoa(head[4:8]), struct.unpack(">H", head[8:10])[0])
    check(bound[0] == "127.0.0.1" and bound[1] != 0, "bound address %r" % (bound,))
    check(wd.recv_exact(c, 5, 5) == b"early", "the early bytes did not come back through the tunnel")
    c.sendall(b" more")
    check(wd.recv_exact(c, 5, 5) == b" more", "the tunnel does not relay")
    # The bound address is the upstream socket's own: a connection from that
    # port to the echo server exists.
    check(tcp_exists(bound, ("127.0.0.1", e.port)), "no connection from %r to the echo server" % (bound,))


def test_socks4a_by_name_with_userid(t):
    e = ht.RecordingEcho(t)
    w, addr, dns = start(t)
    c = t.connect(addr)
    c.sendall(b"\x04\x01" + struct.pack(">H", e.port) + b"\x00\x00\x00\x01" + b"someone\x00" + b"origin.test\x00hi")
    r = wd.recv_exact(c, 8, 5)
    check(r[:2] == b"\x00\x5a", "SOCKS4a granted: %r" % r)
    check(wd.recv_exact(c, 2, 5) == b"hi", "early data after a SOCKS4a request")


def test_bad_greetings_and_a_hang(t):
    w, addr, dns = start(t)
    for what, data in (("no methods", b"\x05\x00"), ("SOCKS5 request with RSV set", b"\x05\x01\x00\x05\x01\x01\x01")):
        c = t.connect(addr)
        c.sendall(data)
        got = b""
        c.settimeout(3)
        try:
            while True:
                b = c.recv(100)
                if not b:
                    break
                got += b
        except (ConnectionResetError, socket.timeout):
            pass
        check(got in (b"", b"\x05\x00", b"\x05\x00\x05\x01\x00\x01\x00\x00\x00\x00\x00\x00"), "%s: got %r" % (what, got))
        c.close()
    # A client that stops in the middle of its greeting is closed at header_timeout (2 s).
    c = t.connect(addr)
    c.sendall(b"\x05")
    t0 = time.monotonic()
    how, _ = wd.expect_closed(c, 6)
    took = time.monotonic() - t0
    check(1.5 <= took <= 5, "a half greeting was closed after %.1fs (header_timeout 2s)" % took)
    wd.wait_until(lambda: any("did not arrive in time" in l for l in w.text()), 3, "the timeout's access line")


def test_socks_off(t):
    w, addr, dns = start(t, "socks off")
    c = t.connect(addr)
    c.sendall(b"\x05\x01\x00")
    c.settimeout(5)
    got = c.recv(200)
    check(got.startswith(b"HTTP/1.1 400"), "socks off: a SOCKS greeting got %r, expected HTTP 400" % got[:40])


if __name__ == "__main__":
    wd.main(globals())
