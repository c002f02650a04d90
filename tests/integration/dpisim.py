"""A DPI middlebox of the tests' own, to prove that request shaping works:
a TCP relay in front of a real server plus an AF_PACKET capture on "lo" that
sees the segments going to the relay's port exactly as a censor's box on the
wire would. The relay forwards a connection only after the capture's verdict
on its first bytes (the request head, or the first TLS record): blocked when a
forbidden name appears inside one segment ("segment" mode) or anywhere in the
first N reassembled bytes ("reassemble" mode). Blocked HTTP gets a 302 to a
warning page, blocked TLS a reset. Built on wdtest; every wait is bounded."""

import ctypes
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wdtest as wd  # noqa: E402

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
PACKET_OUTGOING = 4  # sll_pkttype of the copy lo shows on transmit
SO_ATTACH_FILTER = 26
SO_TIMESTAMPNS = 35
SO_RCVBUFFORCE = 33
TCP_SYN = 0x02

REDIRECT = (
    b"HTTP/1.1 302 Found\r\n"
    b"Location: http://warning.test/blocked\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Length: 8\r\n"
    b"Connection: close\r\n\r\n"
    b"blocked\n"
)
KEEP = 1 << 20  # stream bytes kept per flow (tests send far less)
HEAD_CAP = 1 << 16  # a "head" longer than this is decided on what arrived


def capture_unavailable():
    """None when this process can capture on lo, else why not."""
    if not hasattr(socket, "AF_PACKET"):
        return "no AF_PACKET sockets on this system"
    if os.geteuid() != 0:
        return "not root: an AF_PACKET capture on lo needs CAP_NET_RAW (the shaping tests run as root)"
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
            s.bind(("lo", ETH_P_ALL))
        finally:
            s.close()
    except OSError as e:
        return "AF_PACKET capture on lo unavailable: %s" % e
    return None


# ---- the capture ------------------------------------------------------------


class _Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint32)]


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Filter))]


def _bpf(port):
    """A classic BPF program keeping TCP over IPv4 (first fragments) or IPv6
    with destination port `port`: other loopback traffic (a parallel test's
    64 MiB download) never reaches the Python loop, so nothing is dropped."""
    # (label, code, k, jump-true label, jump-false label); None = next.
    prog = [
        ("", 0x28, 12, None, None),  # ldh [12]: ethertype
        ("", 0x15, ETH_P_IP, None, "v6"),  # jeq IPv4
        ("", 0x30, 23, None, None),  # ldb [23]: IPv4 protocol
        ("", 0x15, 6, None, "drop"),  # jeq TCP
        ("", 0x28, 20, None, None),  # ldh [20]: flags + fragment offset
        ("", 0x45, 0x1FFF, "drop", None),  # jset: a later fragment
        ("", 0xB1, 14, None, None),  # ldxb 4*([14]&0xf): IPv4 header length
        ("", 0x48, 16, None, None),  # ldh [x+16]: TCP destination port
        ("", 0x15, port, "keep", "drop"),
        ("v6", 0x15, ETH_P_IPV6, None, "drop"),  # A still holds the ethertype
        ("", 0x30, 20, None, None),  # ldb [20]: IPv6 next header
        ("", 0x15, 6, None, "drop"),
        ("", 0x28, 56, None, None),  # ldh [56]: TCP destination port
        ("", 0x15, port, "keep", "drop"),
        ("keep", 0x06, 0x40000, None, None),  # ret: the whole frame
        ("drop", 0x06, 0, None, None),
    ]
    where = {lab: i for i, (lab, _, _, _, _) in enumerate(prog) if lab}
    out = []
    for i, (_, code, k, jt, jf) in enumerate(prog):
        rel = lambda lab: 0 if lab is None else where[lab] - i - 1  # noqa: E731
        out.append(_Filter(code, rel(jt), rel(jf), k))
    return out


