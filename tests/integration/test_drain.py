"""Hitless reload and stop: under wrk-style load (50 connections, each
sending its next request as soon as the last answer is complete), ten SIGHUP
reloads and a SIGTERM lose no request in either HTTP mode. A request already
received (in warpd or still in the kernel's buffers, or queued in an accept
queue) is answered with Connection: close; a kept-alive client that stays
silent gets a FIN after a short grace, never a reset."""

import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httptest as ht  # noqa: E402
import loadtest as lt  # noqa: E402
import wdtest as wd  # noqa: E402
from wdtest import check  # noqa: E402

RELOADS = 10


def start(t, mode, workers=2, extra=""):
    o = lt.FastOrigin(t)
    w, addr = ht.start_http(t, mode=mode, workers=workers, upstream=o.text if mode == "reverse" else None, extra=extra)
    if mode == "reverse":
        req = b"GET /r HTTP/1.1\r\nHost: backend\r\n\r\n"
    else:
        req = ("GET http://%s/f HTTP/1.1\r\nHost: %s\r\n\r\n" % (o.text, o.text)).encode()
    return o, w, addr, req


def reloads_under_load(t, mode):
    o, w, addr, req = start(t, mode)
    load = lt.Load(t, addr, req, conns=50)
    load.wait_ok(300)
    for i in range(RELOADS):
        mark = w.mark()
        w.signal(signal.SIGHUP)
        w.wait_log(r"reload complete: generation %d " % (i + 2), timeout=10, mark=mark)
        load.wait_ok(100)
    c = load.stop()
    check(c["failed"] == 0 and c["refused"] == 0, "%d reloads: %s" % (RELOADS, load.describe()))
    check(c["closes"] > 0, "no answer said Connection: close: the reloads did not drain anything (%s)" % load.describe())
    check(o.requests >= c["ok"], "the origin counted %d requests, the load %d answers" % (o.requests, c["ok"]))
    print("     %d reloads, %s mode: %s" % (RELOADS, mode, load.describe()))


@wd.timeout(60)
def test_reloads_under_load_reverse(t):
    reloads_under_load(t, "reverse")


@wd.timeout(60)
def test_reloads_under_load_forward(t):
    reloads_under_load(t, "forward")


def stop_under_load(t, mode):
    """Half the connections pause up to 10 ms between requests, as browsers
    do: at the signal some are idle, kept alive, with the next request
    about to be sent."""
    o, w, addr, req = start(t, mode)
    load = lt.Load(t, addr, req, conns=25)
    thinking = lt.Load(t, addr, req, conns=25, think=0.01)
    load.wait_ok(500)
    before = load.counts()["ok"]
    t0 = time.monotonic()
    w.signal(signal.SIGTERM)
    rc = w.wait_exit(10)
    took = time.monotonic() - t0
    c = load.stop()
    c2 = thinking.stop()
    check(rc == 0, "exit status %s after SIGTERM" % rc)
    check(c["failed"] == 0, "SIGTERM under load: %s" % load.describe())
    check(c2["failed"] == 0, "SIGTERM under load, clients that pause: %s" % thinking.describe())
    check(c["ok"] > before, "no request was answered after the signal (%s)" % load.describe())
    check(took < 5, "the stop took %.1fs with shutdown_timeout 3s" % took)
    w.assert_gone()
    check(wd.connect_result(addr) == "refused", "still accepting after exit")
    print("     SIGTERM, %s mode: %s; pausing: %s; stopped in %.2fs" % (mode, load.describe(), thinking.describe(), took))


@wd.timeout(40)
def test_sigterm_under_load_reverse(t):
    stop_under_load(t, "reverse")


@wd.timeout(40)
def test_sigterm_under_load_forward(t):
    stop_under_load(t, "forward")


def sigterm_pending(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("ShdPnd:", "SigPnd:")) and int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)):
                return True
    return False


def keepalive_client(t, addr, req):
    c = ht.Client(t, addr)
    c.send(req)
    r = c.response()
    check(r.status == 200 and not r.head.has("Connection"), "first answer %r" % r)
    return c


