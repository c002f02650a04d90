"""Integration tests of the stats page (stats_listen, stats_allow): after a
known load through a forward warpd (HTTP requests of known statuses, a name
looked up through a fake DNS server and then from the cache, a name that does
not exist, a closed port, a CONNECT tunnel, a SOCKS5 tunnel, a client the
allow rules refuse) and a reverse one (a keep-alive client: upstream pool
misses and reuses), /metrics is read with Prometheus's own parser
(python3-prometheus-client) and every number is checked exactly: bytes both
ways as the clients counted them. A killed worker and a reload are counted,
and the totals do not go back when a worker dies. Only GET and HEAD are
answered (405 otherwise), a reader outside stats_allow gets 403, and a port
in use fails the start."""

import os
import signal
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httptest as ht  # noqa: E402
import wdtest as wd  # noqa: E402
from wdtest import check  # noqa: E402

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # Debian's package, seen from a python3 that is not Debian's (pyenv):
    # the parser is pure Python.
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:  # the only reason to skip
        text_string_to_metric_families = None


def need_parser():
    if text_string_to_metric_families is None:
        raise wd.Skip("python3-prometheus-client is not installed (scripts/deps installs it)")


def need_second_loopback():
    s = socket.socket()
    try:
        s.bind(("127.0.0.2", 0))
    except OSError as e:
        raise wd.Skip("cannot bind 127.0.0.2: %s" % e)
    finally:
        s.close()


def stats_get(addr, method="GET", path="/metrics", src=None, body=b""):
    """(status, head text, body bytes) of one request to the stats page."""
    s = socket.socket()
    s.settimeout(10)
    try:
        if src:
            s.bind((src, 0))
        s.connect(addr)
        req = "%s %s HTTP/1.1\r\nHost: stats\r\nContent-Length: %d\r\n\r\n" % (method, path, len(body))
        s.sendall(req.encode() + body)
        data = wd.recv_until_eof(s)
    finally:
        s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), head.decode(), rest


def scrape(addr):
    """{(name, frozenset(labels)): value} of every sample on /metrics, and
    the families' types."""
    status, head, body = stats_get(addr)
    check(status == 200, "/metrics answered %d" % status)
    check("text/plain; version=0.0.4" in head, "content type of /metrics: %s" % head)
    samples, types = {}, {}
    for fam in text_string_to_metric_families(body.decode()):
        types[fam.name] = fam.type
        for s in fam.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples, types


def val(samples, name, **labels):
    key = (name, frozenset(labels.items()))
    check(key in samples, "no sample %s%s on /metrics" % (name, labels or ""))
    return samples[key]


def expect(samples, want):
    """want: [(name, labels dict, value)]; all mismatches in one failure."""
    bad = []
    for name, labels, v in want:
        got = val(samples, name, **labels)
        if got != v:
            bad.append("%s%s = %s, expected %s" % (name, labels or "", got, v))
    check(not bad, "; ".join(bad))


class Count:
    """Bytes a client sent to warpd and read from it, as warpd counts them."""

    def __init__(self):
        self.sent = 0
        self.got = 0


def proxy_get(addr, url, count, host=None):
    """One absolute-form GET through the proxy on its own connection; the
    status. A request warpd answers itself with 502 (no upstream) moved no
    bytes towards an upstream: its access line says in=0, and so do the
    counters."""
    s = socket.create_connection(addr, timeout=10)
    try:
        req = ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (url, host or "x")).encode()
        s.sendall(req)
        data = wd.recv_until_eof(s)
    finally:
        s.close()
    status = int(data.split()[1])
    count.sent += len(req) if status != 502 else 0
    count.got += len(data)
    return status


def tunnel_echo(s, count, payload):
    s.sendall(payload)
    echoed = wd.recv_exact(s, len(payload))
    check(echoed == payload, "echo through the tunnel")
    count.sent += len(payload)
    count.got += len(payload)


def connect_tunnel(addr, echo, count):
    s = socket.create_connection(addr, timeout=10)
    try:
        req = ("CONNECT origin.test:%d HTTP/1.1\r\nHost: origin.test:%d\r\n\r\n" % (echo[1], echo[1])).encode()
        s.sendall(req)
        head = b""
        while b"\r\n\r\n" not in head:
            b = s.recv(1)
            check(b, "CONNECT: closed before the 200")
            head += b
        check(head.startswith(b"HTTP/1.1 200"), "CONNECT answered %r" % head[:40])
        count.sent += len(req)
        count.got += len(head)
        tunnel_echo(s, count, b"0123456789")
        s.shutdown(socket.SHUT_WR)
        check(wd.recv_until_eof(s) == b"", "echo server closes after us")
    finally:
        s.close()


