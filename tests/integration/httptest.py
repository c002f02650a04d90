"""Fakes and helpers for warpd's HTTP integration tests: a fake origin that
records the exact bytes of every connection, parses what warpd forwards
strictly and answers from a per-path script; a fake DNS server over UDP; an
HTTP client reader; and starting warpd in forward or reverse mode. Built on
wdtest (servers, runner, cleanup); every wait here is bounded too.

The origin is strict on purpose: whatever warpd sends upstream must be valid
HTTP/1.1 with CRLF line ends, token names, no obs-fold, one framing header and
chunk lines without extensions. Anything else is kept in Origin.violations."""

import os
import re
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wdtest as wd  # noqa: E402
from wdtest import Fail, check  # noqa: E402

TOKEN_RE = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
REQUEST_LINE_RE = re.compile(rb"^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e\x80-\xff]+) HTTP/(1\.[01])$")
STATUS_LINE_RE = re.compile(rb"^HTTP/(1\.[01]) ([1-5][0-9][0-9]) ?([\t\x20-\x7e\x80-\xff]*)$")
CHUNK_LINE_RE = re.compile(rb"^([0-9A-Fa-f]{1,16})(;[^\r\n]*)?$")
# user= is there only when proxy authentication is on (auth_user).
HTTP_ACCESS_RE = re.compile(
    r'client=(?P<client>\S+)(?: user=(?P<user>\S+))? method=(?P<method>\S+) target="(?P<target>[^"]*)" '
    r"status=(?P<status>\d+) in=(?P<inb>\d+) out=(?P<outb>\d+) upstream=(?P<upstream>\S+) "
    r"ttfb=(?P<ttfb>\d+(?:\.\d+)?) time=(?P<time>\d+(?:\.\d+)?)"
    r"(?: shape=(?P<shape>\S+) tries=(?P<tries>\d+))?"
    r'(?: close="(?P<close>[^"]*)")?$'
)


class Violation(Exception):
    """What warpd sent (or a client sent) breaks the strict grammar."""


# ---- reading from a socket --------------------------------------------------


class Reader:
    """Buffered reads with deadlines; every byte received is also appended
    to record (a bytearray) when one is given."""

    def __init__(self, sock, record=None, timeout=10.0):
        self.sock = sock
        self.buf = bytearray()
        self.record = record
        self.timeout = timeout
        self.eof = False

    def _fill(self, end, want=1 << 20):
        left = end - time.monotonic()
        if left <= 0:
            raise Fail("timed out reading (%d bytes buffered: %r)" % (len(self.buf), bytes(self.buf[:80])))
        self.sock.settimeout(min(left, 1.0))
        try:
            b = self.sock.recv(want)
        except socket.timeout:
            return
        except (ConnectionResetError, BrokenPipeError):
            b = b""
        if not b:
            self.eof = True
            raise EOFError()
        self.buf += b
        if self.record is not None:
            self.record += b

    def read_until(self, delim, limit=1 << 20, timeout=None):
        """Bytes up to and including delim. EOFError when the peer closes first."""
        end = time.monotonic() + (timeout or self.timeout)
        start = 0
        while True:
            i = self.buf.find(delim, start)
            if i >= 0:
                out = bytes(self.buf[: i + len(delim)])
                del self.buf[: i + len(delim)]
                return out
            if len(self.buf) > limit:
                raise Violation("no %r within %d bytes" % (delim, limit))
            start = max(0, len(self.buf) - len(delim) + 1)
            self._fill(end)

    def read_exact(self, n, timeout=None, sink=None):
        """n bytes (or, with sink, n bytes handed to sink(bytes) piecewise and
        an empty result: big bodies need not be held)."""
        end = time.monotonic() + (timeout or self.timeout)
        parts = []
        got = 0
        while got < n:
            if not self.buf:
                self._fill(end, min(n - got, 1 << 20))
                continue
            take = min(n - got, len(self.buf))
            piece = bytes(self.buf[:take])
            del self.buf[:take]
            got += take
            if sink is not None:
                sink(piece)
            else:
                parts.append(piece)
        return b"".join(parts)

    def read_line(self, limit=65536, timeout=None):
        """One line without its CRLF; a bare LF or CR is a Violation."""
        line = self.read_until(b"\n", limit, timeout)
        if not line.endswith(b"\r\n") or b"\r" in line[:-2]:
            raise Violation("line not ended by CRLF: %r" % line[:100])
        return line[:-2]

    def read_to_eof(self, timeout=None, limit=1 << 30, sink=None):
        end = time.monotonic() + (timeout or self.timeout)
        parts = []
        total = 0
        while True:
            if self.buf:
                piece = bytes(self.buf)
                self.buf.clear()
                total += len(piece)
                check(total <= limit, "more than %d bytes before EOF" % limit)
                if sink is not None:
                    sink(piece)
                else:
                    parts.append(piece)
            if self.eof:
                return b"".join(parts)
            try:
                self._fill(end)
            except EOFError:
                pass

    def pending(self):
        return bytes(self.buf)


