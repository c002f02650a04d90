"""Integration tests of warpd's tcp mode on loopback: bytes relayed untouched
both ways, half-close in both directions, backpressure against a slow reader
(worker RSS stays flat), refused and hanging upstreams, 1000 concurrent
sessions over two workers, the access line, and IPv6."""

import hashlib
import os
import re
import selectors
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wdtest as wd  # noqa: E402
from wdtest import MIB, check  # noqa: E402


def start_tcp(t, upstream, workers=2, extra="", host="127.0.0.1"):
    return t.start_tcp(upstream, workers, extra, host)


def access_for(w, client_sock, timeout=5.0):
    """The access line of the session whose client end is client_sock."""
    me = wd.addr_text(client_sock.getsockname()[:2])
    return wd.wait_until(
        lambda: next((a for a in w.access_lines() if a["client"] == me), None),
        timeout, "the access line of client %s" % me,
    )


def send_then_shut(sock, payload, errors):
    try:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
    except OSError as e:
        errors.append("client send: %r" % e)


def recv_hash(sock, timeout):
    """(byte count, sha256) of everything until EOF, bounded by timeout."""
    h = hashlib.sha256()
    n = 0
    buf = bytearray(1 << 20)
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            raise wd.Fail("no EOF within %.0fs (%d bytes so far)" % (timeout, n))
        sock.settimeout(left)
        try:
            k = sock.recv_into(buf)
        except socket.timeout:
            continue
        if k == 0:
            return n, h.hexdigest()
        h.update(memoryview(buf)[:k])
        n += k


@wd.timeout(50)
def test_bulk_64mib_each_way_at_once(t):
    size = 64 * MIB
    a = wd.data(size, 1)  # client -> upstream
    b = wd.data(size, 2)  # upstream -> client
    got = {}

    def upstream(sock, srv):
        errs = []
        th = threading.Thread(target=send_then_shut, args=(sock, b, errs))
        sock.settimeout(40)
        th.start()
        got["n"], got["sha"] = recv_hash(sock, 40)
        th.join(40)
        got["errs"] = errs

    srv = t.server(upstream)
    w, addr = start_tcp(t, srv.text)
    c = t.connect(addr)
    c.settimeout(40)
    errs = []
    th = threading.Thread(target=send_then_shut, args=(c, a, errs))
    th.start()
    n, sha = recv_hash(c, 40)
    th.join(40)
    check(not errs, "client: %s" % errs)
    check(n == size, "client received %d bytes, upstream sent %d" % (n, size))
    check(sha == wd.sha256(b), "client received different bytes than the upstream sent")
    wd.wait_until(lambda: "sha" in got and "errs" in got, 10, "the upstream to finish")
    check(not got["errs"], "upstream: %s" % got["errs"])
    check(got["n"] == size, "upstream received %d bytes, client sent %d" % (got["n"], size))
    check(got["sha"] == wd.sha256(a), "upstream received different bytes than the client sent")
    acc = access_for(w, c)
    check(int(acc["inb"]) == size and int(acc["outb"]) == size,
          "access line counts in=%s out=%s, expected %d both: %s" % (acc["inb"], acc["outb"], size, acc["line"]))


def test_half_close_client_first(t):
    """The client sends a request and shuts its write side; the upstream
    answers only after seeing EOF, and the client must get all of it."""
    request = wd.data(100000, 3)
    payload = wd.data(MIB, 4)
    seen = {}

    def upstream(sock, srv):
        req = wd.recv_until_eof(sock, 10)
        seen["req"] = req
        sock.sendall(wd.sha256(req).encode() + b"\n" + payload)
        sock.close()

    srv = t.server(upstream)
    w, addr = start_tcp(t, srv.text)
    c = t.connect(addr)
    c.sendall(request)
    c.shutdown(socket.SHUT_WR)
    reply = wd.recv_until_eof(c, 10)
    expected = wd.sha256(request).encode() + b"\n" + payload
    check(seen.get("req") == request,
          "upstream got %d bytes, not the %d sent" % (len(seen.get("req", b"")), len(request)))
    check(reply == expected, "client got %d bytes of reply, expected %d (%s)"
          % (len(reply), len(expected), "prefix matches" if expected.startswith(reply) else "content differs"))


