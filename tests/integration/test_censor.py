"""The censor ladder (issue 12, "the proof"): every built-in shaping strategy
against every censor model of censor.py, over HTTP through the proxy, TLS
through CONNECT and TLS through SOCKS5, on a routed path of namespaces
(netpath.py: client with warpd -- router1 -- censor -- router2 -- origin), so
that TTL tricks meet real hops. Each request's fate is compared with the
expected matrix below; a request that passes must have reached the origin
byte for byte (HTTP: the head equals the one warpd sends with no censor on
the path; TLS: the handshake completes and the inner request arrives as
sent). auto must beat what its list beats on the first request, retry on a
new upstream connection, and go straight to the remembered strategy on the
second. Needs root, network namespaces and openssl; reports SKIP without.

Run alone: make check TESTS=tests/integration/test_censor.py; the censor's
verdicts, warpd's log and the observed matrix are printed on failure
(WDTEST_VERBOSE=1 prints them always)."""

import os
import re
import select
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netpath  # noqa: E402
import wdtest as wd  # noqa: E402
from wdtest import check  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = "blocked.test"
MODELS = ("per-packet", "in-order", "reassembling", "strict")
STRATEGIES = ("off", "split", "disorder", "fake", "oob", "tlsrec", "warp", "auto")
PROTOS = ("http", "connect", "socks")
DNS_PORT = 5353
WARPD_PORT0 = 20000  # warpd's ports inside the client namespace: one each

# The expected matrix, one column per censor model in MODELS' order
# (1 per-packet, 2 in-order, 3 reassembling, 4 strict): P the request passes
# the censor, B the censor blocks it. TLS holds for CONNECT and SOCKS5 alike.
MATRIX = """
strategy   HTTP      TLS
off        B B B B   B B B B
split      P B B B   P B B B
disorder   P P B B   P P B B
fake       P P P B   P P P B
oob        P P P B   P P P B
tlsrec     B B B B   P P P B
warp       P P P P   P B B B
auto       P P P P   P P P B
"""
# Why: split cuts the name across segments (beats 1 only); disorder sends the
# first piece with TTL 1, so it dies at router1 and arrives later, out of
# order (beats the in-order box, which gives up at the gap); fake sends a
# harmless piece with TTL 2 first, which the censor takes for the real bytes
# and which dies at router2 (beats first-data-wins reassembly, not the strict
# box that drops TTL-1 segments); oob inserts an urgent byte the server's
# kernel removes (beats boxes that keep it inline); tlsrec re-frames the
# ClientHello into records cut inside the SNI (only the strict box joins
# records) and does nothing to HTTP; warp's 32 dummy fields (about 4.8 KB)
# put the Host past every box's window, and on TLS it is split; auto tries
# its list, cheapest first.


def expected():
    out = {}
    for line in MATRIX.strip().splitlines()[1:]:
        w = line.split()
        out[w[0]] = {"http": "".join(w[1:5]), "tls": "".join(w[5:9])}
    return out


EXPECTED = expected()


def want(strategy, model, proto):
    return EXPECTED[strategy]["http" if proto == "http" else "tls"][MODELS.index(model)]


# ---- a tiny DNS server (A records for *.test) ----------------------------


