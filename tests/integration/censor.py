#!/usr/bin/env python3
"""An inline censor of the tests' own (issue 12): one process in its own
network namespace that bridges two interfaces in userspace over two AF_PACKET
sockets and judges the TCP flows to the origin's ports on the way, as a DPI
box between two routers would. When a model finds a forbidden name in the
client's first bytes it drops that frame and every later frame of the flow,
both ways, and injects a RST towards each end (or, with --block-page, an HTTP
302 to http://warning.test/blocked towards the client). Every verdict goes to
the --log file, one line per decision.

The models, each a real class of DPI, from the weakest:
  per-packet    one TCP segment's payload alone holds the name (substring)
  in-order      the client stream reassembled in order over its first 2 KiB;
                the first gap (a segment beyond the next byte expected) ends
                the inspection of the flow for good
  reassembling  the first 4 KiB with out-of-order buffering; the first data
                at a position wins; blind to TTL and to the urgent pointer
  strict        the first 4 KiB; segments whose TTL could not reach the
                server are ignored; the last retransmission wins; urgent bytes
                are taken out as the server's kernel does; a TLS ClientHello is
                parsed across records and judged by its SNI
  none          no judging: a plain bridge (baselines, captures)

Usage: censor.py --model M --name NAME [--name NAME...] --left IF --right IF
                 --log FILE [--block-page] [--ports 80,443]
--left faces the client, --right the server. "ready" on stdout means both
sockets are bound and the interfaces promiscuous."""

import argparse
import mmap
import os
import random
import selectors
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_OUTGOING = 4
PACKET_RX_RING = 5
PACKET_VERSION = 10
TPACKET_V2 = 1
TP_STATUS_USER = 1

FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20

MODELS = ("none", "per-packet", "in-order", "reassembling", "strict")
BLOCK_PAGE = (
    b"HTTP/1.1 302 Found\r\n"
    b"Location: http://warning.test/blocked\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Length: 8\r\n"
    b"Connection: close\r\n\r\n"
    b"blocked\n"
)
MOD32 = 1 << 32


# ---- checksums and frames ---------------------------------------------------


def csum(data):
    """The Internet checksum (RFC 1071) of data."""
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def fix_checksums(frame, ihl, base=14):
    """Recomputes, in place, the IPv4 header and TCP checksums of the TCP/IPv4
    datagram at frame[base:] (a bytearray trimmed to the datagram's end). A
    veth hands frames to AF_PACKET with the TCP checksum often only partial
    (offload): forwarded as read, the frame would be dropped by its receiver."""
    frame[base + 10 : base + 12] = b"\0\0"
    frame[base + 10 : base + 12] = struct.pack("!H", csum(bytes(frame[base : base + ihl])))
    t = base + ihl
    pseudo = bytes(frame[base + 12 : base + 20]) + struct.pack("!BBH", 0, 6, len(frame) - t)
    frame[t + 16 : t + 18] = b"\0\0"
    frame[t + 16 : t + 18] = struct.pack("!H", csum(pseudo + bytes(frame[t:])))