# ---- messages -----------------------------------------------------------------


class Head:
    """A parsed message head: start line, fields in order as (name, value)
    with values trimmed, and the raw bytes."""

    def __init__(self, raw, start, fields):
        self.raw = raw
        self.start = start
        self.fields = fields

    def all(self, name):
        n = name.lower()
        return [v for k, v in self.fields if k.lower() == n]

    def get(self, name, default=None):
        v = self.all(name)
        return v[-1] if v else default

    def has(self, name):
        return bool(self.all(name))

    def tokens(self, name):
        """Comma-separated tokens of every field called name, lowercased."""
        out = []
        for v in self.all(name):
            out += [x.strip().lower() for x in v.split(",") if x.strip()]
        return out

    def names(self):
        return [k for k, _ in self.fields]


def parse_fields(lines):
    fields = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            raise Violation("obs-fold line %r" % line[:80])
        name, sep, value = line.partition(b":")
        if not sep or not TOKEN_RE.match(name):
            raise Violation("bad field line %r" % line[:80])
        value = value.strip(b" \t")
        if any((c < 0x20 and c != 0x09) or c == 0x7F for c in value):
            raise Violation("control byte in the value of %r" % name)
        fields.append((name.decode("latin-1"), value.decode("latin-1")))
    return fields


def parse_head(raw):
    """raw ends with CRLF CRLF; strict CRLF everywhere."""
    check(raw.endswith(b"\r\n\r\n"), "head without its empty line")
    body = raw[:-4]
    lines = body.split(b"\r\n")
    for line in lines:
        if b"\r" in line or b"\n" in line:
            raise Violation("bare CR or LF in %r" % line[:80])
    return Head(raw, lines[0], parse_fields(lines[1:]))


def read_head(rd, limit=1 << 20, timeout=None):
    return parse_head(rd.read_until(b"\r\n\r\n", limit, timeout))


class Chunked:
    """A decoded chunked body: data, the size lines' extensions, trailers."""

    def __init__(self):
        self.data = bytearray()
        self.sizes = []
        self.exts = []
        self.trailers = []


def read_chunked(rd, timeout=None, sink=None):
    ch = Chunked()
    while True:
        line = rd.read_line(4096, timeout)
        m = CHUNK_LINE_RE.match(line)
        if not m:
            raise Violation("bad chunk line %r" % line[:80])
        size = int(m.group(1), 16)
        ch.sizes.append(size)
        if m.group(2):
            ch.exts.append(m.group(2))
        if size == 0:
            break
        piece = rd.read_exact(size, timeout, sink=sink)
        if sink is None:
            ch.data += piece
        if rd.read_exact(2, timeout) != b"\r\n":
            raise Violation("chunk data not followed by CRLF")
    lines = []
    while True:
        line = rd.read_line(65536, timeout)
        if line == b"":
            break
        lines.append(line)
    ch.trailers = parse_fields(lines)
    return ch


def chunk(data, ext=b""):
    return b"%x%s\r\n%s\r\n" % (len(data), ext, data)


