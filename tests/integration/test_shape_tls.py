"""The TLS half of the shaping proof: curl -p -x through warpd (CONNECT) and
the DPI simulator in TLS mode (a reset when "blocked.test" appears inside one
segment) to openssl s_server with a self-signed certificate. tls_split off:
the handshake is reset; segment and record: curl completes the handshake and
gets s_server's page, and the capture shows the ClientHello cut inside the
SNI name (two TCP segments, or two TLS records). Needs root (AF_PACKET),
openssl and curl; exits 77 otherwise."""

import os
import shutil
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dpisim  # noqa: E402
import httptest as ht  # noqa: E402
import wdtest as wd  # noqa: E402
from wdtest import check  # noqa: E402

NAME = b"blocked.test"


class Proc:
    """A helper process started by a test, stopped by its pid."""

    def __init__(self, t, argv, **kw):
        self.argv = argv
        self.log = open(t.path("%s.log" % os.path.basename(argv[0])), "wb")
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, **kw)
        self.pid = self.p.pid
        t.add(self)

    def close(self):
        if self.p.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.p.wait(3)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait(3)
        self.log.close()


def listening(port):
    """True when something listens on 127.0.0.1:port (from /proc/net/tcp)."""
    want = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        next(f)
        return any(l.split()[1] == want and l.split()[3] == "0A" for l in f)


def tls_server(t):
    """openssl s_server -www on a free loopback port, with a fresh
    self-signed certificate for blocked.test; returns its address."""
    cert, key = t.path("cert.pem"), t.path("key.pem")
    gen = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=blocked.test"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    check(gen.returncode == 0, "openssl req failed: %r" % gen.stdout[-300:])
    port = wd.free_port()
    p = Proc(t, ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", cert, "-key", key, "-www"])
    wd.wait_until(lambda: listening(port) or p.p.poll() is not None, 10, "s_server listening")
    check(p.p.poll() is None, "openssl s_server exited (status %s)" % p.p.returncode)
    return ("127.0.0.1", port)


def start(t, dns, sim, split):
    port = wd.free_port()
    extra = "shape split\nshape_seed 4242\nconnect_ports any\ntls_split %s\ntls_split_ports %d\n" % (split, sim.port)
    cfg = ht.http_config(t, port, "forward", 1, extra, dns=dns)
    w = t.warpd(config=cfg, nworkers=1)
    return w, ("127.0.0.1", port)


def curl(t, proxy, port):
    """curl -s -k -p -x through warpd to https://blocked.test:port/;
    (exit status, HTTP code, body, seconds)."""
    out = t.path("curl.out")
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    argv = ["curl", "-s", "-k", "-p", "-x", "http://%s" % wd.addr_text(proxy), "--max-time", "10",
            "-o", out, "-w", "%{http_code}", "https://blocked.test:%d/" % port]
    t0 = time.monotonic()
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                       timeout=20)
    body = b""
    if os.path.exists(out):
        with open(out, "rb") as f:
            body = f.read()
        os.unlink(out)
    return r.returncode, r.stdout.decode("latin-1").strip(), body, time.monotonic() - t0


def curl_socks(t, proxy, port):
    """The same through SOCKS5 (warpd resolves blocked.test): (exit status,
    HTTP code, body)."""
    out = t.path("curl-socks.out")
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    argv = ["curl", "-s", "-k", "--socks5-hostname", wd.addr_text(proxy), "--max-time", "10",
            "-o", out, "-w", "%{http_code}", "https://blocked.test:%d/" % port]
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                       timeout=20)
    body = b""
    if os.path.exists(out):
        with open(out, "rb") as f:
            body = f.read()
        os.unlink(out)
    return r.returncode, r.stdout.decode("latin-1").strip(), body


def records(stream):
    """(type, payload offset, payload) of the complete TLS records at the
    start of stream."""
    out = []
    i = 0
    while i + 5 <= len(stream):
        typ, n = stream[i], struct.unpack_from("!H", stream, i + 3)[0]
        if i + 5 + n > len(stream):
            break
        out.append((typ, i + 5, bytes(stream[i + 5 : i + 5 + n])))
        i += 5 + n
    return out


def client_hello(stream):
    """(ClientHello bytes, number of records it spanned) from the start of
    the client's stream."""
    recs = records(stream)
    check(recs and recs[0][0] == 0x16, "the stream does not start with a TLS handshake record: %r" % bytes(stream[:16]))
    hs = b""
    for k, (typ, _, payload) in enumerate(recs):
        check(typ == 0x16, "record %d is of type %d before the ClientHello ended" % (k, typ))
        hs += payload
        if len(hs) >= 4 and len(hs) >= 4 + int.from_bytes(hs[1:4], "big"):
            check(hs[0] == 1, "first handshake message is of type %d, not ClientHello" % hs[0])
            return hs[: 4 + int.from_bytes(hs[1:4], "big")], k + 1
    raise wd.Fail("no complete ClientHello in the captured stream")


def setup(t, split):
    srv = tls_server(t)
    dns = ht.FakeDNS(t)
    dns.add("blocked.test", a=["127.0.0.1"])
    sim = dpisim.DPI(t, srv, "segment", "tls", names=[NAME])
    w, addr = start(t, dns, sim, split)
    return sim, w, addr


def check_handshake(sim, rc, code, body, what):
    check(rc == 0 and code == "200", "%s: curl status %d, HTTP code %r, expected 0 and 200 (%s)"
          % (what, rc, code, sim.describe()))
    check(b"s_server" in body, "%s: not s_server's page: %r" % (what, body[:120]))
    f = sim.wait_flows(1)[0]
    check(f.verdict == "allowed", "%s: %s" % (what, f.describe()))
    check(f.segment_hit([NAME]) is None, "%s: a segment holds the whole name (%s)" % (what, f.describe()))
    return f