def build_tcp(eth_dst, eth_src, src, dst, sport, dport, seq, ack, flags, payload=b"", window=65535, ttl=64):
    """An Ethernet frame with one TCP/IPv4 segment, checksums computed."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq % MOD32, ack % MOD32, 5 << 4, flags, window, 0, 0) + payload
    frame = bytearray(eth_dst + eth_src + struct.pack("!H", ETH_P_IP))
    frame += struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.randrange(65536), 0x4000, ttl, 6, 0,
                         socket.inet_aton(src), socket.inet_aton(dst)) + tcp
    fix_checksums(frame, 20)
    return bytes(frame)


class Seg:
    """The fields of one TCP/IPv4 frame the censor looks at."""

    __slots__ = ("frame", "ihl", "ttl", "src", "dst", "sport", "dport", "seq", "ack", "flags", "urg", "payload")

    @staticmethod
    def parse(raw):
        """A Seg for a whole (unfragmented) TCP/IPv4 frame, or None."""
        if len(raw) < 34 or raw[12:14] != b"\x08\x00" or raw[14] >> 4 != 4 or raw[23] != 6:
            return None
        ihl = (raw[14] & 15) * 4
        total = struct.unpack_from("!H", raw, 16)[0]
        if struct.unpack_from("!H", raw, 20)[0] & 0x3FFF or total < ihl + 20 or 14 + total > len(raw):
            return None  # a fragment, or truncated
        s = Seg()
        s.frame = bytearray(raw[: 14 + total])
        s.ihl = ihl
        s.ttl = raw[22]
        s.src = socket.inet_ntoa(raw[26:30])
        s.dst = socket.inet_ntoa(raw[30:34])
        t = 14 + ihl
        s.sport, s.dport, s.seq, s.ack, off, s.flags, _, _, s.urg = struct.unpack_from("!HHIIBBHHH", raw, t)
        doff = (off >> 4) * 4
        if doff < 20 or t + doff > 14 + total:
            return None
        s.payload = bytes(raw[t + doff : 14 + total])
        return s


class Ring:
    """A PACKET_RX_RING (TPACKET_V2) on an AF_PACKET socket. The kernel copies
    each frame into the ring as it arrives. A plain recvfrom() copies it only
    when called, from pages the frame may still share with its sender: warpd's
    fake is sent from a page it rewrites with the real bytes right after the
    fake has left, and on a veth path the censor would then read the real bytes
    in the fake's frame, which no wire allows."""

    FRAME = 1 << 17  # a whole frame of the 65000-byte MTU, and the header
    NFRAMES = 64

    def __init__(self, sock):
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V2)
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING, struct.pack("IIII", self.FRAME, self.NFRAMES, self.FRAME,
                                                                self.NFRAMES))
        self.mm = mmap.mmap(sock.fileno(), self.FRAME * self.NFRAMES, mmap.MAP_SHARED,
                            mmap.PROT_READ | mmap.PROT_WRITE)
        self.i = 0

    def frames(self, limit):
        """Up to limit (pkttype, frame bytes) waiting in the ring, in order."""
        for _ in range(limit):
            base = self.i * self.FRAME
            if not struct.unpack_from("I", self.mm, base)[0] & TP_STATUS_USER:
                return
            _, snaplen, mac, _ = struct.unpack_from("IIHH", self.mm, base + 4)
            pkttype = self.mm[base + 32 + 10]  # sockaddr_ll.sll_pkttype, after the 32-byte header
            frame = self.mm[base + mac : base + mac + snaplen]
            struct.pack_into("I", self.mm, base, 0)  # the slot goes back to the kernel
            self.i = (self.i + 1) % self.NFRAMES
            yield pkttype, frame


# ---- what a model keeps of a flow ------------------------------------------


def forbidden_in(data, names):
    """The first forbidden name found in data (case-insensitive), or None."""
    low = bytes(data).lower()
    for n in names:
        if n in low:
            return n
    return None


def sni_of(stream):
    """(state, sni) of a TLS stream that starts with handshake records:
    ("need", None) until the ClientHello is complete, ("hello", name or b"")
    once it is, ("other", None) for anything that is not a ClientHello. The
    handshake fragments are joined across records."""
    hs = bytearray()
    i = 0
    while True:
        if len(hs) >= 4:
            mlen = int.from_bytes(hs[1:4], "big")
            if hs[0] != 1:
                return "other", None
            if len(hs) >= 4 + mlen:
                return "hello", _hello_sni(bytes(hs[4 : 4 + mlen]))
        if len(stream) < i + 5:
            return "need", None
        ctype, _, rlen = struct.unpack_from("!BHH", stream, i)
        if ctype != 22:
            return "other", None
        if len(stream) < i + 5 + rlen:
            hs += stream[i + 5 :]
            # a partial record: enough when the message is already whole
            if len(hs) >= 4 and len(hs) >= 4 + int.from_bytes(hs[1:4], "big") and hs[0] == 1:
                continue
            return "need", None
        hs += stream[i + 5 : i + 5 + rlen]
        i += 5 + rlen


