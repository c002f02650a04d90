"""The destination filter (issue 13, part 2): deny_dest and allow_dest on
every address warpd is about to connect to, after DNS. On loopback: a name
the fake DNS resolves to a denied address is refused (no DNS-rebinding
hole), a name with a denied and an allowed address reaches the allowed one,
IPv4 and IPv6 literals, bracketed IPv6 with ports, IPv4-mapped IPv6 matched
as IPv4, port lists, first match wins; every intake answers as its protocol
says (HTTP and CONNECT 403, SOCKS5 0x02, SOCKS4 0x5B, transparent: closed)
with an access line saying why, and a denied address is never connected
to. In a network namespace of its own (198.18.0.1 on a veth interface,
root only) the safe default of a non-loopback listener: loopback,
link-local, unspecified and warpd's own address refused, private networks
not, allow_dest before the default wins. Config errors name file:line."""

import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httptest as ht  # noqa: E402
import wdtest as wd  # noqa: E402
from wdtest import check  # noqa: E402

SOCKS_RE = re.compile(r"client=\S+ proto=socks(?P<v>\d) target=(?P<target>\S+) reply=(?P<rep>-?\d+) "
                      r"upstream=(?P<upstream>\S+) .*close=\"(?P<close>[^\"]*)\"")
DEST_LOG = re.compile(r"info: \S+: destination (?P<addr>\S+) denied \((?P<why>[^)]*)\)")


def need_second_loopback():
    s = socket.socket()
    try:
        s.bind(("127.0.0.2", 0))
    except OSError as e:
        raise wd.Skip("cannot bind 127.0.0.2: %s" % e)
    finally:
        s.close()