def chunked_body(pieces, trailers=(), last_ext=b""):
    out = b"".join(chunk(p) for p in pieces if p)
    out += b"0%s\r\n" % last_ext
    out += b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in trailers)
    return out + b"\r\n"


class Request:
    """One request as the origin received it."""

    def __init__(self, conn, index, head):
        self.conn = conn  # OriginConn
        self.index = index  # position on its connection
        self.head = head
        m = REQUEST_LINE_RE.match(head.start)
        if not m:
            raise Violation("bad request line %r" % head.start[:100])
        self.method = m.group(1).decode()
        self.target = m.group(2).decode("latin-1")
        self.version = m.group(3).decode()
        self.path = self.target.split("?", 1)[0]
        self.body = b""
        self.chunked = None  # Chunked when the body came chunked
        self.framing = "none"
        self.complete = False  # head and body fully received
        self.time = time.monotonic()

    def header(self, name, default=None):
        return self.head.get(name, default)


def request_framing(head):
    """('none'|'length'|'chunked', length) of a request, strictly."""
    te = head.all("Transfer-Encoding")
    cl = head.all("Content-Length")
    if te and cl:
        raise Violation("both Transfer-Encoding and Content-Length")
    if te:
        if len(te) != 1 or te[0].lower() != "chunked":
            raise Violation("Transfer-Encoding %r" % te)
        return "chunked", 0
    if cl:
        if len(cl) != 1 or not re.match(r"^[0-9]{1,18}$", cl[0]):
            raise Violation("Content-Length %r" % cl)
        return "length", int(cl[0])
    return "none", 0


# ---- the fake origin --------------------------------------------------------


class OriginConn:
    """One connection the origin accepted: every byte received, in order,
    and the requests parsed from them."""

    def __init__(self, index, sock):
        self.index = index
        self.sock = sock
        self.raw = bytearray()
        self.requests = []
        self.closed = False
        self.peer = sock.getpeername()[:2]

    def complete(self):
        return [r for r in self.requests if r.complete]