def _hello_sni(body):
    """The host name of a ClientHello body's server_name extension, or b""."""
    try:
        p = 2 + 32  # version, random
        p += 1 + body[p]  # session id
        p += 2 + int.from_bytes(body[p : p + 2], "big")  # cipher suites
        p += 1 + body[p]  # compression methods
        end = p + 2 + int.from_bytes(body[p : p + 2], "big")
        p += 2
        while p + 4 <= end:
            etype, elen = struct.unpack_from("!HH", body, p)
            p += 4
            if etype == 0:  # server_name: list length, then (type, length, name)...
                q, qend = p + 2, p + 2 + int.from_bytes(body[p : p + 2], "big")
                while q + 3 <= qend:
                    ntype, nlen = body[q], int.from_bytes(body[q + 1 : q + 3], "big")
                    if ntype == 0:
                        return bytes(body[q + 3 : q + 3 + nlen])
                    q += 3 + nlen
                return b""
            p += elen
    except (IndexError, struct.error):
        pass
    return b""


class PerPacket:
    """Each segment on its own."""

    def __init__(self, names):
        self.names = names

    def feed(self, off, seg):
        n = forbidden_in(seg.payload, self.names)
        if n:
            return "block", "one segment (%d bytes at +%d) holds %s" % (len(seg.payload), off, n.decode())
        return None


class InOrder:
    """In-order reassembly of the first 2 KiB; gives up at the first gap."""

    WINDOW = 2048

    def __init__(self, names):
        self.names = names
        self.buf = bytearray()

    def feed(self, off, seg):
        nxt = len(self.buf)
        if off > nxt:
            return "pass", "gap at +%d (expected +%d): gave up on the flow" % (off, nxt)
        end = off + len(seg.payload)
        if end <= nxt:
            return None  # old bytes again
        self.buf += seg.payload[nxt - off : self.WINDOW - off]
        n = forbidden_in(self.buf, self.names)
        if n:
            return "block", "in-order stream (%d bytes) holds %s" % (len(self.buf), n.decode())
        if len(self.buf) >= self.WINDOW:
            return "pass", "first %d bytes without a name" % self.WINDOW
        return None


class Reassembling:
    """Out-of-order reassembly of the first 4 KiB, first data wins; TTL and
    urgent pointer unseen. strict=True: TTL-filtered, last data wins, urgent
    bytes out, TLS parsed."""

    WINDOW = 4096

    def __init__(self, names, strict=False):
        self.names = names
        self.strict = strict
        self.held = bytearray(self.WINDOW)
        self.have = bytearray(self.WINDOW)  # 1 where held[i] is known
        self.urgent = set()  # stream offsets of urgent bytes (strict)

    def feed(self, off, seg):
        if self.strict and seg.ttl < 2:
            # One router (router2) is left: this segment dies before the server.
            return None
        if self.strict and seg.flags & URG and seg.urg:
            # Linux points the urgent pointer just past the urgent byte.
            self.urgent.add(off + seg.urg - 1)
        if off >= self.WINDOW:
            return None
        p = seg.payload[: self.WINDOW - off]
        if self.strict:
            self.held[off : off + len(p)] = p
            self.have[off : off + len(p)] = b"\1" * len(p)
        else:
            for i in range(len(p)):
                if not self.have[off + i]:
                    self.held[off + i] = p[i]
                    self.have[off + i] = 1
        prefix = self.have.find(0)
        if prefix < 0:
            prefix = self.WINDOW
        if prefix == 0:
            return None
        if self.strict:
            stream = bytes(b for i, b in enumerate(self.held[:prefix]) if i not in self.urgent)
            if stream[:1] == b"\x16":
                state, sni = sni_of(stream)
                if state == "need":
                    return ("pass", "ClientHello beyond the window") if prefix == self.WINDOW else None
                if state == "other":
                    return "pass", "TLS, but no ClientHello first"
                low = sni.lower()
                for n in self.names:
                    if low == n or low.endswith(b"." + n):
                        return "block", "ClientHello SNI %s" % sni.decode(errors="replace")
                return "pass", "ClientHello SNI %r allowed" % sni.decode(errors="replace")
        else:
            stream = self.held[:prefix]
        n = forbidden_in(stream, self.names)
        if n:
            return "block", "reassembled stream (%d bytes) holds %s" % (prefix, n.decode())
        if prefix == self.WINDOW:
            return "pass", "first %d bytes without a name" % self.WINDOW
        return None


