"""Transparent mode (issue 11, section 3) on a path of our own: two network
namespaces joined by a veth pair (198.18.0.1 for the client and warpd,
198.18.0.2 for the origin, a test range), the nft rules README gives for
"this machine" (an output hook that redirects TCP to port 80 and 443 to
warpd, with the upstream_mark exception), curl's plain requests and HTTPS
through the redirect, and a connection straight to warpd refused as a loop.
Needs root, ip and nft; reports SKIP otherwise. Every namespace and process
it makes is removed by name or pid."""

import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wdtest as wd  # noqa: E402
from wdtest import check  # noqa: E402

MARK = 0x77
ORIGIN_PY = r"""
import http.server, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("origin saw %s from %s\n" % (self.path, self.client_address[0])).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
socketserver.TCPServer.allow_reuse_address = True
with socketserver.TCPServer(("198.18.0.2", 80), H) as s:
    s.serve_forever()
"""


def sh(*argv, check_rc=True):
    r = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    if check_rc and r.returncode != 0:
        raise wd.Fail("%s: %s" % (" ".join(argv), r.stderr.strip()))
    return r


class Net:
    """The two namespaces and the veth between them."""

    def __init__(self, t):
        tag = "%d" % os.getpid()
        self.c, self.o = "wdt-c-" + tag, "wdt-o-" + tag
        self.t = t
        t.add(self)
        sh("ip", "netns", "add", self.c)
        sh("ip", "netns", "add", self.o)
        sh("ip", "link", "add", "wdtc" + tag, "netns", self.c, "type", "veth", "peer", "name", "wdto" + tag,
           "netns", self.o)
        for ns, dev, a in ((self.c, "wdtc" + tag, "198.18.0.1/24"), (self.o, "wdto" + tag, "198.18.0.2/24")):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "addr", "add", a, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")

    def ex(self, ns):
        return ["ip", "netns", "exec", ns]

    def close(self):
        for ns in (self.c, self.o):
            sh("ip", "netns", "del", ns, check_rc=False)


class Proc:
    def __init__(self, t, argv):
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        t.add(self)

    def close(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)


def rules(port):
    """README's rules for this machine: the client's own TCP to ports 80
    and 443 goes to warpd, except warpd's upstream connections (their mark)."""
    return """table ip wdtest {
    chain out {
        type nat hook output priority -100; policy accept;
        meta mark %d return
        ip daddr != 127.0.0.0/8 tcp dport { 80, 443 } redirect to :%d
    }
}
""" % (MARK, port)


SNIFF_PY = r"""
import socket, struct, sys
iface, path = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0800))
s.bind((iface, 0))
out = open(path, "w")
while True:
    pkt, addr = s.recvfrom(65535)
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    ip = pkt[14:]
    if len(ip) < 20 or ip[9] != 6:
        continue
    ihl, total = (ip[0] & 15) * 4, struct.unpack("!H", ip[2:4])[0]
    tcp = ip[ihl:]
    if struct.unpack("!H", tcp[2:4])[0] != 443:
        continue
    payload = ip[ihl + (tcp[12] >> 4) * 4 : total]
    if payload:
        out.write("%d %s\n" % (struct.unpack("!I", tcp[4:8])[0], payload.hex()))
        out.flush()
"""


def setup(t, extra="shape off\n"):
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nft"):
        raise wd.Skip("needs root, ip and nft")
    net = Net(t)
    Proc(t, net.ex(net.o) + [sys.executable, "-c", ORIGIN_PY])
    port = 18800
    nft = t.write("rules.nft", rules(port))
    sh(*net.ex(net.c), "nft", "-f", nft)
    cfg = t.config("listen 127.0.0.1:%d\nmode transparent\nworkers 1\nupstream_mark %d\n%s"
                   "header_timeout 3s\n" % (port, MARK, extra))
    w = t.warpd(config=cfg, nworkers=1, wrap=net.ex(net.c))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if sh(*net.ex(net.c), "curl", "-s", "-m", "2", "--noproxy", "*", "http://198.18.0.2/ping",
              check_rc=False).returncode == 0:
            break
        time.sleep(0.1)
    return net, w, port


@wd.timeout(60)
def test_http_through_the_redirect(t):
    net, w, port = setup(t)
    r = sh(*net.ex(net.c), "curl", "-s", "-m", "5", "--noproxy", "*", "http://198.18.0.2/hello")
    check(r.stdout == "origin saw /hello from 198.18.0.1\n", "through the redirect: %r" % r.stdout)
    wd.wait_until(lambda: any("proto=transparent target=198.18.0.2:80 upstream=198.18.0.2:80" in l
                              for l in w.text()), 5, "the transparent access line")


@wd.timeout(60)
def test_loop_refused(t):
    net, w, port = setup(t)
    r = sh(*net.ex(net.c), "curl", "-s", "-m", "5", "http://127.0.0.1:%d/" % port, check_rc=False)
    check(r.returncode != 0, "a connection straight to warpd was relayed")
    wd.wait_until(lambda: any("own listener" in l for l in w.text()), 5, "the loop's log line")


@wd.timeout(90)
def test_tls_split_through_the_redirect(t):
    """HTTPS through the redirect: the ClientHello reaches the origin cut
    inside its SNI (two TCP segments, neither holding the whole name), and
    the handshake completes."""
    if not shutil.which("openssl"):
        raise wd.Skip("needs openssl")
    net, w, port = setup(t, "shape split\ntls_split segment\n")
    cert, key = t.path("cert.pem"), t.path("key.pem")
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=blocked.test")
    Proc(t, net.ex(net.o) + ["openssl", "s_server", "-accept", "198.18.0.2:443", "-cert", cert, "-key", key,
                             "-www"])
    capture = t.path("capture.txt")
    Proc(t, net.ex(net.o) + [sys.executable, "-c", SNIFF_PY, "wdto%d" % os.getpid(), capture])
    deadline = time.monotonic() + 10
    r = None
    while time.monotonic() < deadline:
        r = sh(*net.ex(net.c), "curl", "-s", "-k", "-m", "5", "--noproxy", "*", "--resolve",
               "blocked.test:443:198.18.0.2", "https://blocked.test/", check_rc=False)
        if r.returncode == 0:
            break
        time.sleep(0.2)
    check(r.returncode == 0 and "s_server" in r.stdout, "HTTPS through the redirect: %r %r" % (r.returncode, r.stderr))
    wd.wait_until(lambda: os.path.exists(capture) and os.path.getsize(capture) > 0, 5, "the capture")
    segs = {}
    with open(capture) as f:
        for line in f:
            seq, data = line.split()
            segs.setdefault(int(seq), bytes.fromhex(data))
    ordered = [segs[k] for k in sorted(segs)]
    stream = b"".join(ordered)
    name = b"blocked.test"
    check(name in stream, "no SNI in the captured stream")
    check(not any(name in seg for seg in ordered), "a segment holds the whole name: %r" % [len(x) for x in ordered])


if __name__ == "__main__":
    wd.main(globals())