def report(sim, what, secs):
    print("     %s: curl %.2fs" % (what, secs))
    for line in sim.describe():
        print("     " + line)


def test_tls_split_off_reset(t):
    sim, w, addr = setup(t, "off")
    rc, code, body, secs = curl(t, addr, sim.port)
    check(rc != 0 and code == "000",
          "tls_split off: curl status %d, HTTP code %r: the handshake should fail" % (rc, code))
    f = sim.wait_flows(1)[0]
    check(f.verdict == "blocked", "tls_split off: %s" % f.describe())
    d = f.decisions[0]
    check(d["segments"] == 1, "tls_split off: the ClientHello came in %d segments (%s)" % (d["segments"], f.describe()))
    hello, nrec = client_hello(f.stream)
    check(nrec == 1 and NAME in hello, "tls_split off: ClientHello in %d records, SNI %s" % (nrec, NAME in hello))
    report(sim, "tls_split off", secs)
    sim.check_clean()


def test_tls_split_segment(t):
    sim, w, addr = setup(t, "segment")
    rc, code, body, secs = curl(t, addr, sim.port)
    f = check_handshake(sim, rc, code, body, "tls_split segment")
    hello, nrec = client_hello(f.stream)
    check(nrec == 1, "tls_split segment: the ClientHello spans %d records, expected 1 (unchanged)" % nrec)
    at = bytes(f.stream).find(NAME)
    check(at > 0, "tls_split segment: the SNI is not in the reassembled stream")
    starts = [off for off, _, _ in f.in_range(0, 5 + len(hello))]
    check(len(starts) == 2, "tls_split segment: the ClientHello came in %d segments, expected 2 (%s)"
          % (len(starts), f.describe()))
    check(at < starts[1] < at + len(NAME), "tls_split segment: cut at offset %d, the name spans %d-%d"
          % (starts[1], at, at + len(NAME)))
    report(sim, "tls_split segment", secs)
    sim.check_clean()


def test_tls_split_record(t):
    sim, w, addr = setup(t, "record")
    rc, code, body, secs = curl(t, addr, sim.port)
    f = check_handshake(sim, rc, code, body, "tls_split record")
    hello, nrec = client_hello(f.stream)
    check(nrec == 2, "tls_split record: the ClientHello spans %d records, expected 2" % nrec)
    check(NAME in hello, "tls_split record: no SNI %r in the ClientHello rebuilt from its records" % NAME)
    recs = records(f.stream)
    first = recs[0][2]
    check(NAME not in first and NAME not in recs[1][2], "tls_split record: one record holds the whole name")
    at = hello.find(NAME)
    check(at < len(first) < at + len(NAME), "tls_split record: the first record ends at %d, the name spans %d-%d"
          % (len(first), at, at + len(NAME)))
    report(sim, "tls_split record", secs)
    sim.check_clean()


def test_socks_tls_split_segment(t):
    """SOCKS5 carries no port convention: the first bytes the client sends
    are looked at, and a ClientHello is cut inside the SNI as for CONNECT."""
    sim, w, addr = setup(t, "segment")
    rc, code, body = curl_socks(t, addr, sim.port)
    f = check_handshake(sim, rc, code, body, "SOCKS5, tls_split segment")
    hello, nrec = client_hello(f.stream)
    at = bytes(f.stream).find(NAME)
    starts = [off for off, _, _ in f.in_range(0, 5 + len(hello))]
    check(len(starts) == 2 and at < starts[1] < at + len(NAME),
          "SOCKS5: the ClientHello came in segments at %r, the name spans %d-%d (%s)"
          % (starts, at, at + len(NAME), f.describe()))
    sim.check_clean()


def test_socks_tls_split_off_reset(t):
    sim, w, addr = setup(t, "off")
    rc, code, body = curl_socks(t, addr, sim.port)
    check(rc != 0 and code == "000", "SOCKS5 with tls_split off: curl status %d, HTTP code %r" % (rc, code))
    f = sim.wait_flows(1)[0]
    check(f.verdict == "blocked", "SOCKS5 with tls_split off: %s" % f.describe())


def test_socks_address_rule_by_sni(t):
    """A SOCKS5 client that gives an address (curl --socks5 resolves the
    name itself): with shape off by default and a rule for blocked.test, the
    rule is found by the SNI of the ClientHello, which is then cut."""
    srv = tls_server(t)
    sim = dpisim.DPI(t, srv, "segment", "tls", names=[NAME])
    port = wd.free_port()
    cfg = ht.http_config(t, port, "forward", 1, "shape_seed 4242\nconnect_ports any\ntls_split segment\n")
    with open(cfg, "a") as f:
        f.write("shape split blocked.test\n")
    t.warpd(config=cfg, nworkers=1)
    out = t.path("curl-ip.out")
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    r = subprocess.run(["curl", "-s", "-k", "--socks5", "127.0.0.1:%d" % port, "--resolve",
                        "blocked.test:%d:127.0.0.1" % sim.port, "--max-time", "10", "-o", out, "-w",
                        "%{http_code}", "https://blocked.test:%d/" % sim.port],
                       stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=20)
    body = open(out, "rb").read() if os.path.exists(out) else b""
    check_handshake(sim, r.returncode, r.stdout.decode().strip(), body, "SOCKS5 by address, rule by SNI")
    sim.check_clean()


if __name__ == "__main__":
    why = dpisim.capture_unavailable()
    missing = [b for b in ("openssl", "curl") if not shutil.which(b)]
    if missing:
        why = why or "%s not installed" % " and ".join(missing)
    if why:
        print("skip: %s" % why)
        sys.exit(77)
    wd.main(globals())
