"""First contact, as a new user meets warpd (issue 13, part 4): README's own
commands for the forward proxy and SOCKS, run as written inside a network
namespace of the test's own where example.org is a local origin (HTTP on
127.0.0.1:80, HTTPS on :443 with a throwaway CA that curl is given through
its environment); a loopback proxy allowing CONNECT to any port but the
browsers' bad ones (WebSockets on 8765); -q writing no access lines; the
start line naming the strategy; shape in tcp mode warned about; a client
leaving in the middle of a streamed answer logged as "client closed".
The namespace and /etc/netns/NAME are removed by name; processes by pid."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httptest as ht  # noqa: E402
import wdtest as wd  # noqa: E402
from wdtest import check  # noqa: E402

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")
BODY = b"hello from example.org\n"

ORIGIN_PY = r"""
import http.server, socketserver, ssl, sys, threading
BODY = b"hello from example.org\n"
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
plain = S(("127.0.0.1", 80), H)
tls = S(("127.0.0.1", 443), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
threading.Thread(target=tls.serve_forever, daemon=True).start()
print("ready", flush=True)
plain.serve_forever()
"""


def sh(*argv, check_rc=True, env=None, timeout=30):
    r = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, env=env)
    if check_rc and r.returncode != 0:
        raise wd.Fail("%s: %s" % (" ".join(argv), (r.stderr or r.stdout).strip()[-400:]))
    return r


class Ns:
    """A network namespace with only lo, and /etc/netns/NAME/hosts naming
    example.org 127.0.0.1 (ip netns exec mounts it over /etc/hosts)."""

    def __init__(self, t):
        self.name = "wdfc-%d" % os.getpid()
        self.etc = "/etc/netns/" + self.name
        self.procs = []
        t.add(self)
        sh("ip", "netns", "add", self.name)
        sh("ip", "-n", self.name, "link", "set", "lo", "up")
        os.makedirs(self.etc, exist_ok=True)
        with open(os.path.join(self.etc, "hosts"), "w") as f:
            f.write("127.0.0.1 localhost example.org\n::1 localhost\n")
        with open(os.path.join(self.etc, "resolv.conf"), "w") as f:
            f.write("nameserver 127.0.0.1\n")

    def ex(self):
        return ["ip", "netns", "exec", self.name]

    def popen(self, argv, **kw):
        p = subprocess.Popen(self.ex() + argv, **kw)
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        sh("ip", "netns", "del", self.name, check_rc=False)
        shutil.rmtree(self.etc, ignore_errors=True)


def make_ca(d):
    """A CA and a certificate for example.org it signed; returns (ca, cert, key)."""
    ca_key, ca = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem")
    key, csr, cert = os.path.join(d, "o.key"), os.path.join(d, "o.csr"), os.path.join(d, "o.pem")
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:example.org\n")
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
       "-subj", "/CN=wdtest CA")
    sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=example.org")
    sh("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
       "-days", "2", "-extfile", ext)
    return ca, cert, key


def readme_blocks():
    """README's indented command blocks that use the forward proxy on
    127.0.0.1:8800, each as its list of lines (comments kept: the shell
    ignores them)."""
    with open(README) as f:
        lines = f.read().splitlines()
    blocks, cur = [], []
    for line in lines + [""]:
        if line.startswith("    ") and line.strip():
            cur.append(line[4:])
            continue
        if cur and any("127.0.0.1:8800" in c or c.startswith("export http_proxy") for c in cur):
            if any(c.split()[0] in ("curl", "export") for c in cur):
                blocks.append(cur)
        cur = []
    return blocks


def test_readme_commands_work_as_written(t):
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("curl") or not shutil.which("openssl"):
        raise wd.Skip("needs root, ip, curl and openssl")
    ns = Ns(t)
    d = tempfile.mkdtemp(prefix="wdfc-")
    t.closers.append(lambda: shutil.rmtree(d, ignore_errors=True))
    ca, cert, key = make_ca(d)
    out_path, err_path = os.path.join(d, "origin.out"), os.path.join(d, "origin.err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        origin = ns.popen([sys.executable, "-c", ORIGIN_PY, cert, key], stdout=out, stderr=err)

    def ready():
        with open(out_path, "rb") as f:
            return b"ready" in f.read() or origin.poll() is not None

    wd.wait_until(ready, 10, "the origin in the namespace")
    with open(err_path, "rb") as f:
        check(origin.poll() is None, "the origin exited: %r" % f.read()[-600:])
    # warpd as README starts it: no arguments, built-in defaults.
    w = t.warpd(wrap=ns.ex(), nworkers=None)
    wgetrc = os.path.join(d, "wgetrc")
    with open(wgetrc, "w") as f:
        f.write("ca_certificate = %s\n" % ca)
    env = dict(os.environ, CURL_CA_BUNDLE=ca, SSL_CERT_FILE=ca, WGETRC=wgetrc, HOME=d)
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy"):
        env.pop(k, None)
    blocks = readme_blocks()
    check(len(blocks) >= 3, "README's proxy examples not found (%d blocks)" % len(blocks))
    ran = 0
    for block in blocks:
        for line in block:
            cmd = line.split("#")[0].strip() if not line.startswith("python3") else line
            if not cmd or cmd.split()[0] not in ("curl", "export", "wget", "python3"):
                continue  # ssh host.example, scripts: not what this test can run
            script = "set -e\n" + "\n".join(l for l in block if l.split()[0] == "export") + "\n" + cmd + "\n"
            if cmd.startswith("export"):
                continue
            r = sh(*ns.ex(), "bash", "-c", script, check_rc=False, env=env)
            out = r.stdout.encode()
            ok = r.returncode == 0 and (cmd.startswith(("wget", "python3")) or BODY in out)
            check(ok, "README's %r failed: exit %d, out %r, err %r\n(warpd: %s)"
                  % (cmd, r.returncode, out[-200:], r.stderr[-400:], w.text()[-4:]))
            ran += 1
    check(ran >= 9, "only %d of README's commands ran" % ran)
    print("ran %d README commands" % ran)
    w.stop()


def readme_section_blocks(title):
    """The indented blocks of README's section called title, in order."""
    with open(README) as f:
        text = f.read()
    start = text.index(title)
    end = text.find("\n#", start + len(title))
    blocks, cur = [], []
    for line in text[start:end].splitlines() + [""]:
        if line.startswith("    ") and line.strip():
            cur.append(line[4:])
        elif cur:
            blocks.append(cur)
            cur = []
    return blocks


def test_readme_tcp_relay_example(t):
    """README's "Example: a TCP relay", run as written in the namespace: the
    Python web server, warpd -m tcp, curl through it; the start line and the
    access line look like the samples README shows."""
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("curl"):
        raise wd.Skip("needs root, ip and curl")
    ns = Ns(t)
    blocks = readme_section_blocks("### Example: a TCP relay")
    check(len(blocks) >= 4, "README's TCP relay example changed shape: %r" % blocks)
    server, start = blocks[0][0], blocks[0][1]
    check(server.endswith("&") and start.startswith("warpd "), "README's commands: %r" % blocks[0])
    d = tempfile.mkdtemp(prefix="wdfc-www-")  # what the web server lists: an empty folder
    t.closers.append(lambda: shutil.rmtree(d, ignore_errors=True))
    ns.popen(server.rstrip("& ").split(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=d)
    probe = lambda: sh(*ns.ex(), "curl", "-s", "-o", "/dev/null", "http://127.0.0.1:8080/",
                       check_rc=False).returncode == 0
    wd.wait_until(probe, 10, "README's python3 -m http.server in the namespace")
    w = t.warpd(start.split()[1:], wrap=ns.ex(), nworkers=None)
    line = w.wait_log(r"listening on ")
    sample = blocks[1][0]
    want = re.escape(sample.split("info: ", 1)[1]).replace(r"2\ worker", r"\d+\ worker")
    check(re.search(want, line), "start line %r, README shows %r" % (line, sample))
    r = sh(*ns.ex(), *blocks[2][0].split(), check_rc=False)
    check(r.returncode == 0 and "Directory listing" in r.stdout, "README's %r: %d %r %r"
          % (blocks[2][0], r.returncode, r.stdout[-200:], r.stderr[-300:]))
    access = w.wait_log(r" access: ")
    # The same fields in the same order, numbers aside.
    norm = lambda l: re.sub(r"[0-9]+", "N", l.split("access: ", 1)[1])
    check(norm(access) == norm(blocks[3][0]), "access line %r, README shows %r" % (access, blocks[3][0]))
    w.stop()


def test_loopback_proxy_connects_to_any_port_but_bad_ones(t):
    e = ht.RecordingEcho(t)
    w, addr = ht.start_http(t)  # no connect_ports line: listening on loopback
    c = ht.Client(t, addr)
    c.send(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (e.port, e.port))
    r = c.response("CONNECT")
    check(r.status == 200, "CONNECT to port %d: %d" % (e.port, r.status))
    c.sock.close()
    for bad in (25, 22, 6667):
        c = ht.Client(t, addr)
        c.send(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (bad, bad))
        ht.expect_error(c, 403, method="CONNECT")
        c.sock.close()
    w.stop()


def test_quiet_writes_no_access_lines(t):
    o = ht.Origin(t)
    port = wd.free_port()
    cfg = ht.http_config(t, port, "forward", 1, "access_log stderr")
    w = t.warpd(["-q"], config=cfg, nworkers=1, ready=False)
    # -q hides the info line "listening on": wait for the port instead.
    wd.wait_until(lambda: wd.connect_result(("127.0.0.1", port), 0.2) == "ok", 10, "warpd listening")
    for _ in range(3):
        c = ht.Client(t, ("127.0.0.1", port))
        c.send(ht.request("GET", "http://%s/x" % o.text, [("Host", o.text)]))
        check(c.response().status == 200, "a request through warpd -q failed")
        c.sock.close()
    w.stop()
    lines = [l for l in w.text() if " access: " in l or " info: " in l]
    check(not lines, "warpd -q logged: %s" % lines[:3])


def test_start_line_names_the_strategy_and_tcp_warns(t):
    e = ht.RecordingEcho(t)
    port = wd.free_port()
    w = t.warpd(["-l", "127.0.0.1:%d" % port, "-m", "tcp", "-u", "127.0.0.1:%d" % e.port, "-s", "warp", "-w", "1"],
                nworkers=1)
    w.wait_log(r"warn: shape warp does nothing in tcp mode")
    w.wait_log(r"listening on 127\.0\.0\.1:%d \(tcp mode, 1 worker\(s\), shape off\)" % port)
    w.stop()
    for mode, extra, want in (("reverse", ["-u", "127.0.0.1:%d" % e.port], "off"), ("forward", [], "split")):
        port = wd.free_port()
        w = t.warpd(["-l", "127.0.0.1:%d" % port, "-m", mode, "-w", "1"] + extra, nworkers=1)
        w.wait_log(r"\(%s mode, 1 worker\(s\), shape %s\)" % (mode, want))
        check(not any("does nothing" in l for l in w.text()), "a warning without a strategy asked for")
        w.stop()


def test_client_leaving_mid_answer_is_client_closed(t):
    o = ht.Origin(t)
    gate = o.event("go")
    o.route("/stream", ht.act_stream([b"x" * 65536] + [b"y" * (1 << 20)] * 8, gate, chunked=True,
                                     gate_timeout=5.0))
    w, addr = ht.start_http(t)
    c = ht.Client(t, addr)
    c.send(ht.request("GET", "http://%s/stream" % o.text, [("Host", o.text)]))
    wd.recv_exact(c.sock, 1000, 10)
    gate.set()  # the rest streams now; the client leaves in the middle, with a reset
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    c.sock.close()
    a = ht.wait_access(w, lambda a: a.get("close") is not None, timeout=10, what="the access line")
    check(a["close"] == "client closed", "close=%r, expected 'client closed'" % a["close"])
    w.stop()


if __name__ == "__main__":
    wd.main(globals())
