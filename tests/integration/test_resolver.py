"""Integration tests of choosing the resolver (issue 13, part 6): warpd in
forward mode on loopback asks a DNS server of this file's own that answers on
one port over UDP and TCP, and forges a wrong UDP answer for some names as a
DNS injector would. resolver_tcp on reaches the right origin, off the
injected address; names of a hosts file are answered without any DNS query
(IPv4 and IPv6 entries, aliases, comments), the file is read at start and
reload only, hosts off turns it off; several servers and bracketed IPv6 with
a port are accepted, and bad values are reported with file:line."""

import os
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httptest as ht  # noqa: E402
import wdtest as wd  # noqa: E402
from wdtest import check  # noqa: E402


class DualDNS:
    """A DNS server on 127.0.0.1 answering on one port over UDP and TCP (a
    2-byte length before each message, RFC 1035 4.2.2). names gives the true
    A/AAAA answers; udp_names overrides some of them over UDP only (what an
    injector forges); other names get NXDOMAIN. Queries are recorded as
    (transport, name, qtype)."""

    def __init__(self, t):
        self.names = {}
        self.udp_names = {}
        self.queries = []
        self.errors = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.conns = []
        for _ in range(20):
            tsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tsock.bind(("127.0.0.1", 0))
            port = tsock.getsockname()[1]
            usock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                usock.bind(("127.0.0.1", port))
                break
            except OSError:
                tsock.close()
                usock.close()
        else:
            raise wd.Fail("no port free for both UDP and TCP")
        tsock.listen(16)
        tsock.settimeout(0.2)
        usock.settimeout(0.2)
        self.tsock, self.usock = tsock, usock
        self.addr = ("127.0.0.1", port)
        self.text = wd.addr_text(self.addr)
        self.threads = [
            threading.Thread(target=self._udp_loop, name="dns-udp", daemon=True),
            threading.Thread(target=self._accept_loop, name="dns-tcp", daemon=True),
        ]
        for th in self.threads:
            th.start()
        t.add(self)

    def add(self, name, a=(), aaaa=(), udp_a=None):
        self.names[name.lower()] = {"A": list(a), "AAAA": list(aaaa)}
        if udp_a is not None:
            self.udp_names[name.lower()] = {"A": list(udp_a), "AAAA": []}

    def asked(self, name, transport=None):
        with self.lock:
            return [q for q in self.queries if q[1] == name.lower() and transport in (None, q[0])]

    def _answer(self, q, transport):
        qid, flags = struct.unpack("!HH", q[:4])
        i, labels = 12, []
        while q[i] != 0:
            labels.append(q[i + 1 : i + 1 + q[i]].decode("ascii", "replace"))
            i += 1 + q[i]
        qtype = struct.unpack("!H", q[i + 1 : i + 3])[0]
        question = q[12 : i + 5]
        name = ".".join(labels).lower()
        with self.lock:
            self.queries.append((transport, name, qtype))
        entry = self.names.get(name)
        if transport == "udp" and name in self.udp_names:
            entry = self.udp_names[name]
        answers = []
        if entry is not None and qtype == ht.QTYPE_A:
            answers = [(qtype, socket.inet_pton(socket.AF_INET, a)) for a in entry["A"]]
        elif entry is not None and qtype == ht.QTYPE_AAAA:
            answers = [(qtype, socket.inet_pton(socket.AF_INET6, a)) for a in entry["AAAA"]]
        rcode = 0 if entry is not None else 3
        rflags = 0x8000 | (flags & 0x7800) | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
        out = struct.pack("!HHHHHH", qid, rflags, 1, len(answers), 0, 0) + question
        for typ, rdata in answers:
            out += struct.pack("!HHHIH", 0xC00C, typ, 1, 60, len(rdata)) + rdata
        return out

    def _udp_loop(self):
        while not self.stopping.is_set():
            try:
                q, peer = self.usock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                self.usock.sendto(self._answer(q, "udp"), peer)
            except Exception as e:
                self.errors.append("dns udp: %r" % e)

    def _accept_loop(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.tsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(0.2)
            th = threading.Thread(target=self._serve, args=(c,), name="dns-conn", daemon=True)
            with self.lock:
                self.conns.append((c, th))
            th.start()

    def _serve(self, c):
        buf = b""
        while not self.stopping.is_set():
            try:
                d = c.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if not d:
                return
            buf += d
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                n = struct.unpack("!H", buf[:2])[0]
                q, buf = buf[2 : 2 + n], buf[2 + n :]
                try:
                    r = self._answer(q, "tcp")
                    c.sendall(struct.pack("!H", len(r)) + r)
                except Exception as e:
                    self.errors.append("dns tcp: %r" % e)
                    return

    def close(self):
        self.stopping.set()
        for th in self.threads:
            th.join(2)
        with self.lock:
            conns = list(self.conns)
        for c, th in conns:
            th.join(2)
            c.close()
        self.tsock.close()
        self.usock.close()


class WrongOrigin:
    """Where an injected answer leads: a listener on another loopback
    address, same port as the real origin, that answers every request with
    the body WRONG and records how many it got."""

    def __init__(self, t, host, port):
        self.hits = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError as e:
            self.sock.close()
            raise wd.Skip("cannot bind %s:%d for the wrong origin: %s" % (host, port, e))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="wrong-origin", daemon=True)
        self.thread.start()
        t.add(self)

    def _loop(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with c:
                c.settimeout(5)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        d = c.recv(4096)
                        if not d:
                            break
                        data += d
                    self.hits += 1
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nWRONG")
                except OSError:
                    pass

    def close(self):
        self.stopping.set()
        self.thread.join(2)
        self.sock.close()


def fetch(t, addr, host, port, path="/"):
    """GET http://host:port/path through warpd at addr on a new connection."""
    c = ht.Client(t, addr)
    auth = "%s:%d" % (host if ":" not in host else "[%s]" % host, port)
    c.send(ht.request("GET", "http://%s%s" % (auth, path), [("Host", auth)]))
    r = c.response()
    c.sock.close()
    return r


# ---- resolver_tcp ------------------------------------------------------------


def injected(t):
    """The real origin on 127.0.0.1, the injector's on 127.0.0.2 (same port),
    and a DNS whose UDP answer for site.test is the injector's."""
    o = ht.Origin(t)
    wrong = WrongOrigin(t, "127.0.0.2", o.port)
    dns = DualDNS(t)
    dns.add("site.test", a=["127.0.0.1"], udp_a=["127.0.0.2"])
    return o, wrong, dns


def test_resolver_tcp_on_beats_injection(t):
    o, wrong, dns = injected(t)
    w, addr = ht.start_http(t, dns=dns, extra="resolver_tcp on")
    r = fetch(t, addr, "site.test", o.port, "/tcp")
    check(r.status == 200 and r.body == b"GET /tcp\n", "through TCP: %r" % r)
    check(wrong.hits == 0, "the injected address was reached")
    check(dns.asked("site.test", "tcp"), "no TCP query: %r" % dns.queries)
    check(not dns.asked("site.test", "udp"), "UDP was used: %r" % dns.queries)
    check([q for q in dns.queries if q[0] == "udp"] == [], "UDP queries: %r" % dns.queries)


def test_resolver_tcp_off_uses_udp(t):
    o, wrong, dns = injected(t)
    w, addr = ht.start_http(t, dns=dns)  # the default: resolver_tcp off
    r = fetch(t, addr, "site.test", o.port, "/udp")
    check(r.status == 200 and r.body == b"WRONG", "through UDP: %r" % r)
    check(wrong.hits == 1 and o.requests() == [], "the real origin was reached")
    check(dns.asked("site.test", "udp") and not dns.asked("site.test", "tcp"), "queries %r" % dns.queries)


def test_several_servers_first_dead(t):
    """Several servers, one of them bracketed IPv6 with a port: when the
    first does not answer (nothing listens on its TCP port), c-ares goes on
    to the next, over TCP too."""
    o = ht.Origin(t)
    dns = DualDNS(t)
    dns.add("multi.test", a=["127.0.0.1"])
    dead = t.add(wd.reserve_closed_port())
    servers = "127.0.0.1:%d %s" % (dead.getsockname()[1], dns.text)
    if wd.have_ipv6():
        dead6 = t.add(wd.reserve_closed_port("::1"))
        servers = "[::1]:%d %s" % (dead6.getsockname()[1], servers)
    w, addr = ht.start_http(t, extra="resolver %s\nresolver_tcp on\nresolve_timeout 5s" % servers)
    r = fetch(t, addr, "multi.test", o.port, "/m")
    check(r.status == 200 and r.body == b"GET /m\n", "answer %r" % r)
    check(dns.asked("multi.test", "tcp"), "queries %r" % dns.queries)


# ---- hosts -------------------------------------------------------------------

HOSTS = """# fixed answers for test_resolver
127.0.0.1\tfixed.test   alias.test   # an alias, and a comment after it
::1         fixed6.test  Upper.TEST.
  # an indented comment line, then an empty one

127.0.0.1   both.test
::1         both.test
not-an-address ignored.test
"""


def hosts_setup(t, text=HOSTS, extra=""):
    dns = DualDNS(t)
    # What DNS would say (over either transport) for names of the file.
    for n in ("fixed.test", "alias.test", "fixed6.test", "both.test", "upper.test"):
        dns.add(n, a=["127.0.0.2"])
    dns.add("dnsonly.test", a=["127.0.0.1"])
    path = t.write("hosts", text)
    w, addr = ht.start_http(t, dns=dns, extra="hosts %s\n%s" % (path, extra))
    return dns, path, w, addr


def test_hosts_answers_without_dns(t):
    o = ht.Origin(t)
    wrong = WrongOrigin(t, "127.0.0.2", o.port)
    dns, path, w, addr = hosts_setup(t)
    for name in ("fixed.test", "alias.test", "FIXED.test", "both.test"):
        r = fetch(t, addr, name, o.port, "/" + name)
        check(r.status == 200 and r.body == b"GET /%s\n" % name.encode(), "%s: %r" % (name, r))
    check(wrong.hits == 0, "a hosts name went to what DNS says")
    # A name that is not in the file still goes to DNS.
    r = fetch(t, addr, "dnsonly.test", o.port, "/d")
    check(r.status == 200 and r.body == b"GET /d\n", "dnsonly.test: %r" % r)
    check(dns.asked("dnsonly.test"), "dnsonly.test not asked: %r" % dns.queries)
    for name in ("fixed.test", "alias.test", "both.test", "ignored.test"):
        check(not dns.asked(name), "%s was asked of DNS: %r" % (name, dns.queries))
    # A line whose address is not one is skipped: its name goes to DNS (NXDOMAIN).
    r = fetch(t, addr, "ignored.test", o.port)
    check(r.status == 502 and dns.asked("ignored.test"), "ignored.test: %r, queries %r" % (r, dns.queries))


def test_hosts_ipv6_entry(t):
    if not wd.have_ipv6():
        raise wd.Skip("no IPv6 loopback")
    o6 = ht.Origin(t, host="::1")
    dns, path, w, addr = hosts_setup(t)
    for name in ("fixed6.test", "upper.test", "Upper.Test"):
        r = fetch(t, addr, name, o6.port, "/v6")
        check(r.status == 200 and r.body == b"GET /v6\n", "%s: %r" % (name, r))
    check(all(rq.conn.peer[0] == "::1" for rq in o6.requests()), "peers %r" % [rq.conn.peer for rq in o6.requests()])
    check(not dns.asked("fixed6.test") and not dns.asked("upper.test"), "asked DNS: %r" % dns.queries)


def test_hosts_read_at_load_only(t):
    """The file is read when the configuration is loaded: changing it does
    nothing until a reload (SIGHUP), which reads it again."""
    o = ht.Origin(t)
    wrong = WrongOrigin(t, "127.0.0.2", o.port)
    dns, path, w, addr = hosts_setup(t, "127.0.0.2 moved.test\n")
    dns.add("moved.test", a=["127.0.0.2"])
    r = fetch(t, addr, "moved.test", o.port)
    check(r.status == 200 and r.body == b"WRONG", "before: %r" % r)
    t.write("hosts", "127.0.0.1 moved.test  # edited\n")
    r = fetch(t, addr, "moved.test", o.port)
    check(r.status == 200 and r.body == b"WRONG", "edited without reload: %r" % r)
    mark = w.mark()
    w.signal(1)  # SIGHUP
    w.wait_log(r"reload complete", 10, mark)
    r = fetch(t, addr, "moved.test", o.port, "/after")
    check(r.status == 200 and r.body == b"GET /after\n", "after the reload: %r" % r)
    check(not dns.asked("moved.test"), "asked DNS: %r" % dns.queries)


def etc_hosts_name():
    """This machine's name when /etc/hosts lists it with 127.0.0.1 (else skip)."""
    name = socket.gethostname().lower()
    try:
        with open("/etc/hosts") as f:
            for l in f:
                words = l.split("#")[0].lower().split()
                if len(words) > 1 and words[0] == "127.0.0.1" and name in words[1:]:
                    return name
    except OSError:
        pass
    raise wd.Skip("/etc/hosts does not list %s as 127.0.0.1" % name)


def test_hosts_default_etc_hosts(t):
    """Without a hosts line, /etc/hosts answers."""
    name = etc_hosts_name()
    o = ht.Origin(t)
    dns = DualDNS(t)
    w, addr = ht.start_http(t, dns=dns)
    r = fetch(t, addr, name, o.port, "/etc")
    check(r.status == 200 and r.body == b"GET /etc\n", "%s: %r" % (name, r))
    check(not dns.asked(name), "%s asked of DNS: %r" % (name, dns.queries))


def test_hosts_off(t):
    """hosts off: a name of /etc/hosts goes to the DNS servers (c-ares does
    not read the file behind warpd's back either); localhost is still the
    loopback, without a query (RFC 6761)."""
    name = etc_hosts_name()
    o = ht.Origin(t)
    dns = DualDNS(t)
    w, addr = ht.start_http(t, dns=dns, extra="hosts off")
    r = fetch(t, addr, name, o.port)
    check(r.status == 502, "%s with hosts off: %r" % (name, r))
    check(dns.asked(name), "%s not asked of DNS: %r" % (name, dns.queries))
    r = fetch(t, addr, "localhost", o.port, "/lh")
    check(r.status == 200 and r.body == b"GET /lh\n", "localhost: %r" % r)
    check(not dns.asked("localhost"), "localhost asked of DNS: %r" % dns.queries)


# ---- the configuration -------------------------------------------------------


def test_config_errors(t):
    port = wd.free_port()
    bad = [
        ("resolver_tcp maybe\n", 2, "resolver_tcp"),
        ("resolver_tcp\n", 2, "resolver_tcp"),
        ("hosts %s\n" % t.path("no-such-hosts"), 2, "no-such-hosts: No such file"),
        ("hosts relative/hosts\n", 2, "absolute path"),
        ("hosts %s\n" % t.tmp, 2, "not a regular file"),
        ("hosts off\nhosts off\n", 3, "hosts"),
        ("resolver [192.0.2.1]:53\n", 2, "resolver"),
        ("resolver 192.0.2.1 dns.example\n", 2, "dns.example"),
    ]
    for i, (text, line, word) in enumerate(bad):
        cfg = t.config("listen 127.0.0.1:%d\n%s" % (port, text), "bad%d.conf" % i)
        r = t.run(["-t", "-c", cfg])
        what = "bad file %r" % text
        check(r.returncode == 2, "%s: %s, expected status 2" % (what, r))
        lines = r.err_lines()
        check(len(lines) == 1, "%s: expected one line, got %r" % (what, r.stderr))
        check("%s:%d:" % (cfg, line) in lines[0], "%s: %r lacks %s:%d:" % (what, lines[0], cfg, line))
        check(word in lines[0], "%s: %r lacks %r" % (what, lines[0], word))
    hosts = t.write("hosts", HOSTS)
    good = (
        "listen 127.0.0.1:%d\nresolver 192.0.2.1 192.0.2.2:5353 2001:db8::1 [2001:db8::2]:5353\n"
        "resolver_tcp on\nhosts %s\n" % (port, hosts)
    )
    for text in (good, "listen 127.0.0.1:%d\nhosts off\nresolver_tcp off\n" % port):
        r = t.run(["-t", "-c", t.config(text, "good.conf")])
        check(r.returncode == 0 and "configuration OK" in r.stdout, "%r: %s" % (text, r))


if __name__ == "__main__":
    wd.main(globals())