class Trap:
    """A listening socket that is never accepted from: whatever connects to
    it stays in its queue, so that a test can tell that nobody did."""

    def __init__(self, t, host, port=0):
        self.sock = socket.socket(wd.family_of(host), socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.addr = self.sock.getsockname()[:2]
        self.port = self.addr[1]
        t.add(self)

    def untouched(self):
        self.sock.setblocking(False)
        try:
            c, _ = self.sock.accept()
        except BlockingIOError:
            return True
        c.close()
        return False

    def close(self):
        self.sock.close()


def start_rules(t, rules, dns=None, host="127.0.0.1"):
    """warpd with rules appended to httptest's config (deny_dest and
    allow_dest lines repeat, which http_config's one-line-per-directive
    dict cannot write)."""
    dns = dns or ht.FakeDNS(t)
    port = wd.free_port(host)
    path = ht.http_config(t, port, "forward", 1, "connect_ports any\nheader_timeout 3s\n", None, dns, host)
    with open(path) as f:
        text = f.read()
    cfg = t.config(text + rules, "dest.conf")
    w = t.warpd(config=cfg, nworkers=1)
    return w, (host, port), dns


def get_status(t, addr, target, host_field):
    c = ht.Client(t, addr)
    c.send(ht.request("GET", target, [("Host", host_field)]))
    return c, c.response()


def expect_403(t, w, addr, target, host_field, close):
    c, r = get_status(t, addr, target, host_field)
    ht.check_error(r, 403)
    check(close.encode() in r.body, "403 body %r does not say %r" % (r.body, close))
    a = ht.wait_access(w, lambda a: a["target"] == target, what="the access line of %s" % target)
    check(a["status"] == "403" and a["upstream"] == "-", "access line: %s" % a["line"])
    check(a["close"] == close, "close reason %r, expected %r" % (a["close"], close))


def expect_200(t, w, addr, target, host_field):
    c, r = get_status(t, addr, target, host_field)
    check(r.status == 200, "%s: status %d %r" % (target, r.status, r.body[:200]))
    return r


# ---- HTTP, loopback listener, explicit rules ------------------------------


@wd.timeout(60)
def test_http_names_and_literals(t):
    need_second_loopback()
    o = ht.Origin(t)
    trap = Trap(t, "127.0.0.2", o.port)  # the same port on the denied address
    dns = ht.FakeDNS(t)
    dns.add("evil.test", a=["127.0.0.2"])
    dns.add("multi.test", a=["127.0.0.2", "127.0.0.1"])
    w, addr, _ = start_rules(t, "deny_dest 127.0.0.2\n", dns)
    p = o.port
    # A name that resolves to a denied address (DNS rebinding): 403.
    expect_403(t, w, addr, "http://evil.test:%d/a" % p, "evil.test:%d" % p,
               "destination 127.0.0.2:%d denied (deny_dest 127.0.0.2)" % p)
    # The literal, and the IPv4-mapped IPv6 literal, are the same address.
    expect_403(t, w, addr, "http://127.0.0.2:%d/b" % p, "127.0.0.2:%d" % p,
               "destination 127.0.0.2:%d denied (deny_dest 127.0.0.2)" % p)
    expect_403(t, w, addr, "http://[::ffff:127.0.0.2]:%d/c" % p, "[::ffff:127.0.0.2]:%d" % p,
               "destination [::ffff:127.0.0.2]:%d denied (deny_dest 127.0.0.2)" % p)
    # A name with a denied and an allowed address: the allowed one is used.
    expect_200(t, w, addr, "http://multi.test:%d/d" % p, "multi.test:%d" % p)
    a = ht.wait_access(w, lambda a: a["target"].endswith("/d"))
    check(a["upstream"] == "127.0.0.1:%d" % p, "multi.test went to %s" % a["upstream"])
    expect_200(t, w, addr, "http://127.0.0.1:%d/e" % p, "127.0.0.1:%d" % p)
    check(trap.untouched(), "warpd connected to the denied address")
    check([q.target for q in o.requests()] == ["/d", "/e"], "origin got %r" % [q.target for q in o.requests()])
    # One info line per refusal, naming the address and the rule.
    wd.wait_until(lambda: len([l for l in w.text() if DEST_LOG.search(l)]) == 3, 5, "three 'destination denied' lines")
    o.check_clean()


@wd.timeout(60)
def test_ports_and_first_match(t):
    o1, o2, o3 = ht.Origin(t), ht.Origin(t), ht.Origin(t)
    rules = ("allow_dest 127.0.0.1:%d\n"
             "deny_dest 127.0.0.0/8:%d,%d-%d\n" % (o1.port, o1.port, o2.port, o2.port))
    w, addr, _ = start_rules(t, rules)
    # The allow_dest before the deny_dest that also matches wins.
    expect_200(t, w, addr, "http://127.0.0.1:%d/one" % o1.port, "x")
    # A port in the list (as a range) is denied; one not in it is allowed.
    expect_403(t, w, addr, "http://127.0.0.1:%d/two" % o2.port, "x",
               "destination 127.0.0.1:%d denied (deny_dest 127.0.0.0/8:%d,%d)" % (o2.port, o1.port, o2.port))
    expect_200(t, w, addr, "http://127.0.0.1:%d/three" % o3.port, "x")
    check(o2.accepted == 0, "the denied port was connected to")


@wd.timeout(60)
def test_ipv6_literals_and_brackets(t):
    if not wd.have_ipv6():
        raise wd.Skip("no IPv6 loopback")
    o6, o6b = ht.Origin(t, host="::1"), ht.Origin(t, host="::1")
    w, addr, _ = start_rules(t, "deny_dest [::1]/128:%d\n" % o6.port)
    expect_403(t, w, addr, "http://[::1]:%d/v6" % o6.port, "x",
               "destination [::1]:%d denied (deny_dest [::1]:%d)" % (o6.port, o6.port))
    expect_200(t, w, addr, "http://[::1]:%d/v6ok" % o6b.port, "x")
    check(o6.accepted == 0, "the denied IPv6 address was connected to")
    # An IPv6 network without ports, and a name with only an AAAA record.
    dns = ht.FakeDNS(t)
    w2, addr2, _ = start_rules(t, "deny_dest ::/64\n", dns)
    expect_403(t, w2, addr2, "http://origin6.test:%d/n" % o6b.port, "x",
               "destination [::1]:%d denied (deny_dest ::/64)" % o6b.port)
    check(dns.asked("origin6.test"), "warpd did not resolve origin6.test")


# ---- CONNECT and SOCKS -------------------------------------------------------


@wd.timeout(60)
def test_connect_and_socks(t):
    need_second_loopback()
    e = ht.RecordingEcho(t)
    trap = Trap(t, "127.0.0.2", e.port)
    dns = ht.FakeDNS(t)
    dns.add("evil.test", a=["127.0.0.2"])
    w, addr, _ = start_rules(t, "deny_dest 127.0.0.2:%d\n" % e.port, dns)
    why = "destination 127.0.0.2:%d denied (deny_dest 127.0.0.2:%d)" % (e.port, e.port)
    # CONNECT by name: 403.
    c = ht.Client(t, addr)
    c.send(ht.request("CONNECT", "evil.test:%d" % e.port, [("Host", "evil.test:%d" % e.port)]))
    ht.check_error(c.response("CONNECT"), 403)
    a = ht.wait_access(w, lambda a: a["method"] == "CONNECT")
    check(a["status"] == "403" and a["close"] == why, "CONNECT access line: %s" % a["line"])
    # CONNECT to an allowed address: the tunnel.
    c = ht.Client(t, addr)
    c.send(ht.request("CONNECT", "127.0.0.1:%d" % e.port, [("Host", "127.0.0.1:%d" % e.port)]))
    check(c.response("CONNECT").status == 200, "CONNECT to an allowed address")
    # SOCKS5 by name and by address: reply 0x02.
    for atyp in (b"\x03" + bytes([9]) + b"evil.test", b"\x01" + socket.inet_aton("127.0.0.2")):
        s = t.connect(addr)
        s.sendall(b"\x05\x01\x00")
        check(wd.recv_exact(s, 2, 5) == b"\x05\x00", "method choice")
        s.sendall(b"\x05\x01\x00" + atyp + struct.pack(">H", e.port))
        head = wd.recv_exact(s, 4, 5)
        check(head[:2] == b"\x05\x02", "SOCKS5 to a denied destination: reply %r" % head)
        wd.recv_exact(s, {1: 6, 4: 18}[head[3]], 5)  # the (empty) bound address
        wd.expect_closed(s, 3)
    # SOCKS4 by address and SOCKS4a by name: 0x5B.
    for req in (b"\x04\x01" + struct.pack(">H", e.port) + socket.inet_aton("127.0.0.2") + b"u\x00",
                b"\x04\x01" + struct.pack(">H", e.port) + b"\x00\x00\x00\x01u\x00evil.test\x00"):
        s = t.connect(addr)
        s.sendall(req)
        check(wd.recv_exact(s, 8, 5)[:2] == b"\x00\x5b", "SOCKS4 to a denied destination")
        wd.expect_closed(s, 3)

    def socks_lines():
        return [m.groupdict() for m in (SOCKS_RE.search(l) for l in w.text() if " access: " in l) if m]

    wd.wait_until(lambda: len(socks_lines()) == 4, 5, "four SOCKS access lines")
    lines = socks_lines()
    check([l["rep"] for l in lines] == ["2", "2", "91", "91"], "replies: %r" % lines)
    check(all(l["close"] == why and l["upstream"] == "-" for l in lines), "SOCKS access lines: %r" % lines)
    check(trap.untouched(), "warpd connected to the denied address")


# ---- transparent mode --------------------------------------------------------


@wd.timeout(60)
def test_transparent_denied(t):
    import test_transparent as tt

    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nft"):
        raise wd.Skip("needs root, ip and nft")
    net = tt.Net(t)
    port = 18800
    tt.sh(*net.ex(net.c), "nft", "-f", t.write("rules.nft", tt.rules(port)))
    cfg = t.config("listen 127.0.0.1:%d\nmode transparent\nworkers 1\nupstream_mark %d\nshape off\n"
                   "deny_dest 198.18.0.2:80\n" % (port, tt.MARK))
    w = t.warpd(config=cfg, nworkers=1, wrap=net.ex(net.c))
    r = tt.sh(*net.ex(net.c), "curl", "-s", "-m", "5", "--noproxy", "*", "http://198.18.0.2/x", check_rc=False)
    check(r.returncode != 0, "a denied destination was relayed")
    line = wd.wait_until(lambda: next((l for l in w.text() if " access: " in l and "proto=transparent" in l), None),
                         5, "the transparent access line")
    check(" upstream=- " in line and line.endswith('close="destination 198.18.0.2:80 denied (deny_dest 198.18.0.2:80)"'),
          "transparent access line: %s" % line)


# ---- the safe default, listening on a network ---------------------------------

SERVE_PY = r"""
import http.server, socketserver, socket, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%s saw %s\n" % (self.server.server_address[0], self.path)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S6(socketserver.TCPServer):
    address_family = socket.AF_INET6
socketserver.TCPServer.allow_reuse_address = True
servers = [socketserver.TCPServer((a, 80), H) for a in ("127.0.0.1", "198.18.0.1", "10.77.0.1")]
servers.append(S6(("::1", 80), H))
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
print("ready", flush=True)
servers[0].serve_forever()
"""


class Netns:
    """One namespace with lo up and one end of a veth pair (both ends in
    it) holding 198.18.0.1/24 and 10.77.0.1/24, removed by name."""

    def __init__(self, t):
        self.name = "wdt-dest-%d" % os.getpid()
        t.add(self)
        run("ip", "netns", "add", self.name)
        run("ip", "-n", self.name, "link", "set", "lo", "up")
        run("ip", "-n", self.name, "link", "add", "wd0", "type", "veth", "peer", "name", "wd1")
        run("ip", "-n", self.name, "link", "set", "wd1", "up")
        run("ip", "-n", self.name, "addr", "add", "198.18.0.1/24", "dev", "wd0")
        run("ip", "-n", self.name, "addr", "add", "10.77.0.1/24", "dev", "wd0")
        run("ip", "-n", self.name, "link", "set", "wd0", "up")

    def ex(self):
        return ["ip", "netns", "exec", self.name]

    def close(self):
        run("ip", "netns", "del", self.name, check_rc=False)


class Served:
    def __init__(self, t, ns):
        self.p = subprocess.Popen(ns.ex() + [sys.executable, "-c", SERVE_PY], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        t.add(self)
        line = self.p.stdout.readline()
        check(line.strip() == b"ready", "the origins in the namespace did not start")

    def close(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        self.p.stdout.close()


def run(*argv, check_rc=True):
    r = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    if check_rc and r.returncode != 0:
        raise wd.Fail("%s: %s" % (" ".join(argv), r.stderr.strip()))
    return r


def curl_in(ns, args):
    """curl inside ns: (HTTP status or 0, exit status)."""
    r = run(*ns.ex(), "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "5", *args, check_rc=False)
    return int(r.stdout or 0), r.returncode


@wd.timeout(90)
def test_safe_default_on_a_network(t):
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("curl"):
        raise wd.Skip("needs root, ip and curl")
    ns = Netns(t)
    Served(t, ns)
    cfg = t.config("listen 198.18.0.1:8800\nworkers 1\nshape off\nconnect_ports any\nallow 198.18.0.0/24\n"
                   "connect_timeout 2s\n")
    w = t.warpd(config=cfg, nworkers=1, wrap=ns.ex())
    proxy = ["-x", "http://198.18.0.1:8800"]
    denied = [
        ("http://127.0.0.1/", "destination 127.0.0.1:80 denied (default: loopback)"),
        ("http://127.1.2.3/", "destination 127.1.2.3:80 denied (default: loopback)"),
        ("http://[::1]/", "destination [::1]:80 denied (default: loopback)"),
        ("http://[::ffff:127.0.0.1]/", "destination [::ffff:127.0.0.1]:80 denied (default: loopback)"),
        ("http://169.254.169.254/latest/meta-data/", "destination 169.254.169.254:80 denied (default: link-local)"),
        ("http://[fe80::1]/", "destination [fe80::1]:80 denied (default: link-local)"),
        ("http://0.0.0.0/", "destination 0.0.0.0:80 denied (default: unspecified)"),
    ]
    for url, why in denied:
        status, _ = curl_in(ns, proxy + ["-g", url])
        check(status == 403, "%s through a network listener: %d, expected 403" % (url, status))
        a = ht.wait_access(w, lambda a: a["target"] == url, what="the access line of %s" % url)
        check(a["close"] == why, "%s: close %r, expected %r" % (url, a["close"], why))
    # warpd's own address and port: a loop (508, checked before the filter).
    status, _ = curl_in(ns, proxy + ["http://198.18.0.1:8800/"])
    check(status == 508, "warpd's own listen address: %d" % status)
    # Private networks and warpd's own address on another port stay allowed.
    for url in ("http://10.77.0.1/", "http://198.18.0.1/"):
        status, _ = curl_in(ns, proxy + [url])
        check(status == 200, "%s: %d, expected 200" % (url, status))
    # CONNECT and SOCKS5 get the default too.
    status, rc = curl_in(ns, proxy + ["-p", "http://127.0.0.1/"])
    check(rc != 0, "CONNECT to loopback through a network listener succeeded")
    status, rc = curl_in(ns, ["--socks5-hostname", "198.18.0.1:8800", "http://127.0.0.1/"])
    check(rc != 0, "SOCKS5 to loopback through a network listener succeeded")
    wd.wait_until(lambda: any(" reply=2 " in l and "default: loopback" in l for l in w.text()), 5,
                  "the SOCKS access line")

    # allow_dest before the default wins, port by port.
    cfg2 = t.config("listen 198.18.0.1:8801\nworkers 1\nshape off\nallow 198.18.0.0/24\n"
                    "allow_dest 127.0.0.1:80 [::1]:80\n", "w2.conf")
    w2 = t.warpd(config=cfg2, nworkers=1, wrap=ns.ex())
    proxy2 = ["-x", "http://198.18.0.1:8801"]
    for url in ("http://127.0.0.1/", "http://[::1]/"):
        status, _ = curl_in(ns, proxy2 + ["-g", url])
        check(status == 200, "%s with allow_dest: %d" % (url, status))
    status, _ = curl_in(ns, proxy2 + ["http://127.0.0.1:81/"])
    check(status == 403, "127.0.0.1:81 with allow_dest only for port 80: %d" % status)


@wd.timeout(60)
def test_loopback_listener_no_default(t):
    """A person's proxy on loopback: nothing is denied without rules."""
    o = ht.Origin(t)
    w, addr, _ = start_rules(t, "")
    expect_200(t, w, addr, "http://127.0.0.1:%d/local" % o.port, "x")


# ---- configuration ------------------------------------------------------------

BAD = [
    ("deny_dest 10.0.0.0/8\nallow_dest 10.1.0.0/16\n", 2,
     "allow_dest: never reached: the earlier 'deny_dest 10.0.0.0/8' matches all of it, got '10.1.0.0/16'"),
    ("deny_dest localhost\n", 1, "deny_dest: expected an address or network with optional ports"),
    ("deny_dest 10.0.0.1/8\n", 1, "deny_dest: address has bits set after the /8 prefix"),
    ("deny_dest [::1]:0\n", 1, "deny_dest: port out of range (1-65535), got '[::1]:0'"),
    ("allow_dest 10.0.0.0/8:22-21\n", 1, "allow_dest: port range runs backwards"),
    ("deny_dest\n", 1, "'deny_dest' takes one or more values"),
]


def test_bad_rules(t):
    port = wd.free_port()
    base = "listen 127.0.0.1:%d\nworkers 1\n" % port
    for i, (rules, line, words) in enumerate(BAD):
        cfg = t.config(base + rules, "bad%d.conf" % i)
        want = "%s:%d: %s" % (cfg, line + 2, words)
        r = t.run(["-t", "-c", cfg])
        check(r.returncode == 2, "%r: %s, expected status 2" % (rules, r))
        lines = r.err_lines()
        check(len(lines) == 1 and want in lines[0], "%r: expected one line with %r, got %r" % (rules, want, r.stderr))
    # The filter in a mode without client-chosen destinations is an error too.
    cfg = t.config(base + "mode reverse\nupstream 127.0.0.1:9\ndeny_dest 10.0.0.0/8\n", "rev.conf")
    r = t.run(["-t", "-c", cfg])
    check(r.returncode == 2 and "%s:5: deny_dest/allow_dest: the destination filter works in forward and "
          "transparent modes only" % cfg in r.stderr, "reverse mode with deny_dest: %s" % r)
    ok = t.config(base + "deny_dest 10.0.0.0/8 192.168.0.0/16 [fd00::]/8:22,25 169.254.169.254\n"
                  "allow_dest 127.0.0.1:8080\ndeny_dest all:25\n", "ok.conf")
    r = t.run(["-t", "-c", ok])
    check(r.returncode == 0 and "configuration OK" in r.stdout, "good rules: %s" % r)


if __name__ == "__main__":
    wd.main(globals())