def new_inspector(model, names):
    if model == "per-packet":
        return PerPacket(names)
    if model == "in-order":
        return InOrder(names)
    if model == "reassembling":
        return Reassembling(names)
    if model == "strict":
        return Reassembling(names, strict=True)
    return None


# ---- flows ------------------------------------------------------------------


class Flow:
    """One client->server TCP connection, from its SYN."""

    def __init__(self, key, isn, inspector):
        self.key = key  # (client ip, client port, server ip, server port)
        self.isn = isn
        self.base = (isn + 1) % MOD32
        self.state = "inspect" if inspector else "pass"  # inspect | pass | block
        self.inspector = inspector
        self.ranges = []  # [start, end) stream offsets forwarded to the server, merged
        self.sent_end = 0  # highest stream offset the client has sent
        self.segments = 0

    def name(self):
        c, cp, s, sp = self.key
        return "%s:%d>%s:%d" % (c, cp, s, sp)

    def forwarded(self, off, n):
        self.ranges.append([off, off + n])
        self.ranges.sort()
        merged = []
        for r in self.ranges:
            if merged and r[0] <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], r[1])
            else:
                merged.append(r)
        self.ranges = merged

    def server_next(self):
        """The stream offset the server expects next (what reached it in order)."""
        return self.ranges[0][1] if self.ranges and self.ranges[0][0] <= 0 else 0


