"""A small load generator and a fast origin for the tests that change warpd's
processes under load (reload, stop): like wrk, each of N connections sends a
request as soon as the previous answer is complete, reconnecting when an
answer says Connection: close; unlike wrk, every request is accounted for.

A request counts as failed when it was written (or its write failed) and no
complete 200 answer came back: a reset, an EOF, a timeout or another status.
A connection attempt that is refused (or whose SYN is never answered) sent no
request; it is counted apart, as "refused". Both classes run one selectors
loop in one thread each, and stop by themselves."""

import errno
import os
import random
import selectors
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wdtest as wd  # noqa: E402

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"


class FastOrigin:
    """A keep-alive origin that answers every request head with ANSWER. It
    reads heads only (the load sends no bodies) and counts them."""

    def __init__(self, t, host="127.0.0.1"):
        self.lsock = socket.socket(wd.family_of(host), socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, 0))
        self.lsock.listen(1024)
        self.lsock.setblocking(False)
        self.addr = self.lsock.getsockname()[:2]
        self.text = wd.addr_text(self.addr)
        self.requests = 0
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        t.add(self)

    def _loop(self):
        sel = selectors.DefaultSelector()
        sel.register(self.lsock, selectors.EVENT_READ, None)
        bufs = {}
        while self.running:
            for key, _ in sel.select(0.1):
                if key.data is None:
                    for _ in range(64):
                        try:
                            c, _ = self.lsock.accept()
                        except OSError:
                            break
                        c.setblocking(False)
                        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        bufs[c] = bytearray()
                        sel.register(c, selectors.EVENT_READ, "c")
                    continue
                c = key.fileobj
                try:
                    b = c.recv(65536)
                except OSError:
                    b = b""
                if not b:
                    sel.unregister(c)
                    c.close()
                    del bufs[c]
                    continue
                buf = bufs[c]
                buf += b
                out = bytearray()
                while True:
                    end = buf.find(b"\r\n\r\n")
                    if end < 0:
                        break
                    del buf[: end + 4]
                    self.requests += 1
                    out += ANSWER
                try:
                    if out:
                        c.sendall(out)
                except OSError:
                    pass
        for c in bufs:
            c.close()
        sel.close()

    def close(self):
        self.running = False
        self.thread.join(5)
        self.lsock.close()


class _Conn:
    def __init__(self):
        self.sock = None
        # idle (no socket: connect at .at), connecting, waiting (for the
        # answer), pause (kept alive: send the next request at .at)
        self.state = "idle"
        self.at = 0.0
        self.buf = bytearray()


class Load:
    """conns connections to addr; request is the bytes of one request."""

    def __init__(self, t, addr, request, conns=50, timeout=5.0, think=0.0):
        self.addr = addr
        self.think = think  # a random pause of up to this many seconds between requests
        self.request = request
        self.timeout = timeout
        self.ok = 0
        self.failed = 0
        self.refused = 0
        self.closes = 0  # answers with Connection: close
        self.reasons = []  # the first failures, for the message
        self.running = True
        self.lock = threading.Lock()
        self.cs = [_Conn() for _ in range(conns)]
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        t.add(self)

    def counts(self):
        with self.lock:
            return {"ok": self.ok, "failed": self.failed, "refused": self.refused, "closes": self.closes}

    def wait_ok(self, n, timeout=10.0):
        """Waits until n more requests succeeded than when called."""
        start = self.ok
        wd.wait_until(lambda: self.ok >= start + n, timeout, "%d more answers through the load" % n)

    def _fail(self, c, why):
        with self.lock:
            self.failed += 1
            if len(self.reasons) < 10:
                self.reasons.append(why)
        self._drop(c, 0.0)

    def _drop(self, c, delay):
        if c.sock is not None:
            try:
                self.sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()
            c.sock = None
        c.state = "idle"
        c.at = time.monotonic() + delay
        c.buf = bytearray()

    def _send(self, c):
        try:
            c.sock.send(self.request)
        except OSError as e:
            self._fail(c, "write: %s" % e)
            return
        c.state = "waiting"
        c.at = time.monotonic() + self.timeout
        self.sel.modify(c.sock, selectors.EVENT_READ, c)

    def _connect(self, c):
        s = socket.socket(wd.family_of(self.addr[0]), socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rc = s.connect_ex(self.addr)
        c.sock = s
        c.buf = bytearray()
        if rc not in (0, errno.EINPROGRESS):
            with self.lock:
                self.refused += 1
            self._drop(c, 0.05)
            return
        c.state = "connecting"
        c.at = time.monotonic() + 3.0
        self.sel.register(s, selectors.EVENT_WRITE, c)

    def _connected(self, c):
        err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            with self.lock:
                self.refused += 1
            self._drop(c, 0.05)
            return
        self._send(c)

    def _readable(self, c):
        try:
            b = c.sock.recv(65536)
        except OSError as e:
            self._fail(c, "read: %s after %d bytes" % (e, len(c.buf)))
            return
        if not b:
            self._fail(c, "EOF after %d bytes of the answer" % len(c.buf))
            return
        c.buf += b
        end = c.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(c.buf[:end]).lower()
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line.startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if len(c.buf) < end + 4 + length:
            return
        close = b"\r\nconnection: close" in head
        status = head[9:12]
        with self.lock:
            if status == b"200":
                self.ok += 1
            else:
                self.failed += 1
                if len(self.reasons) < 10:
                    self.reasons.append("status %s" % status.decode("ascii", "replace"))
            if close:
                self.closes += 1
        if close or len(c.buf) > end + 4 + length:
            self._drop(c, 0.0)
        elif self.running and self.think > 0:
            c.buf = bytearray()
            c.state = "pause"
            c.at = time.monotonic() + random.uniform(0, self.think)
            self.sel.modify(c.sock, selectors.EVENT_READ, c)
        elif self.running:
            c.buf = bytearray()
            self._send(c)
        else:
            self._drop(c, 0.0)
            c.state = "done"

    def _loop(self):
        self.sel = selectors.DefaultSelector()
        while True:
            now = time.monotonic()
            busy = 0
            for c in self.cs:
                if c.state == "idle" and self.running and now >= c.at:
                    self._connect(c)
                elif c.state == "pause" and now >= c.at:
                    if self.running:
                        self._send(c)
                    else:
                        self._drop(c, 0.0)
                elif c.state in ("connecting", "waiting") and now >= c.at:
                    if c.state == "connecting":
                        with self.lock:
                            self.refused += 1  # the SYN was never answered: nothing sent
                        self._drop(c, 0.0)
                    else:
                        self._fail(c, "no answer within %.0fs" % self.timeout)
                if c.state in ("connecting", "waiting"):
                    busy += 1
            if not self.running and busy == 0:
                break
            for key, ev in self.sel.select(0.02):
                c = key.data
                if c.sock is None:
                    continue
                if c.state == "connecting":
                    self._connected(c)
                elif c.state == "waiting":
                    self._readable(c)
                elif c.state == "pause":
                    self._drop(c, 0.0)  # the server closed a kept-alive connection: nothing was lost
        for c in self.cs:
            if c.sock is not None:
                c.sock.close()
        self.sel.close()

    def stop(self):
        """Stops sending; the requests under way are waited for (they are
        bounded by the timeout). Returns the counts."""
        self.running = False
        self.thread.join(self.timeout + 5)
        return self.counts()

    def close(self):
        if self.thread.is_alive():
            self.stop()

    def describe(self):
        c = self.counts()
        return "%(ok)d ok, %(failed)d failed, %(refused)d refused, %(closes)d closes" % c + (
            "; first failures: %s" % self.reasons if self.reasons else ""
        )
