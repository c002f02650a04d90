"""Several warpd instances behind an L4 balancer (issue 11, section 5), as
README's "Running several warpd instances" describes: HAProxy in mode tcp
with send-proxy-v2 in front of two warpd whose listeners take the PROXY
protocol. 1 000 requests through HAProxy from 127.0.0.2: both instances
serve some, and every access line names the real client (127.0.0.2), not
HAProxy (which connects from 127.0.0.1)."""

import os
import shutil
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httptest as ht  # noqa: E402
import wdtest as wd  # noqa: E402
from wdtest import check  # noqa: E402

HAPROXY_CFG = """global
    maxconn 2000
defaults
    mode tcp
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend front
    bind 127.0.0.1:{front}
    default_backend warpds
backend warpds
    balance roundrobin
    server w1 127.0.0.1:{p1} send-proxy-v2
    server w2 127.0.0.1:{p2} send-proxy-v2
"""


class Haproxy:
    def __init__(self, t, cfg):
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", cfg], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        t.add(self)

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def get_from(src, addr, path):
    s = socket.socket()
    s.settimeout(5)
    s.bind((src, 0))
    s.connect(addr)
    try:
        s.sendall(ht.request("GET", path, [("Host", "backend"), ("Connection", "close")]))
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        return data
    finally:
        s.close()


@wd.timeout(90)
def test_two_instances_behind_haproxy(t):
    if shutil.which("haproxy") is None:
        raise wd.Skip("haproxy is not installed (scripts/deps installs it)")
    o = ht.Origin(t)
    ports = [wd.free_port(), wd.free_port()]
    ws = []
    for i, p in enumerate(ports):
        cfg = ht.http_config(t, p, mode="reverse", upstream=o.text,
                             extra="listen 127.0.0.1:%d proxy_protocol\nworkers 1" % p)
        path = t.path("w%d.conf" % i)
        os.rename(cfg, path)
        ws.append(t.warpd(config=path, nworkers=1))
    front = wd.free_port()
    cfg = t.write("haproxy.cfg", HAPROXY_CFG.format(front=front, p1=ports[0], p2=ports[1]))
    Haproxy(t, cfg)
    wd.wait_until(lambda: wd.connect_result(("127.0.0.1", front)) == "ok", 10, "HAProxy listening")
    marks = [w.mark() for w in ws]
    for i in range(1000):
        data = get_from("127.0.0.2", ("127.0.0.1", front), "/n%d" % i)
        check(data.startswith(b"HTTP/1.1 200"), "request %d: %r" % (i, data[:60]))
    lines = []
    for w, m in zip(ws, marks):
        wd.wait_until(lambda: len(ht.access(w, m)) > 0, 5, "access lines")
    wd.wait_until(lambda: sum(len(ht.access(w, m)) for w, m in zip(ws, marks)) >= 1000, 10, "1000 access lines")
    counts = []
    for w, m in zip(ws, marks):
        acc = ht.access(w, m)
        counts.append(len(acc))
        lines += acc
    check(all(c > 100 for c in counts), "both instances serve: %r" % counts)
    bad = [a["client"] for a in lines if not a["client"].startswith("127.0.0.2:")]
    check(not bad, "access lines not naming the real client: %r" % bad[:5])


if __name__ == "__main__":
    wd.main(globals())