def test_half_close_upstream_first(t):
    """The upstream sends, shuts its write side and keeps reading: the client
    sees EOF, then sends, and everything it sends still reaches the upstream."""
    down = wd.data(2 * MIB, 5)
    up = wd.data(300000, 6)
    seen = {}

    def upstream(sock, srv):
        sock.sendall(down)
        sock.shutdown(socket.SHUT_WR)
        seen["up"] = wd.recv_until_eof(sock, 10)
        sock.close()

    srv = t.server(upstream)
    w, addr = start_tcp(t, srv.text)
    c = t.connect(addr)
    got = wd.recv_until_eof(c, 10)
    check(got == down, "client got %d bytes before EOF, expected %d" % (len(got), len(down)))
    c.sendall(up)
    c.shutdown(socket.SHUT_WR)
    how, _ = wd.expect_closed(c, 10)
    check(how == "eof", "client connection ended with %s after both sides closed, expected EOF" % how)
    wd.wait_until(lambda: "up" in seen, 5, "the upstream to see EOF")
    check(seen["up"] == up, "upstream got %d bytes after its half-close, expected %d" % (len(seen["up"]), len(up)))
    acc = access_for(w, c)
    check((int(acc["inb"]), int(acc["outb"])) == (len(up), len(down)),
          "access in=%s out=%s, expected in=%d out=%d" % (acc["inb"], acc["outb"], len(up), len(down)))


def test_source_closes_before_client_reads(t):
    """The upstream sends 4 MiB and closes before the client reads any of
    it; the EOF reaches warpd with the bytes still on their way to the
    client, and it must deliver all of them before passing the EOF on."""
    size = 4 * MIB + 12345  # not a multiple of any buffer size
    payload = wd.data(size, 13)
    done = threading.Event()

    def upstream(sock, srv):
        sock.sendall(payload)
        sock.close()
        done.set()

    srv = t.server(upstream)
    w, addr = start_tcp(t, srv.text, workers=1)
    # A small receive buffer (no autotuning) keeps the path to the client
    # full while it reads slowly.
    c = t.add(socket.socket())
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    c.settimeout(5)
    c.connect(addr)
    done.wait(5)  # the kernel buffers on the way normally hold it all
    got = bytearray()
    end = time.monotonic() + 10
    while True:
        check(time.monotonic() < end, "no EOF after 10s (%d of %d bytes)" % (len(got), size))
        c.settimeout(max(0.01, end - time.monotonic()))
        b = c.recv(65536)
        if not b:
            break
        got += b
        time.sleep(0.001)
    check(done.is_set(), "EOF before the upstream finished sending")
    check(len(got) == size, "client got %d of %d bytes before EOF" % (len(got), size))
    check(bytes(got) == payload, "client got different bytes")
    c.shutdown(socket.SHUT_WR)  # the other direction ends too: the session is over
    acc = access_for(w, c)
    check(int(acc["outb"]) == size, "access out=%s, expected %d" % (acc["outb"], size))


def is_asan(pid):
    try:
        with open("/proc/%d/maps" % pid) as f:
            return "libasan" in f.read()
    except OSError:
        return False