class Exchange:
    """What an origin action gets: the request, the connection and ways to
    read its body and answer."""

    def __init__(self, origin, conn, rd, req):
        self.origin = origin
        self.conn = conn
        self.rd = rd
        self.req = req
        self.sock = conn.sock
        self.body_read = False

    def read_body(self):
        if self.body_read:
            return self.req.body
        self.body_read = True
        framing, n = request_framing(self.req.head)
        self.req.framing = framing
        if framing == "length":
            self.req.body = self.rd.read_exact(n, 20)
        elif framing == "chunked":
            ch = read_chunked(self.rd, 20)
            self.req.chunked = ch
            self.req.body = bytes(ch.data)
        self.req.complete = True
        return self.req.body

    def send(self, b):
        self.sock.sendall(b)

    def head_bytes(self, status=200, headers=(), reason=None, version="1.1"):
        reason = reason if reason is not None else REASONS.get(status, "Whatever")
        out = b"HTTP/%s %d %s\r\n" % (version.encode(), status, reason.encode())
        for k, v in headers:
            out += b"%s: %s\r\n" % (k.encode("latin-1"), v.encode("latin-1"))
        return out + b"\r\n"

    def std_headers(self):
        return [
            ("Content-Type", "text/plain"),
            ("X-Conn", str(self.conn.index)),
            ("X-Req", str(self.req.index)),
        ]

    def respond(self, status=200, body=b"", headers=None, reason=None, length=True):
        """A response framed by Content-Length (no body bytes for HEAD)."""
        hs = self.std_headers() if headers is None else list(headers)
        if length:
            hs.append(("Content-Length", str(len(body))))
        out = self.head_bytes(status, hs, reason)
        if self.req.method != "HEAD":
            out += body
        self.send(out)

    def shut(self):
        """Closes the connection (both directions) now."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return "close"


REASONS = {
    100: "Continue",
    101: "Switching Protocols",
    200: "OK",
    201: "Created",
    204: "No Content",
    304: "Not Modified",
    404: "Not Found",
    500: "Internal Server Error",
}


def default_body(req):
    return ("%s %s\n" % (req.method, req.target)).encode("latin-1") + req.body


def act_default(x):
    """Reads the body and answers 200 with "METHOD target\\n" + the body."""
    x.read_body()
    x.respond(200, default_body(x.req))


class Origin:
    """The fake origin: a wdtest.Server whose handler records every
    connection's bytes, parses requests strictly and runs the action routed
    for each request's path (act_default when none). An action returns
    "close" to end the connection after it."""

    def __init__(self, t, host="127.0.0.1", backlog=128):
        self.lock = threading.Lock()
        self.conns = []
        self.routes = {}
        self.violations = []
        self.events = {}
        self.server = t.server(self._handle, host, backlog=backlog, name="origin")
        self.addr = self.server.addr
        self.port = self.addr[1]
        self.text = self.server.text
        self.host = host

    def route(self, path, action):
        self.routes[path] = action
        return self

    def event(self, name):
        with self.lock:
            return self.events.setdefault(name, threading.Event())

    @property
    def accepted(self):
        return self.server.accepted

    def requests(self, complete=True):
        with self.lock:
            conns = list(self.conns)
        out = []
        for c in conns:
            out += [r for r in c.requests if r.complete or not complete]
        return sorted(out, key=lambda r: r.time)

    def raw(self):
        with self.lock:
            return b"".join(bytes(c.raw) for c in self.conns)

    def per_conn(self):
        """Number of complete requests each connection carried, in accept order."""
        with self.lock:
            return [len(c.complete()) for c in self.conns]

    def wait_requests(self, n, timeout=5.0):
        return wd.wait_until(lambda: len(self.requests()) >= n and self.requests(), timeout, "%d requests at the origin" % n)

    def wait_closed(self, conn_index, timeout=5.0):
        wd.wait_until(lambda: len(self.conns) > conn_index and self.conns[conn_index].closed, timeout,
                      "origin connection %d to be closed" % conn_index)

    def check_clean(self):
        check(not self.violations, "warpd sent invalid HTTP upstream: %s" % self.violations[:3])
        check(not self.server.errors, "origin errors: %s" % self.server.errors[:3])

    def _action_for(self, req):
        return self.routes.get(req.target) or self.routes.get(req.path) or act_default

    def _handle(self, sock, srv):
        with self.lock:
            conn = OriginConn(len(self.conns), sock)
            self.conns.append(conn)
        rd = Reader(sock, record=conn.raw, timeout=30)
        try:
            while True:
                try:
                    raw = rd.read_until(b"\r\n\r\n", 1 << 20, 60)
                except EOFError:
                    return  # between requests: a clean close
                req = Request(conn, len(conn.requests), parse_head(raw))
                with self.lock:
                    conn.requests.append(req)
                x = Exchange(self, conn, rd, req)
                if self._action_for(req)(x) == "close":
                    return
                if not x.body_read:
                    x.read_body()
        except Violation as e:
            self.violations.append("conn %d: %s" % (conn.index, e))
        except EOFError:
            pass  # mid-message: the request stays incomplete
        except Fail as e:
            if not srv.stopping.is_set():
                srv.errors.append("origin conn %d: %s" % (conn.index, e))
        except OSError:
            pass
        finally:
            conn.closed = True
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# ---- origin actions (each returns a function of an Exchange) ----------------


def act_reply(status=200, body=b"", headers=(), reason=None, length=True):
    def a(x):
        x.read_body()
        x.respond(status, body, x.std_headers() + list(headers), reason, length)

    return a


def act_chunked(pieces, trailers=(), headers=()):
    def a(x):
        x.read_body()
        hs = x.std_headers() + list(headers) + [("Transfer-Encoding", "chunked")]
        x.send(x.head_bytes(200, hs) + chunked_body(pieces, trailers))

    return a


def act_close_delimited(body, headers=()):
    """No Content-Length, no Transfer-Encoding: the body ends at close."""

    def a(x):
        x.read_body()
        x.send(x.head_bytes(200, x.std_headers() + list(headers)) + body)
        return x.shut()

    return a


def act_no_body(status, content_length):
    """HEAD, 204 or 304 answer that carries a Content-Length but no body."""

    def a(x):
        x.read_body()
        hs = x.std_headers() + [("Content-Length", str(content_length))]
        x.send(x.head_bytes(status, hs))

    return a


def act_continue(status=200):
    """100 Continue first, then reads the body, then the final answer."""

    def a(x):
        x.req.expect = x.req.header("Expect")
        x.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        x.read_body()
        x.respond(status, default_body(x.req))

    return a


def act_interim(heads):
    """Sends each raw 1xx head (e.g. b"HTTP/1.1 103 Early Hints\\r\\n...") before
    reading the body, then the usual answer."""

    def a(x):
        for h in heads:
            x.send(h)
        x.read_body()
        x.respond(200, default_body(x.req))

    return a


def act_stream(pieces, gate, chunked=True, gate_timeout=10.0):
    """Sends the head and the first piece, then waits (bounded) for gate, a
    threading.Event the test sets once it has seen the first piece, then the
    rest. gate.timed_out tells whether the test never set it."""

    def a(x):
        x.read_body()
        hs = x.std_headers()
        if chunked:
            hs.append(("Transfer-Encoding", "chunked"))
        else:
            hs.append(("Content-Length", str(sum(len(p) for p in pieces))))
        enc = chunk if chunked else (lambda p: p)
        x.send(x.head_bytes(200, hs) + enc(pieces[0]))
        gate.timed_out = not gate.wait(gate_timeout)
        for p in pieces[1:]:
            time.sleep(0.05)
            x.send(enc(p))
        gate.last_sent = time.monotonic()
        if chunked:
            x.send(b"0\r\n\r\n")

    return a


def act_big(size, seed):
    """A size-byte Content-Length body of reproducible data, sent in slices."""
    payload = wd.data(size, seed)

    def a(x):
        x.read_body()
        hs = x.std_headers() + [("Content-Length", str(size))]
        x.send(x.head_bytes(200, hs))
        mv = memoryview(payload)
        for i in range(0, size, 1 << 20):
            x.send(mv[i : i + (1 << 20)])

    return a, payload


def act_close_before_answer():
    def a(x):
        x.read_body()
        return x.shut()

    return a


def act_close_mid_body(announced, sent):
    def a(x):
        x.read_body()
        hs = x.std_headers() + [("Content-Length", str(announced))]
        x.send(x.head_bytes(200, hs) + b"m" * sent)
        time.sleep(0.1)
        return x.shut()

    return a


def act_raw(raw, close=True):
    """Answers with raw bytes as given (invalid responses), then closes."""

    def a(x):
        x.read_body()
        x.send(raw)
        if close:
            time.sleep(0.05)
            return x.shut()

    return a


def act_extra_after(body, extra):
    """A complete response immediately followed by bytes nobody asked for."""

    def a(x):
        x.read_body()
        hs = x.std_headers() + [("Content-Length", str(len(body)))]
        x.send(x.head_bytes(200, hs) + body + extra)

    return a


def act_switch():
    """101 to an Upgrade request, then echoes raw bytes until EOF."""

    def a(x):
        x.read_body()
        hs = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")]
        x.send(x.head_bytes(101, hs))
        x.sock.settimeout(10)
        while True:
            if x.rd.buf:
                b = bytes(x.rd.buf)
                x.rd.buf.clear()
            else:
                try:
                    b = x.sock.recv(65536)
                except OSError:
                    b = b""
                if not b:
                    break
                x.conn.raw += b
            x.send(b)
        return x.shut()

    return a


def act_close_after_answer():
    """Answers normally (no Connection: close), then closes the connection:
    warpd may already have pooled it."""

    def a(x):
        act_default(x)
        time.sleep(0.05)
        return x.shut()

    return a


def act_fail_when_reused():
    """The first request of a connection is answered; a later one is read
    and the connection closed without an answer (a pooled connection that
    died under warpd)."""

    def a(x):
        if x.req.index > 0:
            x.read_body()
            return x.shut()
        act_default(x)

    return a


def act_silent(seconds):
    """Reads the request and answers nothing for seconds (bounded), then closes."""

    def a(x):
        x.read_body()
        end = time.monotonic() + seconds
        x.sock.settimeout(0.2)
        while time.monotonic() < end:
            try:
                if not x.sock.recv(4096):
                    break
            except socket.timeout:
                continue
            except OSError:
                break
        return x.shut()

    return a


# ---- a raw TCP target that records and echoes (CONNECT) ------------------------


class RecordingEcho:
    """A TCP server that records every byte each connection sent and echoes
    it back; on EOF it closes its side too."""

    def __init__(self, t, host="127.0.0.1"):
        self.raw = []
        self.server = t.server(self._handle, host, name="echo-target")
        self.addr = self.server.addr
        self.port = self.addr[1]

    @property
    def accepted(self):
        return self.server.accepted

    def _handle(self, sock, srv):
        rec = bytearray()
        self.raw.append(rec)
        sock.settimeout(20)
        while True:
            try:
                b = sock.recv(65536)
            except OSError:
                break
            if not b:
                break
            rec += b
            sock.sendall(b)
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass


# ---- the fake DNS server -------------------------------------------------------

QTYPE_A, QTYPE_AAAA = 1, 28


class FakeDNS:
    """A UDP DNS server on 127.0.0.1: A and AAAA answers from self.names,
    NXDOMAIN for nx.test and for names it does not know, and no answer at
    all for slow.test (so that lookups time out). Queries are recorded as
    (name, qtype)."""

    def __init__(self, t, host="127.0.0.1"):
        self.names = {
            "origin.test": {"A": ["127.0.0.1"], "AAAA": []},
            "origin6.test": {"A": [], "AAAA": ["::1"]},
            "both.test": {"A": ["127.0.0.1"], "AAAA": ["::1"]},
        }
        self.silent = ("slow.test",)
        self.queries = []
        self.errors = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.2)
        self.addr = self.sock.getsockname()[:2]
        self.text = wd.addr_text(self.addr)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="dns", daemon=True)
        self.thread.start()
        t.add(self)

    def add(self, name, a=(), aaaa=()):
        self.names[name.lower()] = {"A": list(a), "AAAA": list(aaaa)}

    def asked(self, name):
        return [q for q in self.queries if q[0] == name.lower()]

    def _loop(self):
        while not self.stopping.is_set():
            try:
                q, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                r = self._answer(q)
            except Exception as e:  # a query we cannot parse: ignore it
                self.errors.append("dns: %r" % e)
                continue
            if r is not None:
                try:
                    self.sock.sendto(r, peer)
                except OSError:
                    pass

    def _answer(self, q):
        qid, flags, qd = struct.unpack("!HHH", q[:6])
        i = 12
        labels = []
        while q[i] != 0:
            n = q[i]
            labels.append(q[i + 1 : i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        qname_end = i + 1
        qtype, qclass = struct.unpack("!HH", q[qname_end : qname_end + 4])
        question = q[12 : qname_end + 4]
        name = ".".join(labels).lower()
        self.queries.append((name, qtype))
        if any(name == s or name.startswith(s + ".") for s in self.silent):
            return None
        entry = self.names.get(name)
        rcode = 0 if entry is not None else 3
        answers = []
        if entry is not None:
            if qtype == QTYPE_A:
                answers = [(QTYPE_A, socket.inet_pton(socket.AF_INET, a)) for a in entry["A"]]
            elif qtype == QTYPE_AAAA:
                answers = [(QTYPE_AAAA, socket.inet_pton(socket.AF_INET6, a)) for a in entry["AAAA"]]
        rflags = 0x8000 | (flags & 0x7800) | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
        out = struct.pack("!HHHHHH", qid, rflags, 1, len(answers), 0, 0) + question
        for typ, rdata in answers:
            out += struct.pack("!HHHIH", 0xC00C, typ, 1, 60, len(rdata)) + rdata
        return out

    def close(self):
        self.stopping.set()
        self.thread.join(2)
        self.sock.close()


# ---- warpd in an HTTP mode ------------------------------------------------------


def http_config(t, port, mode="forward", workers=1, extra="", upstream=None, dns=None, host="127.0.0.1"):
    """A config file for warpd in forward or reverse mode; lines in extra
    replace the defaults here (each directive is written once)."""
    d = {
        "listen": wd.addr_text((host, port)),
        "workers": str(workers),
        "mode": mode,
        "shape": "off",
        "shutdown_timeout": "3s",
        "connect_timeout": "2s",
        "resolve_timeout": "3s",
    }
    if upstream:
        d["upstream"] = upstream
    if dns is not None:
        d["resolver"] = dns.text
    for line in extra.splitlines():
        if line.strip():
            k, v = line.strip().split(None, 1)
            d[k] = v.strip()
    body = "".join("%s %s\n" % kv for kv in d.items())
    return t.config("# written by %s\n%s" % (t.name, body))


def start_http(t, mode="forward", workers=1, extra="", upstream=None, dns=None, host="127.0.0.1"):
    """warpd on a free loopback port; returns (warpd, listen address)."""
    port = wd.free_port(host)
    cfg = http_config(t, port, mode, workers, extra, upstream, dns, host)
    w = t.warpd(config=cfg, nworkers=workers)
    return w, (host, port)


def access(w, mark=0):
    """The HTTP access lines warpd logged (from log line index mark on)."""
    out = []
    for line in w.logs_since(mark):
        m = wd.LOG_RE.match(line)
        if not m or m.group("level") != "access":
            continue
        a = HTTP_ACCESS_RE.search(m.group("msg"))
        if a:
            d = a.groupdict()
            d["line"] = line
            out.append(d)
    return out


def wait_access(w, pred=lambda a: True, timeout=5.0, mark=0, what="an access line"):
    return wd.wait_until(lambda: next((a for a in access(w, mark) if pred(a)), None), timeout, what)


# ---- the client side -------------------------------------------------------


class Response:
    def __init__(self):
        self.interim = []  # 1xx heads before the final one
        self.head = None
        self.status = 0
        self.version = ""
        self.reason = ""
        self.body = b""
        self.chunked = None
        self.framing = ""
        self.time_head = None

    def header(self, name, default=None):
        return self.head.get(name, default)

    def __repr__(self):
        return "<%s %d %r body %r>" % (self.version, self.status, self.head.fields if self.head else None, self.body[:80])


def read_response(rd, method="GET", timeout=10.0, sink=None):
    """Reads one response (and the 1xx heads before it) the way a strict
    client does; a close-delimited body is read to EOF."""
    r = Response()
    while True:
        h = read_head(rd, 1 << 20, timeout)
        m = STATUS_LINE_RE.match(h.start)
        if not m:
            raise Violation("bad status line %r" % h.start[:100])
        status = int(m.group(2))
        if 100 <= status < 200 and status != 101:
            r.interim.append(h)
            continue
        break
    r.time_head = time.monotonic()
    r.head = h
    r.version, r.status, r.reason = m.group(1).decode(), status, m.group(3).decode("latin-1")
    te, cl = h.all("Transfer-Encoding"), h.all("Content-Length")
    if method == "HEAD" or status in (101, 204, 304) or (method == "CONNECT" and 200 <= status < 300):
        r.framing = "none"
    elif te:
        if te != ["chunked"] or cl:
            raise Violation("response framing TE %r CL %r" % (te, cl))
        r.framing = "chunked"
        r.chunked = read_chunked(rd, timeout, sink)
        r.body = bytes(r.chunked.data)
    elif cl:
        if len(cl) != 1 or not cl[0].isdigit():
            raise Violation("response Content-Length %r" % cl)
        r.framing = "length"
        r.body = rd.read_exact(int(cl[0]), timeout, sink)
    else:
        r.framing = "close"
        r.body = rd.read_to_eof(timeout, sink=sink)
    return r


class Client:
    """A raw HTTP client connection to warpd."""

    def __init__(self, t, addr, timeout=10.0, nodelay=False):
        self.sock = t.connect(addr, timeout)
        if nodelay:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rd = Reader(self.sock, timeout=timeout)

    def send(self, b):
        self.sock.sendall(b)

    def send_quietly(self, b):
        """Sends what the peer takes; a peer that already answered and
        closed may reset the rest."""
        try:
            self.sock.sendall(b)
        except OSError:
            pass

    def send_bytewise(self, b, pause=0.002, limit=20.0):
        """One byte per write (TCP_NODELAY), with a tiny pause between."""
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        end = time.monotonic() + limit
        for i in range(len(b)):
            check(time.monotonic() < end, "byte-wise send took more than %.0fs" % limit)
            self.sock.send(b[i : i + 1])
            time.sleep(pause)

    def response(self, method="GET", timeout=10.0, sink=None):
        try:
            return read_response(self.rd, method, timeout, sink)
        except EOFError:
            raise Fail("connection closed (EOF or reset) before a complete response; unread: %r" % bytes(self.rd.buf[:200]))

    def expect_closed(self, timeout=5.0):
        """Nothing more arrives and the connection ends (EOF or reset)."""
        check(not self.rd.buf, "unexpected bytes after the response: %r" % bytes(self.rd.buf[:80]))
        return wd.expect_closed(self.sock, timeout)

    def expect_open(self, seconds=0.3):
        """Still open, nothing unexpected arriving, for seconds."""
        self.sock.settimeout(seconds)
        try:
            b = self.sock.recv(4096)
        except socket.timeout:
            return
        finally:
            self.sock.settimeout(10)
        raise Fail("expected the connection to stay open and quiet, got %r" % b[:80] if b else "connection closed early")


def request(method, target, headers=(), body=b"", version="1.1"):
    """Raw request bytes; headers is a list of (name, value) or raw lines."""
    out = b"%s %s HTTP/%s\r\n" % (method.encode(), target.encode("latin-1"), version.encode())
    for h in headers:
        if isinstance(h, tuple):
            out += b"%s: %s\r\n" % (h[0].encode("latin-1"), h[1].encode("latin-1"))
        else:
            out += (h if isinstance(h, bytes) else h.encode("latin-1")) + b"\r\n"
    return out + b"\r\n" + body


def get(origin_addr, path="/", headers=None, version="1.1", method="GET", body=b""):
    """An absolute-form request to the origin at origin_addr with a matching Host."""
    auth = wd.addr_text(origin_addr)
    hs = [("Host", auth)] if headers is None else headers
    return request(method, "http://%s%s" % (auth, path), hs, body, version)


def check_error(resp, status):
    """A warpd error answer: the status, a small text/plain body starting
    with "warpd: <status>", and Connection: close."""
    check(resp.status == status, "expected %d, got %d %s (body %r)" % (status, resp.status, resp.reason, resp.body[:120]))
    ctype = resp.header("Content-Type", "")
    check(ctype.startswith("text/plain"), "error Content-Type %r, expected text/plain" % ctype)
    check(resp.body.startswith(b"warpd: %d" % status), "error body %r does not start with 'warpd: %d'" % (resp.body[:80], status))
    check(len(resp.body) < 1024, "error body of %d bytes is not small" % len(resp.body))
    check("close" in resp.head.tokens("Connection"), "error answer without Connection: close: %r" % resp.head.fields)


def expect_error(c, status, method="GET", timeout=10.0):
    """Reads warpd's error answer on c, checks it, and that the connection ends."""
    r = c.response(method, timeout)
    check_error(r, status)
    c.expect_closed(5)
    return r


def forwarded_head(req_line, fields, via="1.1 warpd"):
    """The head warpd should send: request line, fields, Via appended."""
    out = req_line.encode("latin-1") + b"\r\n"
    for k, v in fields:
        out += b"%s: %s\r\n" % (k.encode("latin-1"), v.encode("latin-1"))
    if via:
        out += b"Via: %s\r\n" % via.encode()
    return out + b"\r\n"


def show(b, n=600):
    return repr(bytes(b[:n]))