class Censor:
    def __init__(self, model, names, left, right, log, block_page=False, ports=(80, 443)):
        self.model = model
        self.names = [n.lower().encode() for n in names]
        self.left_if, self.right_if = left, right
        self.log = log
        self.block_page = block_page
        self.silent = False  # drop blocked flows without any reset (set by --silent)
        self.ports = set(ports)
        self.flows = {}
        self.socks = {}
        self.rings = {}

    def open(self):
        for side, ifname in (("left", self.left_if), ("right", self.right_if)):
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
            s.bind((ifname, ETH_P_ALL))
            idx = socket.if_nametoindex(ifname)
            # Promiscuous: the frames are addressed to the router beyond us.
            s.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, struct.pack("iHH8s", idx, PACKET_MR_PROMISC, 0, b""))
            s.setblocking(False)
            self.socks[side] = s
            self.rings[side] = Ring(s)

    def note(self, flow, verdict, why):
        self.log.write("%.6f flow=%s model=%s verdict=%s why=%s\n" % (time.time(), flow.name(), self.model, verdict, why))
        self.log.flush()

    def run(self):
        sel = selectors.DefaultSelector()
        for side, s in self.socks.items():
            sel.register(s, selectors.EVENT_READ, side)
        while True:
            for key, _ in sel.select():
                side = key.data
                # bounded per wakeup: the other side gets its turn
                for pkttype, raw in self.rings[side].frames(64):
                    if pkttype == PACKET_OUTGOING:
                        continue  # our own transmission, seen again
                    self.frame(side, raw)

    def out(self, side, frame):
        try:
            self.socks[side].send(frame)
        except OSError as e:
            self.log.write("%.6f send on %s failed: %s (%d bytes)\n" % (time.time(), side, e, len(frame)))
            self.log.flush()

    def frame(self, side, raw):
        other = "right" if side == "left" else "left"
        seg = Seg.parse(raw)
        if seg is None:
            self.out(other, raw)  # ARP, ICMP and the rest: bridged as they are
            return
        fix_checksums(seg.frame, seg.ihl)
        if side == "left" and seg.dport in self.ports:
            if not self.client_segment(seg):
                return
        elif side == "right" and seg.sport in self.ports:
            flow = self.flows.get((seg.dst, seg.dport, seg.src, seg.sport))
            if flow is not None and flow.state == "block":
                return
        self.out(other, bytes(seg.frame))

    def client_segment(self, seg):
        """Judges one client->server segment; True to forward it."""
        key = (seg.src, seg.sport, seg.dst, seg.dport)
        flow = self.flows.get(key)
        if seg.flags & SYN and not seg.flags & ACK:
            if flow is None or flow.isn != seg.seq:
                flow = Flow(key, seg.seq, new_inspector(self.model, self.names))
                self.flows[key] = flow
            return True
        if flow is None:
            return True  # not seen from its start: not ours to judge
        if flow.state == "block":
            return False
        off = (seg.seq - flow.base) % MOD32
        if off >= 1 << 31:
            return True  # before the stream's start (a stray)
        if not seg.payload:
            return True
        flow.segments += 1
        flow.sent_end = max(flow.sent_end, off + len(seg.payload))
        if flow.state == "inspect":
            r = flow.inspector.feed(off, seg)
            if r is not None:
                verdict, why = r
                if verdict == "block":
                    self.block(flow, seg, off, why)
                    return False
                flow.state = "pass"
                self.note(flow, "pass", why)
        flow.forwarded(off, len(seg.payload))
        return True

    def block(self, flow, seg, off, why):
        flow.state = "block"
        eth_to_server = bytes(seg.frame[0:6])
        eth_to_client = bytes(seg.frame[6:12])
        c, cp, s, sp = flow.key
        told = "302 to the client" if self.block_page else "RST to the client"
        if self.silent:
            # Dropped, and nothing said: the client's side hears only silence.
            self.note(flow, "block", "%s (segment at +%d, %d bytes, ttl %d); dropped silently"
                      % (why, off, len(seg.payload), seg.ttl))
            return
        # Logged first: a test that sees the reset finds the verdict written.
        self.note(flow, "block", "%s (segment at +%d, %d bytes, ttl %d); %s and RST to the server"
                  % (why, off, len(seg.payload), seg.ttl, told))
        # Towards the client, as if from the server: seq is what the client
        # acknowledges, exactly what its kernel expects next; ack is all the
        # client has sent.
        if self.block_page:
            self.out("left", build_tcp(eth_to_client, eth_to_server, s, c, sp, cp, seg.ack,
                                       flow.base + flow.sent_end, PSH | ACK | FIN, BLOCK_PAGE))
        else:
            self.out("left", build_tcp(eth_to_client, eth_to_server, s, c, sp, cp, seg.ack,
                                       flow.base + flow.sent_end, RST | ACK))
        # Towards the server: at the first byte it has not received in order.
        self.out("right", build_tcp(eth_to_server, eth_to_client, c, s, cp, sp, flow.base + flow.server_next(),
                                    seg.ack, RST | ACK))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, choices=MODELS)
    ap.add_argument("--name", action="append", default=[], help="a forbidden name (repeatable)")
    ap.add_argument("--left", required=True, help="the interface towards the client")
    ap.add_argument("--right", required=True, help="the interface towards the server")
    ap.add_argument("--log", required=True, help="the verdict log (appended)")
    ap.add_argument("--block-page", action="store_true", help="a 302 to the client instead of its RST")
    ap.add_argument("--silent", action="store_true", help="drop blocked flows without resets")
    ap.add_argument("--ports", default="80,443")
    a = ap.parse_args(argv)
    if a.model != "none" and not a.name:
        ap.error("--name is needed with a model that judges")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with open(a.log, "a") as log:
        c = Censor(a.model, a.name, a.left, a.right, log, a.block_page, [int(p) for p in a.ports.split(",")])
        c.silent = a.silent
        c.open()
        log.write("%.6f censor model=%s names=%s block_page=%s pid=%d\n"
                  % (time.time(), a.model, ",".join(a.name), a.block_page, os.getpid()))
        log.flush()
        print("ready", flush=True)
        try:
            c.run()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