def socks_tunnel(addr, echo, count):
    """SOCKS5, no authentication; the negotiation is not counted (warpd's
    access line counts what the tunnel moved)."""
    s = socket.create_connection(addr, timeout=10)
    try:
        s.sendall(b"\x05\x01\x00")
        check(wd.recv_exact(s, 2) == b"\x05\x00", "SOCKS5 method reply")
        s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", echo[1]))
        rep = wd.recv_exact(s, 10)
        check(rep[1] == 0, "SOCKS5 reply %r" % rep)
        tunnel_echo(s, count, b"socks!")
        s.shutdown(socket.SHUT_WR)
        check(wd.recv_until_eof(s) == b"", "echo server closes after us")
    finally:
        s.close()


def refused_client(addr, count):
    """From 127.0.0.2, which allow does not list: 403 before anything is read."""
    s = socket.socket()
    s.settimeout(10)
    try:
        s.bind(("127.0.0.2", 0))
        s.connect(addr)
        data = wd.recv_until_eof(s)
    finally:
        s.close()
    check(data.startswith(b"HTTP/1.1 403"), "refused client got %r" % data[:40])
    count.got += len(data)


def all_closed(stats):
    samples, _ = scrape(stats)
    return all(val(samples, "warpd_sessions_active", intake=i) == 0 for i in ("http", "connect", "socks")) and samples


def start_forward(t, dns):
    port, sport = wd.free_port(), wd.free_port()
    extra = (
        "stats_listen 127.0.0.1:%d\nstats_allow 127.0.0.1\nallow 127.0.0.1\nsocks on\n"
        "connect_ports 1-65535\nshape split\n" % sport
    )
    cfg = ht.http_config(t, port, "forward", 1, extra, dns=dns)
    w = t.warpd(config=cfg, nworkers=1)
    return w, ("127.0.0.1", port), ("127.0.0.1", sport)


def test_forward_counts(t):
    """Every counter after a known load, exactly."""
    need_parser()
    need_second_loopback()
    origin = ht.Origin(t)
    origin.route("/ok", ht.act_reply(200, b"hello"))
    origin.route("/missing", ht.act_reply(404, b"no"))
    echo = t.echo()
    dns = ht.FakeDNS(t)
    w, addr, stats = start_forward(t, dns)
    c = Count()
    o = "127.0.0.1:%d" % origin.port
    statuses = [proxy_get(addr, "http://%s/ok" % o, c) for _ in range(3)]
    statuses += [proxy_get(addr, "http://%s/missing" % o, c) for _ in range(2)]
    statuses += [proxy_get(addr, "http://origin.test:%d/ok" % origin.port, c) for _ in range(2)]
    statuses.append(proxy_get(addr, "http://nx.test:%d/ok" % origin.port, c))
    closed = t.add(wd.reserve_closed_port())
    statuses.append(proxy_get(addr, "http://127.0.0.1:%d/" % closed.getsockname()[1], c))
    check(statuses == [200, 200, 200, 404, 404, 200, 200, 502, 502], "statuses %s" % statuses)
    connect_tunnel(addr, echo.addr, c)
    socks_tunnel(addr, echo.addr, c)
    refused_client(addr, c)

    samples = wd.wait_until(lambda: all_closed(stats), 5, "every session closed")
    expect(
        samples,
        [
            # 9 requests, a CONNECT, a SOCKS client, a refused client
            ("warpd_connections_accepted_total", {}, 12),
            ("warpd_connections_refused_total", {"reason": "acl"}, 1),
            ("warpd_connections_refused_total", {"reason": "limit"}, 0),
            ("warpd_connections_refused_total", {"reason": "auth"}, 0),
            ("warpd_sessions_total", {"intake": "http"}, 10),
            ("warpd_sessions_total", {"intake": "connect"}, 1),
            ("warpd_sessions_total", {"intake": "socks"}, 1),
            ("warpd_sessions_total", {"intake": "tcp"}, 0),
            ("warpd_sessions_active", {"intake": "http"}, 0),
            # 5 x 200 and the CONNECT's 200; 2 x 404 and the 403; the 502s
            # of nx.test and of the closed port
            ("warpd_http_requests_total", {"class": "2xx"}, 6),
            ("warpd_http_requests_total", {"class": "3xx"}, 0),
            ("warpd_http_requests_total", {"class": "4xx"}, 3),
            ("warpd_http_requests_total", {"class": "5xx"}, 2),
            ("warpd_bytes_total", {"direction": "client_to_upstream"}, c.sent),
            ("warpd_bytes_total", {"direction": "upstream_to_client"}, c.got),
            # the origin by address and by name (each connection then kept
            # in the pool and reused), the echo server by CONNECT and SOCKS
            ("warpd_upstream_connects_total", {}, 4),
            ("warpd_upstream_pool_misses_total", {}, 4),
            ("warpd_upstream_pool_reuses_total", {}, 5),
            ("warpd_upstream_connect_failures_total", {"reason": "refused"}, 1),
            ("warpd_upstream_connect_failures_total", {"reason": "timeout"}, 0),
            ("warpd_upstream_connect_failures_total", {"reason": "other"}, 0),
            # origin.test asked once (the second GET reuses the pooled
            # connection), then from the cache by the CONNECT; nx.test failed
            ("warpd_dns_lookups_total", {}, 2),
            ("warpd_dns_cache_hits_total", {}, 1),
            ("warpd_dns_failures_total", {}, 1),
            # HTTP heads shaped with split; the tunnels' first bytes are no
            # ClientHello on a tls_split_ports port
            ("warpd_shape_uses_total", {"strategy": "split"}, 7),
            ("warpd_shape_auto_tries_total", {"strategy": "split"}, 0),
            ("warpd_worker_restarts_total", {}, 0),
            ("warpd_reloads_total", {}, 0),
            ("warpd_workers", {}, 1),
        ],
    )
    pid = w.workers()[0]
    check(val(samples, "warpd_worker_open_fds", worker="0", pid=str(pid), generation="1") > 3, "open fds of the worker")
    check(val(samples, "warpd_worker_rss_bytes", worker="0", pid=str(pid), generation="1") > 100000, "rss of the worker")


