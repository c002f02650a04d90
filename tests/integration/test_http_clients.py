"""Integration tests of warpd's forward mode with real clients: curl -x
(names resolved by warpd through the fake DNS), curl -p -x (a CONNECT
tunnel), curl -0 (HTTP/1.0), uploads with Expect: 100-continue and chunked
framing, two URLs on one kept-alive connection, a large download, and Python
urllib with a ProxyHandler. Skipped (77) only when curl is missing."""

import hashlib
import os
import shutil
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httptest as ht  # noqa: E402
import wdtest as wd  # noqa: E402
from wdtest import MIB, check  # noqa: E402

CURL = shutil.which("curl")
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def clean_env():
    return {k: v for k, v in os.environ.items() if k not in PROXY_VARS}


def curl(t, args, timeout=20):
    """Runs curl (no config file, no proxy from the environment); returns
    (exit status, stdout bytes, stderr text)."""
    if not CURL:
        raise wd.Skip("curl not found")
    argv = [CURL, "-q", "-s", "-S", "--max-time", str(timeout - 2)] + list(args)
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, env=clean_env())
    except subprocess.TimeoutExpired:
        raise wd.Fail("curl %s did not finish in %ds" % (" ".join(args), timeout))
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def setup(t, extra=""):
    dns = ht.FakeDNS(t)
    o = ht.Origin(t)
    w, addr = ht.start_http(t, extra=extra, dns=dns)
    return dns, o, w, "http://%s" % wd.addr_text(addr)


def test_curl_proxy_name(t):
    dns, o, w, proxy = setup(t)
    rc, out, err = curl(t, ["-x", proxy, "http://origin.test:%d/x?y=1" % o.port])
    check(rc == 0, "curl exit %d: %s" % (rc, err))
    check(out == b"GET /x?y=1\n", "curl got %r" % out)
    h = o.requests()[0].head
    check(h.start == b"GET /x?y=1 HTTP/1.1", "request line %r" % h.start)
    check(h.get("Host") == "origin.test:%d" % o.port, "Host %r" % h.get("Host"))
    check(h.get("User-Agent", "").startswith("curl/"), "User-Agent %r" % h.get("User-Agent"))
    check(h.all("Via") == ["1.1 warpd"], "Via %r" % h.all("Via"))
    check(not h.has("Proxy-Connection"), "Proxy-Connection forwarded: %r" % h.fields)
    check(dns.asked("origin.test"), "warpd did not ask the fake DNS")
    o.check_clean()


def test_curl_connect_tunnel(t):
    dns, o, w, proxy = setup(t, extra="connect_ports any")
    rc, out, err = curl(t, ["-p", "-x", proxy, "http://127.0.0.1:%d/tunneled" % o.port])
    check(rc == 0, "curl exit %d: %s" % (rc, err))
    check(out == b"GET /tunneled\n", "curl got %r" % out)
    h = o.requests()[0].head
    # Through a tunnel warpd does not touch the request.
    check(not h.has("Via"), "a tunneled request got a Via: %r" % h.fields)
    a = ht.wait_access(w, lambda a: a["method"] == "CONNECT")
    check(a["status"] == "200" and a["upstream"] == o.text, "CONNECT access line %s" % a["line"])


def test_curl_connect_refused_port(t):
    dns, o, w, proxy = setup(t, extra="connect_ports 443")  # loopback alone would allow it
    rc, out, err = curl(t, ["-p", "-x", proxy, "http://127.0.0.1:%d/" % o.port])
    check(rc != 0, "curl succeeded through a forbidden CONNECT port")
    check("403" in err, "curl did not report the 403: %s" % err)
    check(o.accepted == 0, "the origin got a connection")


def test_curl_http10(t):
    dns, o, w, proxy = setup(t)
    rc, out, err = curl(t, ["-0", "-x", proxy, "-D", "-", "http://origin.test:%d/ten" % o.port])
    check(rc == 0, "curl exit %d: %s" % (rc, err))
    head, _, body = out.partition(b"\r\n\r\n")
    check(body == b"GET /ten\n", "curl got %r" % body)
    check(b"\r\nConnection: close" in head or b"\r\nconnection: close" in head.lower(), "HTTP/1.0 answer without Connection: close: %r" % head)
    h = o.requests()[0].head
    check(h.start == b"GET /ten HTTP/1.1", "request line %r" % h.start)
    check(h.all("Via") == ["1.0 warpd"], "Via %r" % h.all("Via"))