class Dns:
    """Answers A queries for names under .test with the origin's address,
    AAAA with no answer, and anything else with NXDOMAIN; one thread."""

    def __init__(self, path, addr):
        self.sock = path.socket("client", socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(addr)
        self.text = wd.addr_text(addr)
        self.stopping = False
        self.queries = 0
        self.errors = []
        self.thread = threading.Thread(target=self._loop, name="dns", daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopping:
            r, _, _ = select.select([self.sock], [], [], 0.1)
            if not r:
                continue
            try:
                q, peer = self.sock.recvfrom(2048)
                a = self.answer(q)
                if a:
                    self.sock.sendto(a, peer)
            except OSError as e:
                if not self.stopping:
                    self.errors.append("dns: %r" % e)

    def answer(self, q):
        if len(q) < 12:
            return None
        qid, flags, qd = struct.unpack_from("!HHH", q, 0)
        if qd != 1:
            return None
        i, labels = 12, []
        while i < len(q) and q[i]:
            labels.append(q[i + 1 : i + 1 + q[i]].decode("ascii", "replace"))
            i += 1 + q[i]
        qtype = struct.unpack_from("!H", q, i + 1)[0]
        question = q[12 : i + 5]
        name = ".".join(labels).lower()
        self.queries += 1
        ours = name == "test" or name.endswith(".test")
        rcode = 0 if ours else 3
        ans = b""
        if ours and qtype == 1:
            ans = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(netpath.ORIGIN)
        hflags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
        return struct.pack("!HHHHHH", qid, hflags, 1, 1 if ans else 0, 0, 0) + question + ans

    def close(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()


# ---- the origins (HTTP on 80, TLS on 443) -----------------------------------


def read_head(sock, limit=65536):
    """Bytes up to and including the blank line of an HTTP head."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = sock.recv(4096)
        if not b:
            raise EOFError("EOF after %d bytes of a head" % len(buf))
        buf += b
        if len(buf) > limit:
            raise ValueError("head over %d bytes" % limit)
    return buf


class Origins:
    """HTTP on ORIGIN:80 and TLS on ORIGIN:443 in the origin namespace. Each
    request's exact bytes (the head; inside TLS for 443) are kept by path;
    the answer is a 200 whose body names the path and a serial number."""

    def __init__(self, path, cert, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.got = {}  # path -> [(proto, bytes)]
        self.serial = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.errors = []
        self.conns = []
        self.threads = []
        self.lsocks = []
        for port, tls in ((80, False), (443, True)):
            s = path.socket("origin")
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((netpath.ORIGIN, port))
            s.listen(128)
            s.settimeout(0.1)
            self.lsocks.append(s)
            th = threading.Thread(target=self._accept, args=(s, tls), name="origin%d" % port, daemon=True)
            th.start()
            self.threads.append(th)

    def _accept(self, ls, tls):
        while not self.stopping.is_set():
            try:
                c, _ = ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(8)
            with self.lock:
                self.conns.append(c)
            th = threading.Thread(target=self._serve, args=(c, tls), daemon=True)
            th.start()
            with self.lock:
                self.threads.append(th)

    def _serve(self, c, tls):
        try:
            if tls:
                c = self.ctx.wrap_socket(c, server_side=True)
            head = read_head(c)
            target = head.split(b" ", 2)[1].decode("latin-1")
            with self.lock:
                self.serial += 1
                n = self.serial
                self.got.setdefault(target, []).append(("tls" if tls else "http", head))
            body = ("origin answer %d for %s %s\n" % (n, "tls" if tls else "http", target)).encode()
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                      b"Connection: close\r\n\r\n%s" % (len(body), body))
            try:
                c.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        except (OSError, EOFError, ValueError, ssl.SSLError):
            pass  # a censored try: reset, cut short or silent
        finally:
            try:
                c.close()
            except OSError:
                pass

    def requests(self, target):
        with self.lock:
            return list(self.got.get(target, []))

    def close(self):
        self.stopping.set()
        for s in self.lsocks:
            s.close()
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for th in list(self.threads):
            th.join(2)


# ---- clients -----------------------------------------------------------------


class Outcome:
    """What one request through warpd came to."""

    def __init__(self, proto, target):
        self.proto = proto
        self.target = target
        self.status = None  # the HTTP status the client got, if any
        self.body = b""
        self.head = b""
        self.error = None  # what ended it otherwise
        self.ttfb = None  # seconds: HTTP, request sent to first byte; TLS, handshake
        self.sent = b""  # the inner request (TLS)

    def ok(self):
        return self.status == 200 and b"origin answer" in self.body

    def __repr__(self):
        if self.error:
            return "<%s %s: %s>" % (self.proto, self.target, self.error)
        return "<%s %s: %s %r>" % (self.proto, self.target, self.status, self.body[:80])


def read_response(sock, out, t0, deadline):
    """Reads one HTTP response (Content-Length framing) into out."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        b = sock.recv(65536)
        if not b:
            raise EOFError("EOF after %d bytes of the response" % len(buf))
        if out.ttfb is None and t0 is not None:
            out.ttfb = time.monotonic() - t0
        buf += b
    head, _, body = buf.partition(b"\r\n\r\n")
    out.head = head
    out.status = int(head.split(b" ", 2)[1])
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    n = int(m.group(1)) if m else None
    while n is None or len(body) < n:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        b = sock.recv(65536)
        if not b:
            break
        body += b
    out.body = body


def http_request(path, proxy, host, target, timeout=8.0):
    """GET http://host/target through the proxy (absolute form)."""
    out = Outcome("http", target)
    deadline = time.monotonic() + timeout
    s = path.socket("client")
    try:
        s.settimeout(timeout)
        s.connect(proxy)
        # the origin's own address: straight there (transparent mode takes it)
        form = "http://%s%s" % (host, target) if proxy != (netpath.ORIGIN, 80) else target
        req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: censor-ladder/1\r\nAccept: */*\r\n\r\n"
               % (form, host)).encode()
        t0 = time.monotonic()
        s.sendall(req)
        read_response(s, out, t0, deadline)
    except (OSError, EOFError, ValueError, IndexError) as e:
        out.error = "%s: %s" % (type(e).__name__, e)
    finally:
        s.close()
    return out


def socks5_open(s, host, port):
    s.sendall(b"\x05\x01\x00")
    got = wd.recv_exact(s, 2, 5)
    if got != b"\x05\x00":
        raise ValueError("SOCKS5 greeting answered %r" % got)
    s.sendall(b"\x05\x01\x00\x03" + bytes([len(host)]) + host.encode() + struct.pack("!H", port))
    rep = wd.recv_exact(s, 4, 8)
    if rep[1] != 0:
        raise ValueError("SOCKS5 reply %d" % rep[1])
    if rep[3] == 1:
        n = 4
    elif rep[3] == 4:
        n = 16
    elif rep[3] == 3:
        n = wd.recv_exact(s, 1, 5)[0]
    else:
        raise ValueError("SOCKS5 reply with address type %d" % rep[3])
    wd.recv_exact(s, n + 2, 5)  # the bound address and port


def tls_request(path, proxy, how, host, target, ctx, timeout=8.0):
    """A TLS handshake with host (SNI) through CONNECT or SOCKS5, then GET
    target inside it."""
    out = Outcome(how, target)
    deadline = time.monotonic() + timeout
    s = path.socket("client")
    ss = None
    try:
        s.settimeout(timeout)
        s.connect(proxy)
        if how == "connect":
            s.sendall(("CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n" % (host, host)).encode())
            head = read_head(s)
            if not head.startswith(b"HTTP/1.1 200") or not head.endswith(b"\r\n\r\n"):
                raise ValueError("CONNECT answered %r" % head[:60])
        elif how == "socks":
            socks5_open(s, host, 443)
        ss = ctx.wrap_socket(s, server_hostname=host, do_handshake_on_connect=False)
        ss.settimeout(max(0.01, deadline - time.monotonic()))
        t0 = time.monotonic()
        ss.do_handshake()
        out.ttfb = time.monotonic() - t0
        out.sent = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: censor-ladder/1\r\nConnection: close\r\n\r\n"
                    % (target, host)).encode()
        ss.sendall(out.sent)
        read_response(ss, out, None, deadline)
    except (OSError, EOFError, ValueError, IndexError, ssl.SSLError, wd.Fail) as e:
        out.error = "%s: %s" % (type(e).__name__, e)
    finally:
        (ss or s).close()
    return out


# ---- the ladder ---------------------------------------------------------------

DUMMY_RE = re.compile(rb"X-[A-Z]+: [A-Za-z0-9]+\r\n")


def strip_dummies(head):
    """An HTTP head without warp's dummy fields (X- and capitals)."""
    return DUMMY_RE.sub(b"", head)


def make_cert(tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + NAME,
         "-addext", "subjectAltName=DNS:%s,DNS:*.%s" % (NAME, NAME)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "openssl req failed: %s" % r.stderr[-300:])
    return cert, key


class Ladder:
    """The path, the origins, the DNS, the censor of the moment and the warpd
    instances of a test; t closes it all (by pid and name)."""

    def __init__(self, t, fast_warp=True):
        why = netpath.unavailable()
        if why:
            raise wd.Skip(why)
        if not shutil.which("openssl"):
            raise wd.Skip("needs openssl for the origin's certificate")
        self.t = t
        self.fast_warp = fast_warp
        self.path = None
        self.censor_proc = None
        self.model = None
        self.log = t.path("censor.log")
        self.port = WARPD_PORT0
        t.add(self)
        self.cert, self.key = make_cert(t.tmp)
        self.client_ctx = ssl.create_default_context(cafile=self.cert)
        self.path = netpath.NetPath().up()
        self.dns = Dns(self.path, ("127.0.0.1", DNS_PORT))
        self.origins = Origins(self.path, self.cert, self.key)

    def close(self):
        for obj in (getattr(self, "origins", None), getattr(self, "dns", None)):
            if obj:
                wd._close(obj)
        if self.path:
            self.path.close()  # the censor and tcpdump (by pid), then the namespaces

    # -- the censor
    def censor(self, model, block_page=False, silent=False):
        """Replaces the censor of the moment by one of model; waits for ready."""
        if self.censor_proc:
            self.path.stop(self.censor_proc)
            self.censor_proc = None
        argv = [sys.executable, os.path.join(HERE, "censor.py"), "--model", model, "--name", NAME,
                "--left", self.path.censor_ifs[0], "--right", self.path.censor_ifs[1], "--log", self.log]
        if block_page:
            argv.append("--block-page")
        if silent:
            argv.append("--silent")
        with open(self.log + ".err", "ab") as err:
            p = self.path.popen("censor", argv, stdout=subprocess.PIPE, stderr=err)
        r, _, _ = select.select([p.stdout], [], [], 10)
        line = p.stdout.readline() if r else b""
        check(line.strip() == b"ready", "censor %s did not start: %r (see %s.err)" % (model, line, self.log))
        self.censor_proc = p
        self.model = model

    def log_mark(self):
        try:
            return os.path.getsize(self.log)
        except FileNotFoundError:
            return 0

    def verdicts(self, mark):
        """The censor's verdict lines after byte offset mark."""
        with open(self.log, errors="replace") as f:
            f.seek(mark)
            return [l.rstrip("\n") for l in f if " verdict=" in l]

    # -- warpd
    def warpd(self, strategy, extra=""):
        """A warpd of the client namespace with shape strategy; returns
        (warpd, its address) or raises Fail with warpd's complaint."""
        self.port += 1
        lines = [
            "listen 127.0.0.1:%d" % self.port,
            "mode forward",
            "workers 1",
            "resolver 127.0.0.1:%d" % DNS_PORT,
            "connect_timeout 3s",
            "resolve_timeout 3s",
            "shutdown_timeout 2s",
            "shape %s" % strategy,
            "shape_seed 1",
            "shape_fake_ttl 2",
            "shape_auto_timeout 2s",
        ]
        if self.fast_warp:
            # warp's pauses cut to a few ms: the same pieces on the wire, a
            # shorter test (censor-report keeps the defaults for its timings)
            lines += ["shape_delay 10ms", "shape_fragment_delay 10ms"]
        extra_lines = [l for l in extra.splitlines() if l.strip()]
        # A directive in extra replaces the one above (each may appear once).
        given = {l.split()[0] for l in extra_lines}
        lines = [l for l in lines if l.split()[0] not in given] + extra_lines
        cfg = self.t.config("".join(l + "\n" for l in lines), name="warpd-%s-%d.conf" % (strategy, self.port))
        test = self.t.run(["-t", "-c", cfg])
        if test.returncode != 0:
            raise wd.Fail("warpd refuses the config for shape %s: %s" % (strategy, test.stderr.strip()[-400:]))
        w = self.t.warpd(config=cfg, nworkers=1, wrap=self.path.exec_argv("client"))
        return w, ("127.0.0.1", self.port)

    def censor_alive(self):
        """Fails the test, with the censor's last words, if it has died."""
        if self.censor_proc is not None and self.censor_proc.poll() is not None:
            with open(self.log + ".err", errors="replace") as f:
                tail = f.read()[-1500:]
            raise wd.Fail("the censor (%s) exited with status %s:\n%s" % (self.model, self.censor_proc.returncode, tail))

    # -- one request
    def request(self, proxy, proto, target, host=NAME):
        if proto == "http":
            out = http_request(self.path, proxy, host, target)
        else:
            out = tls_request(self.path, proxy, proto, host, target, self.client_ctx)
        self.censor_alive()
        return out

    def judge(self, out, mark):
        """P when the client got the origin's answer, B when the censor blocked
        it (a verdict line, the client without the answer), E otherwise; and
        the verdict lines of the request."""
        if out.ok():
            return "P", self.verdicts(mark)
        # The censor writes its verdict before it injects the resets: a short
        # bounded wait covers only the file's flush.
        end = time.monotonic() + 1.0
        while True:
            v = self.verdicts(mark)
            if any("verdict=block" in l for l in v):
                return "B", v
            if time.monotonic() >= end:
                return "E", v
            time.sleep(0.02)


def access_shape(w, mark):
    """(shape, tries) of the access lines logged after mark, in order."""
    out = []
    for l in w.logs_since(mark):
        m = re.search(r" shape=(\S+) tries=(\d+)", l)
        if m and "access:" in l:
            out.append((m.group(1), int(m.group(2))))
    return out


def wait_access(w, mark, n=1, timeout=3.0):
    return wd.wait_until(lambda: len(access_shape(w, mark)) >= n and access_shape(w, mark), timeout,
                         "%d access line(s) with shape= tries=" % n)


# ---- the matrix ---------------------------------------------------------------


class Matrix:
    """Observed cells and notes, printed as a table."""

    def __init__(self):
        self.cells = {}  # (strategy, model, proto) -> letter
        self.notes = []  # discrepancies and oddities, as text
        self.ttfb = {}  # (strategy, model, proto) -> seconds

    def table(self):
        cols = [m for m in ("none",) + MODELS]
        head = "%-9s" % "strategy" + "".join(" | %-13s" % p for p in PROTOS)
        lines = [head, "%-9s" % "" + "".join(" | %-13s" % " ".join(str(i) for i in range(len(cols))) for _ in PROTOS)]
        for s in STRATEGIES:
            row = "%-9s" % s
            for p in PROTOS:
                row += " | %-13s" % " ".join(self.cells.get((s, m, p), ".") for m in cols)
            lines.append(row)
        lines.append("columns: 0 no censor, 1 per-packet, 2 in-order, 3 reassembling, 4 strict;"
                     " P passed, B blocked by the censor, E failed otherwise, M passed with altered bytes, - not run")
        return "\n".join(lines)

    def ttfb_table(self, model="none"):
        lines = ["time to first byte (ms) with censor model %s (HTTP: request to first response byte;"
                 " TLS: handshake)" % model, "%-9s" % "strategy" + "".join("%10s" % p for p in PROTOS)]
        for s in STRATEGIES:
            row = "%-9s" % s
            for p in PROTOS:
                v = self.ttfb.get((s, model, p))
                row += "%10s" % ("-" if v is None else "%.1f" % (v * 1000))
            lines.append(row)
        return "\n".join(lines)

    def auto_ttfb_table(self):
        """auto's time to first byte by censor model: the cost of its tries."""
        cols = ("none",) + MODELS
        lines = ["auto's time to first byte (ms) by censor model (- blocked)",
                 "%-9s" % "proto" + "".join("%14s" % m for m in cols)]
        for p in PROTOS:
            row = "%-9s" % p
            for m in cols:
                v = self.ttfb.get(("auto", m, p))
                row += "%14s" % ("-" if v is None else "%.1f" % (v * 1000))
            lines.append(row)
        return "\n".join(lines)


def run_cell(lad, w, waddr, strategy, model, proto, mx, baseline, serial):
    """One request; records its letter in mx and checks what the origin got."""
    target = "/ladder/%s/%s/%s/%d" % (strategy, model, proto, serial)
    mark = lad.log_mark()
    wmark = w.mark()
    out = lad.request(waddr, proto, target)
    letter, verdicts = lad.judge(out, mark)
    got = lad.origins.requests(target)
    if letter == "P":
        check(len(got) == 1, "%s: the origin got %d complete requests for %s" % (strategy, len(got), target))
        kind, raw = got[0]
        if proto == "http":
            base = baseline.get("off")
            if base is not None:
                mine = strip_dummies(raw).replace(target.encode(), b"{T}")
                if mine != base:
                    letter = "M"
                    mx.notes.append("%s/%s/%s: the origin got %r, expected %r (the off head)"
                                    % (strategy, model, proto, mine, base))
            if model == "none" and strategy == "off":
                baseline["off"] = raw.replace(target.encode(), b"{T}")
        else:
            if raw != out.sent:
                letter = "M"
                mx.notes.append("%s/%s/%s: the origin got %r inside TLS, the client sent %r"
                                % (strategy, model, proto, raw, out.sent))
        mx.ttfb[(strategy, model, proto)] = out.ttfb
    elif letter == "E":
        mx.notes.append("%s/%s/%s: neither passed nor blocked by the censor: %r; verdicts %s; warpd: %s"
                        % (strategy, model, proto, out, verdicts, w.logs_since(wmark)[-3:]))
    mx.cells[(strategy, model, proto)] = letter
    return letter, out, verdicts, wmark


def check_auto(lad, w, waddr, model, proto, mx, letter, verdicts, wmark, serial):
    """auto's first request: the blocked tries are the verdict lines (each a
    flow of its own), the client saw the answer of the last try only; its
    second request goes straight to the remembered strategy, in one try."""
    where = "auto/%s/%s" % (model, proto)
    acc = access_shape(w, wmark)
    if not acc:
        try:
            acc = wait_access(w, wmark)
        except wd.Fail:
            mx.notes.append("%s: no access line with shape= tries= (warpd: %s)" % (where, w.logs_since(wmark)[-3:]))
            return
    shape, tries = acc[0]
    blocks = [l for l in verdicts if "verdict=block" in l]
    flows = {re.search(r"flow=(\S+)", l).group(1) for l in blocks}
    if letter == "P":
        if len(flows) != len(blocks) or tries != len(blocks) + 1:
            mx.notes.append("%s: %d tries logged, %d blocked flows %s" % (where, tries, len(blocks), sorted(flows)))
        second = "/ladder/auto/%s/%s/%d/again" % (model, proto, serial)
        mark, wmark2 = lad.log_mark(), w.mark()
        out = lad.request(waddr, proto, second)
        again = wait_access(w, wmark2)
        v = [l for l in lad.verdicts(mark) if "verdict=block" in l]
        if not out.ok() or again[0] != (shape, 1) or v:
            mx.notes.append("%s: the second request went shape=%s tries=%d (%s, %d blocked), expected shape=%s "
                            "tries=1: the winner was not remembered" % (where, again[0][0], again[0][1],
                                                                        "passed" if out.ok() else out, len(v), shape))
        mx.notes.append("info: %s: shape=%s tries=%d, then shape=%s tries=%d"
                        % (where, shape, tries, again[0][0], again[0][1]))
    elif letter == "B":
        # Every strategy tried, each on a connection of its own, each blocked;
        # the failure is remembered: the next request makes one try.
        if tries < 2 or len(flows) != tries or len(blocks) != tries:
            close = re.findall(r'close="([^"]*)"', " ".join(w.logs_since(wmark)))
            mx.notes.append("%s: the client got the failure after %d try (shape=%s, %d blocked flows, close=%s): "
                            "auto did not replay with its next strategies" % (where, tries, shape, len(flows),
                                                                              close[:1]))
        second = "/ladder/auto/%s/%s/%d/again" % (model, proto, serial)
        mark, wmark2 = lad.log_mark(), w.mark()
        out = lad.request(waddr, proto, second)
        again = wait_access(w, wmark2)
        if out.ok() or again[0][1] != 1:
            mx.notes.append("%s: after every try failed, the second request got %r and logged %s, expected a "
                            "failure in one try" % (where, out, again))
        mx.notes.append("info: %s: every try blocked: shape=%s tries=%d, %d blocked flows; then shape=%s tries=%d"
                        % (where, shape, tries, len(flows), again[0][0], again[0][1]))


def run_matrix(t, lad, models=("none",) + MODELS, strategies=STRATEGIES, protos=PROTOS, on_strategy=None):
    """Runs the cells; returns the Matrix. on_strategy(strategy, phase) is
    called with "start" and "end" around each strategy's requests (the
    report's captures)."""
    mx = Matrix()
    baseline = {}
    daemons = {}
    serial = 0
    for model in models:
        lad.censor(model)
        for strategy in strategies:
            if on_strategy:
                on_strategy(strategy, model, "start")
            for proto in protos:
                serial += 1
                if strategy == "auto":
                    # auto's memory is per destination: a fresh warpd per cell
                    try:
                        w, waddr = lad.warpd(strategy)
                    except wd.Fail as e:
                        mx.cells[(strategy, model, proto)] = "-"
                        mx.notes.append("auto/%s/%s: %s" % (model, proto, e))
                        continue
                else:
                    if strategy not in daemons:
                        try:
                            daemons[strategy] = lad.warpd(strategy)
                        except wd.Fail as e:
                            daemons[strategy] = e
                    if isinstance(daemons[strategy], wd.Fail):
                        mx.cells[(strategy, model, proto)] = "-"
                        if proto == protos[0] and model == models[0]:
                            mx.notes.append("%s: %s" % (strategy, daemons[strategy]))
                        continue
                    w, waddr = daemons[strategy]
                letter, out, verdicts, wmark = run_cell(lad, w, waddr, strategy, model, proto, mx, baseline, serial)
                if strategy == "auto":
                    check_auto(lad, w, waddr, model, proto, mx, letter, verdicts, wmark, serial)
                    w.stop()
            if on_strategy:
                on_strategy(strategy, model, "end")
    for d in daemons.values():
        if not isinstance(d, wd.Fail):
            d[0].stop()
    return mx


def mismatches(mx, models=MODELS):
    bad = []
    for (s, m, p), letter in sorted(mx.cells.items()):
        if m == "none":
            if letter != "P":
                bad.append("%s/%s/%s: %s without a censor" % (s, m, p, letter))
            continue
        if m in models and letter != want(s, m, p):
            bad.append("%s/%s/%s: observed %s, expected %s" % (s, m, p, letter, want(s, m, p)))
    return bad


@wd.timeout(150)
def test_matrix(t):
    lad = Ladder(t)
    mx = run_matrix(t, lad)
    print(mx.table())
    print(mx.ttfb_table())
    print(mx.auto_ttfb_table())
    for n in mx.notes:
        print("note: " + n)
    bad = mismatches(mx) + [n for n in mx.notes if not n.startswith("info:")]
    if bad:
        with open(lad.log, errors="replace") as f:
            print("---- censor verdicts (last 60)")
            for l in f.readlines()[-60:]:
                print("     " + l.rstrip())
    check(not bad, "%d cell(s) differ from the expected matrix or failed a check:\n  %s"
          % (len(bad), "\n  ".join(bad)))


@wd.timeout(60)
def test_auto_block_page(t):
    """The in-order censor answering a 302 to warning.test instead of a
    reset: with shape off the client gets the block page; with auto and
    shape_auto_block_hosts warning.test the redirect marks the try (split,
    which that censor blocks) as blocked, and the next strategy passes."""
    lad = Ladder(t)
    lad.censor("in-order", block_page=True)
    w, addr = lad.warpd("off")
    out = lad.request(addr, "http", "/page/off")
    check(out.status == 302 and b"warning.test" in out.head, "shape off: the client got %r, expected the 302" % out)
    w.stop()
    w, addr = lad.warpd("auto", "shape_auto_block_hosts warning.test")
    mark, wmark = lad.log_mark(), w.mark()
    out = lad.request(addr, "http", "/page/auto")
    check(out.ok(), "auto: the client got %r (verdicts %s)" % (out, lad.verdicts(mark)))
    check(lad.origins.requests("/page/auto") and len(lad.origins.requests("/page/auto")) == 1,
          "auto: the origin got %d requests" % len(lad.origins.requests("/page/auto")))
    shape, tries = wait_access(w, wmark)[0]
    blocks = [l for l in lad.verdicts(mark) if "verdict=block" in l]
    check(tries >= 2 and len(blocks) == tries - 1, "auto: shape=%s tries=%d, %d 302s" % (shape, tries, len(blocks)))
    print("auto past the block page: shape=%s tries=%d" % (shape, tries))


@wd.timeout(60)
def test_auto_silence(t):
    """A censor that drops blocked flows without a word: auto judges the try
    blocked after shape_auto_timeout (1 s here) and replays with the next
    strategy, for HTTP and for TLS through CONNECT; the client gets the
    answer of the try that passed, a little over a second late."""
    lad = Ladder(t)
    lad.censor("in-order", silent=True)
    for proto, want in (("http", "oob"), ("connect", "tlsrec")):
        w, addr = lad.warpd("auto", "shape_auto_timeout 1s")
        mark, wmark = lad.log_mark(), w.mark()
        t0 = time.monotonic()
        out = lad.request(addr, proto, "/silent/" + proto)
        took = time.monotonic() - t0
        check(out.ok(), "%s: the client got %r (verdicts %s)" % (proto, out, lad.verdicts(mark)))
        shape, tries = wait_access(w, wmark)[0]
        blocks = [l for l in lad.verdicts(mark) if "verdict=block" in l and "silently" in l]
        check(shape == want and tries == 2 and len(blocks) == 1,
              "%s: shape=%s tries=%d with %d silent drops, expected %s after 2 tries" % (proto, shape, tries, len(blocks), want))
        check(took >= 0.9, "%s: answered after %.2fs, before shape_auto_timeout could have passed" % (proto, took))
        print("auto past a silent censor, %s: shape=%s tries=%d in %.2fs" % (proto, shape, tries, took))
        w.stop()


@wd.timeout(60)
def test_auto_no_replay_for_a_body(t):
    """auto replays only what is safe: a POST with a body, blocked by the
    in-order censor, is not sent again (the client gets the 502 of its one
    try, the origin never sees a second copy), and it does not mark the host
    as one where nothing works: the next GET tries on and passes."""
    lad = Ladder(t)
    lad.censor("in-order")
    w, addr = lad.warpd("auto")
    mark, wmark = lad.log_mark(), w.mark()
    out = Outcome("http", "/post")
    s = lad.path.socket("client")
    try:
        s.settimeout(8)
        s.connect(addr)
        s.sendall(b"POST http://%s/post HTTP/1.1\r\nHost: %s\r\nContent-Length: 4\r\n\r\nabcd"
                  % (NAME.encode(), NAME.encode()))
        read_response(s, out, time.monotonic(), time.monotonic() + 8)
    except (OSError, EOFError, ValueError) as e:
        out.error = str(e)
    finally:
        s.close()
    check(out.status == 502, "POST: the client got %r, expected the 502 of its one blocked try" % out)
    shape, tries = wait_access(w, wmark)[0]
    blocks = [l for l in lad.verdicts(mark) if "verdict=block" in l]
    check((shape, tries) == ("split", 1) and len(blocks) == 1,
          "POST: shape=%s tries=%d with %d blocked flows, expected split in one try" % (shape, tries, len(blocks)))
    wmark = w.mark()
    out = lad.request(addr, "http", "/after-post")
    check(out.ok(), "GET after the POST: %r" % out)
    check(wait_access(w, wmark)[0] == ("oob", 2), "GET after the POST: %s, expected oob after 2 tries"
          % (access_shape(w, wmark),))
    w.stop()


TRANSPARENT_PORT = 19999  # warpd's port in transparent mode, in the client namespace
MARK = 0x77  # upstream_mark: warpd's own connections are not redirected


@wd.timeout(90)
def test_transparent_intake(t):
    """The same censors against warpd in transparent mode: the client
    connects straight to the origin's address, the client namespace's nft
    rule redirects it to warpd (README's rules for this machine), and warpd
    shapes the first flight by what it is, with the rules' strategy found by
    the SNI or Host. Expected: the HTTP and TLS rows of the matrix."""
    lad = Ladder(t)
    rules = ("table ip wdladder {\n chain out {\n  type nat hook output priority -100; policy accept;\n"
             "  meta mark %d return\n  ip daddr %s tcp dport { 80, 443 } redirect to :%d\n }\n}\n"
             % (MARK, netpath.ORIGIN, TRANSPARENT_PORT))
    path = t.write("transparent.nft", rules)
    lad.path.nsh("client", "nft", "-f", path)
    extra = "mode transparent\nupstream_mark %d\nlisten 127.0.0.1:%d\nheader_timeout 3s" % (MARK, TRANSPARENT_PORT)
    bad, rows = [], []
    for strategy in ("split", "disorder", "fake", "oob", "tlsrec", "auto"):
        row = []
        w = None
        for model in MODELS:
            lad.censor(model)
            if w is None or strategy == "auto":
                if w is not None:
                    w.stop()
                w, _ = lad.warpd(strategy, extra)
            for proto, to, kind in (("http", (netpath.ORIGIN, 80), "http"), ("direct", (netpath.ORIGIN, 443), "tls")):
                target = "/transparent/%s/%s/%s" % (strategy, model, proto)
                mark, wmark = lad.log_mark(), w.mark()
                out = lad.request(to, proto, target)
                letter, verdicts = lad.judge(out, mark)
                if letter == "P":
                    got = lad.origins.requests(target)
                    if len(got) != 1 or (kind == "tls" and got[0][1] != out.sent):
                        letter = "M"
                row.append(letter)
                expect = EXPECTED[strategy][kind][MODELS.index(model)]
                if letter != expect:
                    bad.append("%s/%s/%s: observed %s, expected %s (%r; warpd: %s)"
                               % (strategy, model, kind, letter, expect, out, w.logs_since(wmark)[-2:]))
        w.stop()
        rows.append("%-9s http %s  tls %s" % (strategy, " ".join(row[0::2]), " ".join(row[1::2])))
    print("transparent intake (columns: per-packet, in-order, reassembling, strict)")
    print("\n".join(rows))
    check(not bad, "%d cell(s) differ:\n  %s" % (len(bad), "\n  ".join(bad)))


if __name__ == "__main__":
    wd.main(globals())