def test_reverse_pool_restart_reload(t):
    """Pool misses and reuses through one keep-alive client; a killed
    worker and a reload are counted and the totals stay."""
    need_parser()
    origin = ht.Origin(t)
    origin.route("/ok", ht.act_reply(200, b"hello"))
    origin.route("/moved", ht.act_reply(302, b"", headers=[("Location", "/ok")]))
    port, sport = wd.free_port(), wd.free_port()
    cfg = ht.http_config(t, port, "reverse", 1, "stats_listen 127.0.0.1:%d\n" % sport, upstream="127.0.0.1:%d" % origin.port)
    w = t.warpd(config=cfg, nworkers=1)
    stats = ("127.0.0.1", sport)
    c = ht.Client(t, ("127.0.0.1", port))
    for path in ("/ok", "/ok", "/moved"):
        c.send(("GET %s HTTP/1.1\r\nHost: o\r\n\r\n" % path).encode())
        c.response()
    c.sock.close()
    samples = wd.wait_until(lambda: all_closed(stats), 5, "every session closed")
    expect(
        samples,
        [
            ("warpd_http_requests_total", {"class": "2xx"}, 2),
            ("warpd_http_requests_total", {"class": "3xx"}, 1),
            ("warpd_upstream_pool_misses_total", {}, 1),
            ("warpd_upstream_pool_reuses_total", {}, 2),
            ("warpd_upstream_connects_total", {}, 1),
            ("warpd_sessions_total", {"intake": "http"}, 1),
        ],
    )
    old = w.workers()
    os.kill(old[0], signal.SIGKILL)
    wd.wait_until(lambda: w.workers() and w.workers() != old, 10, "the worker respawned")
    samples = wd.wait_until(lambda: scrape(stats)[0] if val(scrape(stats)[0], "warpd_workers") == 1 else None, 5, "one worker")
    expect(
        samples,
        [
            ("warpd_worker_restarts_total", {}, 1),
            ("warpd_http_requests_total", {"class": "2xx"}, 2),  # the dead worker's count stays
            ("warpd_sessions_active", {"intake": "http"}, 0),
        ],
    )
    mark = w.mark()
    w.signal(signal.SIGHUP)
    w.wait_log(r"reload complete", mark=mark)
    samples, types = scrape(stats)
    expect(samples, [("warpd_reloads_total", {}, 1), ("warpd_http_requests_total", {"class": "2xx"}, 2)])
    check(types["warpd_sessions_active"] == "gauge", "sessions_active is a gauge")
    check(types["warpd_http_requests"] == "counter", "http_requests is a counter: %s" % types)


def test_methods_and_access(t):
    """GET and HEAD only; / is for people; stats_allow is enforced."""
    need_parser()
    need_second_loopback()
    dns = ht.FakeDNS(t)
    w, addr, stats = start_forward(t, dns)
    status, head, body = stats_get(stats, "POST", body=b"x=1")
    check(status == 405 and "Allow: GET, HEAD" in head, "POST: %d %s" % (status, head))
    status, head, body = stats_get(stats, "HEAD")
    check(status == 200 and body == b"" and "Content-Length: " in head, "HEAD: %d %r" % (status, body[:40]))
    status, head, body = stats_get(stats, "GET", "/")
    check(status == 200 and b"/metrics" in body, "GET /: %d %r" % (status, body[:80]))
    status, head, body = stats_get(stats, "GET", "/nothing")
    check(status == 404, "GET /nothing: %d" % status)
    status, head, body = stats_get(stats, "GET", "/metrics", src="127.0.0.2")
    check(status == 403, "a reader outside stats_allow: %d" % status)


def test_port_in_use(t):
    """A stats_listen that cannot be bound is an error at start."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    t.add(busy)
    cfg = ht.http_config(t, wd.free_port(), "forward", 1, "stats_listen 127.0.0.1:%d\n" % busy.getsockname()[1])
    r = t.run(["-c", cfg])
    check(r.returncode == 1, "status %s, expected 1" % r.returncode)
    check("stats_listen" in r.stderr, "error names stats_listen: %s" % r.stderr)


if __name__ == "__main__":
    wd.main(globals())