def parse_frame(frame):
    """(src, sport, dst, dport, seq, flags, payload) of a TCP segment in an
    Ethernet frame as lo delivers it (14-byte header of zero addresses), or
    None for anything else."""
    if len(frame) < 14:
        return None
    etype = struct.unpack_from("!H", frame, 12)[0]
    ip = frame[14:]
    if etype == ETH_P_IP:
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
            return None
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack_from("!H", ip, 2)[0]
        if struct.unpack_from("!H", ip, 6)[0] & 0x1FFF:
            return None  # not a first fragment
        if total:
            ip = ip[:total]  # padding after the datagram is not payload
        src = socket.inet_ntop(socket.AF_INET, ip[12:16])
        dst = socket.inet_ntop(socket.AF_INET, ip[16:20])
        tcp = ip[ihl:]
    elif etype == ETH_P_IPV6:
        if len(ip) < 40 or ip[0] >> 4 != 6 or ip[6] != 6:
            return None  # extension headers do not occur on lo here
        plen = struct.unpack_from("!H", ip, 4)[0]
        src = socket.inet_ntop(socket.AF_INET6, ip[8:24])
        dst = socket.inet_ntop(socket.AF_INET6, ip[24:40])
        tcp = ip[40 : 40 + plen] if plen else ip[40:]
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport, seq = struct.unpack_from("!HHI", tcp, 0)
    doff = (tcp[12] >> 4) * 4
    if doff < 20 or doff > len(tcp):
        return None
    return src, sport, dst, dport, seq, tcp[13], bytes(tcp[doff:])


class Flow:
    """What the capture saw of one client->relay connection: every data
    segment (stream offset, payload, kernel timestamp) in arrival order and
    the stream reassembled by sequence number."""

    def __init__(self, port, isn, ts):
        self.port = port
        self.base = None if isn is None else (isn + 1) & 0xFFFFFFFF
        self.started = ts
        self.segments = []  # (offset, payload, ts)
        self.stream = bytearray()  # contiguous bytes from offset 0 (up to KEEP)
        self.contig = 0  # contiguous payload bytes seen from the start
        self._later = {}  # offset -> payload beyond the contiguous end
        self.claimed = False
        self.verdict = None  # "blocked" or "allowed" (first decision)
        self.decisions = []  # one dict per decision (request head or TLS record)

    def add(self, seq, payload, ts):
        if self.base is None:  # the SYN was not seen: start at the first byte
            self.base = seq
        off = (seq - self.base) & 0xFFFFFFFF
        if off >= 1 << 31:
            return  # before the start of the stream
        self.segments.append((off, payload, ts))
        self._later[off] = max(payload, self._later.get(off, b""), key=len)
        while True:
            nxt = None
            for o in list(self._later):
                p = self._later[o]
                if o + len(p) <= self.contig:
                    del self._later[o]
                elif o <= self.contig:
                    nxt = (o, p)
                    break
            if nxt is None:
                return
            o, p = nxt
            del self._later[o]
            tail = p[self.contig - o :]
            room = KEEP - len(self.stream)
            if room > 0:
                self.stream += tail[:room]
            self.contig += len(tail)

    @property
    def sizes(self):
        return [len(p) for _, p, _ in self.segments]

    def in_range(self, since=0, upto=None):
        """Segments overlapping stream bytes [since, upto)."""
        upto = self.contig if upto is None else upto
        return [s for s in self.segments if s[0] < upto and s[0] + len(s[1]) > since]

    def segment_hit(self, names, since=0, upto=None):
        """The first segment in [since, upto) holding a whole name, or None."""
        for s in self.in_range(since, upto):
            low = s[1].lower()
            if any(n in low for n in names):
                return s
        return None

    def stream_hit(self, names, n):
        low = bytes(self.stream[:n]).lower()
        return any(x in low for x in names)

    def describe(self):
        return "flow :%d %s, %d segments %s" % (self.port, self.verdict, len(self.segments), self.sizes)