def test_curl_uploads(t):
    dns, o, w, proxy = setup(t)
    o.route("/put", ht.act_continue())
    data = wd.data(300000, 31)
    path = t.write("upload.bin", "")
    with open(path, "wb") as f:
        f.write(data)
    rc, out, err = curl(t, ["-x", proxy, "-H", "Expect: 100-continue", "--expect100-timeout", "10", "-T", path, "http://origin.test:%d/put" % o.port])
    check(rc == 0, "curl exit %d: %s" % (rc, err))
    check(out == b"PUT /put\n" + data, "100-continue upload echoed %d bytes" % len(out))
    rc, out, err = curl(t, ["-x", proxy, "-H", "Transfer-Encoding: chunked", "--data-binary", "@" + path, "http://origin.test:%d/chunked" % o.port])
    check(rc == 0, "curl exit %d: %s" % (rc, err))
    check(out == b"POST /chunked\n" + data, "chunked upload echoed %d bytes" % len(out))
    req = o.requests()[-1]
    check(req.framing == "chunked" and req.body == data, "origin framing %s, %d bytes" % (req.framing, len(req.body)))
    o.check_clean()


def test_curl_two_urls_one_connection(t):
    dns, o, w, proxy = setup(t)
    rc, out, err = curl(t, ["-v", "-x", proxy, "http://origin.test:%d/one" % o.port, "http://origin.test:%d/two" % o.port])
    check(rc == 0, "curl exit %d: %s" % (rc, err))
    check(out == b"GET /one\nGET /two\n", "curl got %r" % out)
    check("Re-using existing connection" in err or "Reusing existing connection" in err, "curl did not reuse its proxy connection:\n%s" % err[-800:])
    # The worker writes an access line just after the response; curl may have
    # exited before that: wait for the second one, then take both.
    ht.wait_access(w, lambda a: a["target"].endswith("/two"))
    lines = [a for a in ht.access(w) if a["target"].endswith(("/one", "/two"))]
    check(len(lines) == 2 and lines[0]["client"] == lines[1]["client"], "access lines %r" % [a["line"] for a in lines])
    check(o.per_conn() == [2], "upstream connections carried %r" % o.per_conn())


def test_curl_big_download(t):
    act, payload = ht.act_big(16 * MIB, 41)
    want = hashlib.sha256(payload).hexdigest()
    del payload
    dns, o, w, proxy = setup(t)
    o.route("/big", act)
    out_path = t.path("big.out")
    rc, out, err = curl(t, ["-x", proxy, "-o", out_path, "http://origin.test:%d/big" % o.port], timeout=40)
    check(rc == 0, "curl exit %d: %s" % (rc, err))
    h = hashlib.sha256()
    with open(out_path, "rb") as f:
        for piece in iter(lambda: f.read(MIB), b""):
            h.update(piece)
    check(h.hexdigest() == want, "downloaded file differs")


def test_curl_errors(t):
    dns, o, w, proxy = setup(t)
    rc, out, err = curl(t, ["-x", proxy, "-D", "-", "http://nx.test:%d/" % o.port])
    check(rc == 0, "curl exit %d: %s" % (rc, err))
    check(out.startswith(b"HTTP/1.1 502"), "unknown name: %r" % out[:80])
    check(b"warpd: 502" in out, "no warpd error body: %r" % out)


def test_urllib_proxy_handler(t):
    dns, o, w, proxy = setup(t)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy}))
    with opener.open("http://origin.test:%d/py?q=1" % o.port, timeout=10) as resp:
        body = resp.read()
        status = resp.status
        via = resp.headers.get("Via")
    check(status == 200 and body == b"GET /py?q=1\n", "urllib got %d %r" % (status, body))
    check(via == "1.1 warpd", "response Via %r" % via)
    data = b"form=1&x=2"
    with opener.open(urllib.request.Request("http://origin.test:%d/form" % o.port, data=data), timeout=10) as resp:
        body = resp.read()
    check(body == b"POST /form\n" + data, "urllib POST got %r" % body)
    h = o.requests()[0].head
    check(h.get("Host") == "origin.test:%d" % o.port and h.all("Via") == ["1.1 warpd"], "origin head %r" % h.fields)
    check(not h.has("Connection"), "Connection forwarded: %r" % h.fields)
    o.check_clean()


if __name__ == "__main__":
    if not shutil.which("curl"):
        print("skip: curl not found")
        sys.exit(77)
    wd.main(globals())