def expect_fin(t, c, lo, hi, t0=None):
    """The server's FIN (recv gives b"") between lo and hi seconds from t0
    (default: now), not a reset."""
    t0 = time.monotonic() if t0 is None else t0
    c.sock.settimeout(max(0.1, t0 + hi + 1 - time.monotonic()))
    try:
        b = c.sock.recv(100)
    except ConnectionResetError:
        raise wd.Fail("the silent kept-alive connection was reset, not closed")
    took = time.monotonic() - t0
    check(b == b"", "a silent connection got %r" % b)
    check(lo <= took <= hi, "the silent connection was closed after %.2fs, expected %.1f-%.1fs" % (took, lo, hi))


@wd.timeout(30)
def test_stop_answers_what_the_kernel_holds(t):
    """The worker is frozen (SIGSTOP) while a kept-alive client sends its next
    request and a new client connects and sends one: both wait in the kernel
    (a receive buffer, the accept queue). SIGTERM, then the worker goes on:
    both are answered with Connection: close, and a third, silent client is
    closed with a FIN after the grace."""
    o, w, addr, req = start(t, "reverse", workers=1, extra="shutdown_timeout 5s")
    a = keepalive_client(t, addr, req)
    silent = keepalive_client(t, addr, req)
    (worker,) = w.workers()
    os.kill(worker, signal.SIGSTOP)
    try:
        a.send(req)
        b = ht.Client(t, addr)
        b.send(req)
        w.signal(signal.SIGTERM)
        # The supervisor wrote 'F' and then sent SIGTERM: wait until the
        # signal is pending for the frozen worker.
        wd.wait_until(lambda: sigterm_pending(worker), 5, "SIGTERM pending for the frozen worker")
    finally:
        os.kill(worker, signal.SIGCONT)
        resumed = time.monotonic()
    # Once the worker runs again, libev may hand it the signal or the
    # clients' bytes first: either way each request is answered, and the
    # connection then ends with a FIN (at once after Connection: close, or
    # after the grace when the answer still went out before the stop).
    for name, c in (("kept-alive", a), ("queued", b)):
        r = c.response()
        check(r.status == 200, "%s client: %r" % (name, r))
        how, _ = wd.expect_closed(c.sock, 3)
        check(how == "eof", "%s client: its connection ended with a %s" % (name, how))
    # Its grace started when the worker went on with the stop.
    expect_fin(t, silent, 0.5, 2.5, t0=resumed)
    check(w.wait_exit(10) == 0, "exit status after SIGTERM")
    w.assert_gone()


@wd.timeout(30)
def test_reload_grace_for_idle_clients(t):
    """After a reload, a client kept alive by the old generation may still
    send one request within the grace (answered with Connection: close); a
    silent one gets a FIN; a new connection reaches the new generation."""
    o, w, addr, req = start(t, "reverse", workers=1, extra="shutdown_timeout 5s")
    a = keepalive_client(t, addr, req)
    silent = keepalive_client(t, addr, req)
    (old,) = w.workers()
    mark = w.mark()
    w.signal(signal.SIGHUP)
    w.wait_log(r"reload complete", timeout=10, mark=mark)
    a.send(req)
    r = a.response()
    check(r.status == 200 and r.head.get("Connection") == "close", "kept-alive client after the reload: %r" % r)
    expect_fin(t, silent, 0.3, 2.5)
    n = keepalive_client(t, addr, req)
    owner = wd.socket_owner(n.sock, w.workers())
    check(owner is not None and owner != old, "a new connection was served by %s, the old worker is %d" % (owner, old))


@wd.timeout(20)
def test_grace_capped_by_shutdown_timeout(t):
    """shutdown_timeout below the grace bounds it: a silent kept-alive client
    is closed (FIN) within shutdown_timeout."""
    o, w, addr, req = start(t, "reverse", workers=1, extra="shutdown_timeout 300ms")
    silent = keepalive_client(t, addr, req)
    w.signal(signal.SIGTERM)
    expect_fin(t, silent, 0.1, 0.9)
    check(w.wait_exit(10) == 0, "exit status after SIGTERM")


if __name__ == "__main__":
    wd.main(globals())