class DPI:
    """The middlebox in front of backend (host, port). mode "segment" or
    "reassemble" (first n bytes), proto "http" (302 when blocked) or "tls"
    (reset). every_request (http): each later request head on an allowed
    connection is judged too (its own segments), not only the first.
    .addr is where clients connect; .flows the judged connections in order."""

    def __init__(self, t, backend, mode="segment", proto="http", names=(b"blocked.test",), n=1024,
                 host="127.0.0.1", every_request=False, decide_timeout=10.0, sync_timeout=1.0):
        if mode not in ("segment", "reassemble") or proto not in ("http", "tls"):
            raise ValueError("mode %r proto %r" % (mode, proto))
        self.backend = tuple(backend)
        self.mode, self.proto, self.n = mode, proto, n
        self.names = [x.lower() for x in names]
        self.every_request = every_request
        self.decide_timeout, self.sync_timeout = decide_timeout, sync_timeout
        self.errors = []
        self.flows = []  # claimed by relay connections, in claim order
        self._by_port = {}  # client port -> [Flow, ...] (newest last)
        self._cond = threading.Condition()
        self._upstreams = []
        self._stopping = threading.Event()
        self.server = wd.Server(self._handle, host, name="dpi-%s-%s" % (proto, mode))
        self.addr = self.server.addr
        self.port = self.addr[1]
        self.text = self.server.text
        try:
            self._open_capture()
        except BaseException:
            self.server.close()
            raise
        self._thread = threading.Thread(target=self._sniff, name="dpi-capture", daemon=True)
        self._thread.start()
        t.add(self)

    # -- capture
    def _open_capture(self):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
            arr = (_Filter * 16)(*_bpf(self.port))
            prog = _Prog(len(arr), ctypes.cast(arr, ctypes.POINTER(_Filter)))
            s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(prog))
            try:
                s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
            except OSError:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            s.bind(("lo", ETH_P_ALL))
            s.settimeout(0.1)
        except BaseException:
            s.close()
            raise
        self._cap = s

    def _sniff(self):
        ancsize = socket.CMSG_SPACE(16)
        while not self._stopping.is_set():
            try:
                frame, anc, _, addr = self._cap.recvmsg(1 << 18, ancsize)
            except socket.timeout:
                continue
            except OSError:
                return
            if addr[2] == PACKET_OUTGOING:
                continue  # lo shows each packet twice; keep the received copy
            ts = time.time()
            for level, typ, data in anc:
                if level == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS and len(data) >= 16:
                    sec, nsec = struct.unpack("qq", data[:16])
                    ts = sec + nsec / 1e9
            try:
                p = parse_frame(frame)
            except (ValueError, struct.error) as e:
                self.errors.append("capture: unparsable frame: %r" % e)
                continue
            if p is None or p[3] != self.port:
                continue
            _, sport, _, _, seq, flags, payload = p
            with self._cond:
                flows = self._by_port.setdefault(sport, [])
                if flags & TCP_SYN:
                    if not flows or flows[-1].base != (seq + 1) & 0xFFFFFFFF:
                        flows.append(Flow(sport, seq, ts))
                elif payload:
                    if not flows:
                        flows.append(Flow(sport, None, ts))
                    flows[-1].add(seq, payload, ts)
                self._cond.notify_all()

    def _sync(self, port, nbytes, flow=None):
        """The flow of client port once the capture has seen its first nbytes
        (the relay never judges bytes the "wire" has not shown yet). flow:
        the one already claimed; else the newest unclaimed one is claimed."""
        end = time.monotonic() + self.sync_timeout
        with self._cond:
            while True:
                f = flow
                if f is None:
                    cands = [x for x in self._by_port.get(port, []) if not x.claimed]
                    f = cands[-1] if cands else None
                if f is not None and f.contig >= nbytes:
                    if not f.claimed:
                        f.claimed = True
                        self.flows.append(f)
                    return f
                left = end - time.monotonic()
                if left <= 0:
                    self.errors.append("capture saw %s of %d bytes of the flow from port %d within %.1fs"
                                       % (f.contig if f else "none", nbytes, port, self.sync_timeout))
                    return f
                self._cond.wait(left)

    def _judge(self, f, since, upto):
        """(blocked, reason) for stream bytes [since, upto) of flow f."""
        if f is None or f.contig < upto:
            return True, "not seen by the capture (fail closed)"
        seg = f.segment_hit(self.names, since, upto)
        reasm = f.stream_hit(self.names, min(self.n, upto))
        d = {
            "since": since,
            "upto": upto,
            "segments": len(f.in_range(since, upto)),
            "segment_hit": seg is not None,
            "reassemble_hit": reasm,
        }
        blocked = d["segment_hit"] if self.mode == "segment" else reasm
        d["verdict"] = "blocked" if blocked else "allowed"
        with self._cond:
            f.decisions.append(d)
            if f.verdict is None:
                f.verdict = d["verdict"]
        if not blocked:
            return False, ""
        if self.mode == "segment":
            return True, "name in the segment at offset %d (%d bytes)" % (seg[0], len(seg[1]))
        return True, "name in the first %d bytes" % min(self.n, upto)

    # -- relay
    def _decided(self, buf):
        if len(buf) >= HEAD_CAP:
            return True
        if self.proto == "http":
            return b"\r\n\r\n" in buf
        if len(buf) >= 1 and buf[0] != 0x16:
            return True  # not a TLS handshake: nothing to wait for
        return len(buf) >= 5 and len(buf) >= 5 + struct.unpack_from("!H", buf, 3)[0]

    def _read_more(self, c, buf, end):
        """Appends what c sends until _decided(buf); False on EOF or deadline."""
        while not self._decided(buf):
            left = end - time.monotonic()
            if left <= 0:
                return False
            c.settimeout(min(left, 1.0))
            try:
                b = c.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return False
            if not b:
                return False
            buf += b
        return True

    def _block(self, c):
        if self.proto == "tls":
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
            return
        try:
            c.sendall(REDIRECT)
            c.shutdown(socket.SHUT_WR)
            # Read what the client still sends, so that close sends a FIN
            # and not a reset that could destroy the 302 in flight.
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                c.settimeout(max(0.01, end - time.monotonic()))
                if not c.recv(65536):
                    break
        except OSError:
            pass

    def _handle(self, c, srv):
        port = c.getpeername()[1]
        buf = bytearray()
        self._read_more(c, buf, time.monotonic() + self.decide_timeout)
        if not buf:
            return
        f = self._sync(port, len(buf))
        upto = len(buf)
        if self.proto == "http" and b"\r\n\r\n" in buf:
            upto = buf.index(b"\r\n\r\n") + 4
        blocked, _ = self._judge(f, 0, upto)
        if blocked:
            self._block(c)
            return
        s = socket.socket(wd.family_of(self.backend[0]), socket.SOCK_STREAM)
        with self._cond:
            self._upstreams.append(s)
        try:
            s.settimeout(5)
            s.connect(self.backend)
        except OSError as e:
            self.errors.append("relay: backend %s: %r" % (self.backend, e))
            s.close()
            return
        lock = threading.Lock()
        back = threading.Thread(target=self._copy, args=(s, c, lock), daemon=True)
        back.start()
        try:
            if self.proto == "http" and self.every_request:
                self._requests(c, s, f, port, buf, lock)
            else:
                s.sendall(buf)
                self._copy(c, s, None)
        except OSError:
            pass
        finally:
            back.join(35)
            s.close()

    def _copy(self, src, dst, lock):
        while not self._stopping.is_set():
            src.settimeout(30)
            try:
                b = src.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                b = b""
            try:
                if not b:
                    dst.shutdown(socket.SHUT_WR)
                    return
                if lock:
                    with lock:
                        dst.sendall(b)
                else:
                    dst.sendall(b)
            except OSError:
                return

    def _requests(self, c, s, f, port, buf, lock):
        """Client -> server for bodiless-or-Content-Length requests, each head
        judged on its own segments before it is forwarded."""
        pos = 0  # stream offset of buf[0]
        first = True
        while True:
            end = buf.index(b"\r\n\r\n") + 4
            if not first:
                f = self._sync(port, pos + len(buf), f)
                blocked, _ = self._judge(f, pos, pos + end)
                if blocked:
                    with lock:
                        self._block(c)
                    s.shutdown(socket.SHUT_RDWR)
                    return
            first = False
            body = 0
            for line in bytes(buf[:end]).split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    body = int(v.strip())
            s.sendall(buf[:end])
            del buf[:end]
            pos += end
            while body > 0:
                if not buf:
                    c.settimeout(30)
                    b = c.recv(65536)
                    if not b:
                        s.shutdown(socket.SHUT_WR)
                        return
                    buf += b
                take = min(body, len(buf))
                s.sendall(buf[:take])
                del buf[:take]
                pos += take
                body -= take
            if not self._read_more(c, buf, time.monotonic() + 30):
                if buf:
                    s.sendall(buf)
                s.shutdown(socket.SHUT_WR)
                return

    # -- for tests
    def wait_flows(self, n, timeout=5.0):
        """The first n judged flows, once there are n."""
        return wd.wait_until(lambda: len(self.flows) >= n and list(self.flows[:n]), timeout,
                             "%d flows judged by the DPI simulator" % n)

    def check_clean(self):
        wd.check(not self.errors, "DPI simulator errors: %s" % self.errors[:3])
        wd.check(not self.server.errors, "DPI relay errors: %s" % self.server.errors[:3])

    def describe(self):
        return ["dpi %s/%s %s" % (self.proto, self.mode, f.describe()) for f in list(self.flows)]

    def close(self):
        self._stopping.set()
        self.server.close()
        with self._cond:
            ups = list(self._upstreams)
        for s in ups:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(2)
        self._cap.close()