@wd.timeout(40)
def test_slow_reader_backpressure(t):
    """The upstream pushes 256 MiB as fast as it can, the client reads about
    1 MiB/s: warpd must stop reading the upstream instead of buffering, so
    the worker's RSS stays flat and the upstream is held back."""
    total = 256 * MIB
    chunk = wd.data(MIB, 7)
    state = {"sent": 0}

    def upstream(sock, srv):
        sock.settimeout(20)
        try:
            while state["sent"] < total and not srv.stopping.is_set():
                off = state["sent"] % MIB
                state["sent"] += sock.send(memoryview(chunk)[off:])
        except OSError:
            pass  # the client went away: expected at the end

    srv = t.server(upstream)
    w, addr = start_tcp(t, srv.text, workers=1)
    worker = w.workers()[0]
    base = wd.vmrss_kib(worker)
    asan = is_asan(worker)
    c = t.connect(addr)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    h = hashlib.sha256()
    received = 0
    peak = base
    rate = MIB  # bytes per second
    t0 = time.monotonic()
    duration = 4.0
    while time.monotonic() - t0 < duration:
        allowed = int(rate * (time.monotonic() - t0)) - received
        if allowed > 0:
            c.settimeout(1)
            try:
                b = c.recv(min(allowed, 65536))
            except socket.timeout:
                b = None
            if b == b"":
                raise wd.Fail("EOF from warpd after %d bytes" % received)
            if b:
                h.update(b)
                received += len(b)
        peak = max(peak, wd.vmrss_kib(worker))
        time.sleep(0.02)
    sent = state["sent"]
    c.close()
    print("     slow reader: read %.1f MiB, upstream sent %.1f MiB, worker RSS %d -> %d KiB%s"
          % (received / MIB, sent / MIB, base, peak, " (ASan)" if asan else ""))
    check(received >= 2 * MIB, "client could read only %d bytes in %.0fs" % (received, duration))
    check(h.hexdigest() == wd.sha256((chunk * (received // MIB + 1))[:received]),
          "the bytes the client read differ from what the upstream sent")
    check(peak - base <= 8 * 1024,
          "worker RSS grew from %d KiB to %d KiB (more than 8 MiB) behind a slow reader" % (base, peak))
    if not asan:
        check(peak <= 40 * 1024, "worker RSS reached %d KiB (limit 40 MiB)" % peak)
    check(sent - received < 64 * MIB,
          "upstream got %d MiB ahead of a client that read %d MiB: no backpressure" % (sent // MIB, received // MIB))


def test_upstream_refused(t):
    closed = wd.reserve_closed_port()
    t.add(closed)
    w, addr = start_tcp(t, wd.addr_text(closed.getsockname()[:2]))
    c = t.connect(addr)
    how, took = wd.expect_closed(c, 2.0)
    acc = access_for(w, c)
    check(int(acc["inb"]) == 0 and int(acc["outb"]) == 0, "access line of a refused session: %s" % acc["line"])
    check(acc["close"], "empty close reason: %s" % acc["line"])


@wd.timeout(30)
def test_connect_timeout(t):
    """An upstream whose accept queue is full never answers the SYN; with
    connect_timeout 1s the client is closed within ~3 s and the access line
    says it was a connect timeout."""
    lsock, fillers = wd.full_backlog_listener()
    t.add(lsock)
    for f in fillers:
        t.add(f)
    w, addr = start_tcp(t, wd.addr_text(lsock.getsockname()[:2]), extra="connect_timeout 1s\n")
    c = t.connect(addr)
    how, took = wd.expect_closed(c, 3.5)
    check(took >= 0.8, "client closed after %.2fs, before connect_timeout (1s) could expire" % took)
    acc = access_for(w, c)
    reason = acc["close"].lower()
    check("connect" in reason and re.search(r"time(d )?[ -]?out", reason),
          "close reason %r does not say connect timeout: %s" % (acc["close"], acc["line"]))


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0


@wd.timeout(50)
def test_1000_concurrent_sessions(t):
    """1000 sessions open at the same time through 2 workers: each sends
    4 KiB and gets it echoed; only when all 1000 have their echo do the
    clients half-close, and each must then see EOF."""
    n = 1000
    size = 4096
    echo = t.echo()
    w, addr = start_tcp(t, echo.text, workers=2)
    payloads = [wd.data(size, 1000 + i) for i in range(n)]
    sel = selectors.DefaultSelector()
    conns = {}
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.add(s)
        s.setblocking(False)
        err = s.connect_ex(addr)
        check(err in (0, 115), "connect %d: errno %d" % (i, err))  # EINPROGRESS
        conns[s] = {"i": i, "sent": 0, "got": bytearray(), "up": False}
        sel.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ)
    echoed = 0
    deadline = time.monotonic() + 30
    while echoed < n:
        check(time.monotonic() < deadline, "only %d of %d sessions echoed in 30s" % (echoed, n))
        for key, ev in sel.select(0.5):
            s = key.fileobj
            st = conns[s]
            if not st["up"]:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                check(err == 0, "connection %d failed: %s" % (st["i"], os.strerror(err)))
                st["up"] = True
            p = payloads[st["i"]]
            try:
                if ev & selectors.EVENT_WRITE and st["sent"] < size:
                    st["sent"] += s.send(p[st["sent"]:])
                    if st["sent"] == size:
                        sel.modify(s, selectors.EVENT_READ)
                if ev & selectors.EVENT_READ:
                    b = s.recv(65536)
                    check(b, "connection %d closed after %d bytes echoed" % (st["i"], len(st["got"])))
                    st["got"] += b
                    check(len(st["got"]) <= size, "connection %d got more than it sent" % st["i"])
                    if len(st["got"]) == size:
                        check(bytes(st["got"]) == p, "connection %d: the echo differs from what was sent" % st["i"])
                        sel.unregister(s)
                        echoed += 1
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as e:
                raise wd.Fail("connection %d: %r after %d sent, %d received" % (st["i"], e, st["sent"], len(st["got"])))
    sel.close()
    # All sessions are open now: warpd holds a client and an upstream socket for each.
    held = sum(fd_count(p) for p in w.workers())
    check(held >= 2 * n, "the workers hold %d fds with %d sessions open" % (held, n))
    check(echo.open == n, "the upstream has %d connections open, expected %d" % (echo.open, n))
    for s in conns:
        s.setblocking(True)
        s.shutdown(socket.SHUT_WR)
    for s, st in conns.items():
        how, _ = wd.expect_closed(s, max(0.1, deadline + 10 - time.monotonic()))
        check(how == "eof", "connection %d ended with %s, expected EOF" % (st["i"], how))
        s.close()
    check(echo.accepted == n, "the upstream saw %d connections, expected %d" % (echo.accepted, n))
    acc = wd.wait_until(lambda: (lambda a: a if len(a) >= n else None)(w.access_lines()), 10,
                        "%d access lines" % n)
    check(len(acc) == n, "%d access lines for %d sessions" % (len(acc), n))
    bad = [a["line"] for a in acc if (a["inb"], a["outb"]) != (str(size), str(size))]
    check(not bad, "%d access lines with wrong counts, e.g. %s" % (len(bad), bad[:2]))
    tags = {a["tag"] for a in acc}
    check(len(tags) == 2, "sessions were served by %s, expected both workers" % sorted(tags))


def test_access_line(t):
    request = wd.data(1234, 8)
    reply = wd.data(5678, 9)

    def upstream(sock, srv):
        wd.recv_until_eof(sock, 10)
        sock.sendall(reply)
        sock.close()

    srv = t.server(upstream)
    w, addr = start_tcp(t, srv.text)
    c = t.connect(addr)
    t0 = time.monotonic()
    c.sendall(request)
    srv.wait_accepted(1)
    time.sleep(0.3)  # a session of known minimum length, for time=
    c.shutdown(socket.SHUT_WR)
    check(wd.recv_until_eof(c, 10) == reply, "reply differs")
    took = time.monotonic() - t0
    acc = access_for(w, c)
    line = acc["line"]
    m = wd.LOG_RE.match(line)
    check(m and re.fullmatch(r"worker \d+", m.group("tag")), "access line not tagged by a worker: %s" % line)
    check(int(m.group("pid")) in w.seen, "access line pid %s is not a worker pid %s" % (m.group("pid"), sorted(w.seen)))
    check(acc["upstream"] == srv.text, "upstream=%s, expected %s" % (acc["upstream"], srv.text))
    check(int(acc["inb"]) == len(request), "in=%s, expected %d" % (acc["inb"], len(request)))
    check(int(acc["outb"]) == len(reply), "out=%s, expected %d" % (acc["outb"], len(reply)))
    check(0.25 <= float(acc["time"]) <= took + 0.5, "time=%s for a session of %.2fs" % (acc["time"], took))
    check(acc["close"], "empty close reason")


def test_max_connections_queues(t):
    """A worker at max_connections stops accepting: the next client waits in
    the kernel's queue and is served as soon as a session ends."""
    echo = t.echo(banner=b"hi")
    w, addr = start_tcp(t, echo.text, workers=1, extra="max_connections 2\n")
    c1, c2 = t.connect(addr), t.connect(addr)
    for c in (c1, c2):
        check(wd.recv_exact(c, 2, 5) == b"hi", "one of the first two sessions got no banner")
    c3 = t.connect(addr)  # the kernel completes the handshake; warpd must not accept yet
    c3.settimeout(0.5)
    try:
        early = c3.recv(2)
    except socket.timeout:
        early = None
    check(early is None, "a third session was served with max_connections 2 (got %r)" % early)
    check(echo.accepted == 2, "the upstream saw %d connections, expected 2" % echo.accepted)
    c1.close()
    check(wd.recv_exact(c3, 2, 5) == b"hi", "the queued client was not served after a session ended")
    c3.sendall(b"q")
    check(wd.recv_exact(c3, 1, 5) == b"q", "the queued client's session does not echo")


def test_client_reset_midway(t):
    """A client that resets mid-transfer: warpd closes the upstream side
    promptly and keeps serving."""
    closed = threading.Event()

    def upstream(sock, srv):
        chunk = wd.data(65536, 11)
        sock.settimeout(5)
        try:
            while not srv.stopping.is_set():
                sock.sendall(chunk)
        except OSError:
            closed.set()

    srv = t.server(upstream)
    w, addr = start_tcp(t, srv.text, workers=1)
    before = w.workers()
    c = wd.connect(addr)
    wd.recv_exact(c, 100000, 5)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    c.close()  # linger 0: RST
    check(closed.wait(3), "the upstream connection was not closed after the client reset")
    acc = wd.wait_until(lambda: w.access_lines(), 5, "an access line")
    check(acc[0]["close"], "no close reason")
    check(w.workers() == before, "the worker changed after a client reset: %s -> %s" % (before, w.workers()))


def test_upstream_reset_midway(t):
    """An upstream that resets after some data: the client is closed
    promptly (the data before the reset may or may not arrive)."""
    sent = wd.data(100000, 12)

    def upstream(sock, srv):
        sock.sendall(sent)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()

    srv = t.server(upstream)
    w, addr = start_tcp(t, srv.text, workers=1)
    c = t.connect(addr)
    got = bytearray()
    end = time.monotonic() + 3
    while True:
        check(time.monotonic() < end, "client still open 3s after the upstream reset")
        c.settimeout(max(0.01, end - time.monotonic()))
        try:
            b = c.recv(65536)
        except ConnectionResetError:
            break
        except socket.timeout:
            continue
        if not b:
            break
        got += b
    check(sent.startswith(bytes(got)), "the client got bytes the upstream did not send")
    access_for(w, c)


def test_access_log_off(t):
    echo = t.echo()
    w, addr = start_tcp(t, echo.text, workers=1, extra="access_log off\n")
    c = t.connect(addr)
    c.sendall(b"quiet")
    c.shutdown(socket.SHUT_WR)
    check(wd.recv_until_eof(c, 5) == b"quiet", "echo differs")
    w.stop()
    check(not w.access_lines(), "access lines with access_log off: %s" % [a["line"] for a in w.access_lines()])


def test_idle_timeout(t):
    """A session where no byte moves for idle_timeout is closed."""

    def upstream(sock, srv):
        sock.settimeout(0.2)
        while not srv.stopping.is_set():
            try:
                if sock.recv(4096) == b"":
                    return
            except socket.timeout:
                pass

    srv = t.server(upstream)
    w, addr = start_tcp(t, srv.text, extra="idle_timeout 1s\n")
    c = t.connect(addr)
    c.sendall(b"hello")
    srv.wait_accepted(1)
    how, took = wd.expect_closed(c, 5)
    check(took >= 0.5, "closed after %.2fs, too early for idle_timeout 1s" % took)
    access_for(w, c)


def test_ipv6(t):
    if not wd.have_ipv6():
        raise wd.Skip("::1 not available")
    echo = t.echo(host="::1")
    w, addr = start_tcp(t, echo.text, host="::1")
    c = t.connect(addr)
    payload = wd.data(65536, 10)
    c.sendall(payload)
    c.shutdown(socket.SHUT_WR)
    check(wd.recv_until_eof(c, 10) == payload, "echo through [::1] differs")
    acc = access_for(w, c)
    check(acc["client"].startswith("[::1]:"), "client=%s" % acc["client"])
    check(acc["upstream"] == echo.text, "upstream=%s, expected %s" % (acc["upstream"], echo.text))


if __name__ == "__main__":
    wd.main(globals())
