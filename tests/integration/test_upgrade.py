"""Binary upgrade (SIGUSR2): the supervisor execs its binary again with the
listening sockets inherited; the new supervisor starts its workers and
reports ready, and the old one stops gracefully. Under wrk-style load no
request fails and no connection is refused; the listening sockets after the
upgrade are the very ones from before; systemd hears the new main pid. An
upgrade to a binary that fails (exits at once, or never reports ready)
leaves the old supervisor serving, and a second SIGUSR2 meanwhile is refused.

The new supervisor is a child of the old one, orphaned when the old one
exits: this test process makes itself a child subreaper so that it can wait
for it and reap it."""

import ctypes
import errno
import os
import re
import shutil
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httptest as ht  # noqa: E402
import loadtest as lt  # noqa: E402
import wdtest as wd  # noqa: E402
from wdtest import check  # noqa: E402

PR_SET_CHILD_SUBREAPER = 36
STARTED_RE = r"binary upgrade: started \S+ \(pid (\d+)\)"


def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise wd.Skip("prctl(PR_SET_CHILD_SUBREAPER): %s" % os.strerror(ctypes.get_errno()))


class Successor:
    """The supervisor a binary upgrade started, known by pid; once the old
    one is gone it is our child (subreaper), so we can wait for it."""

    def __init__(self, pid):
        self.pid = pid
        self.status = None
        self.seen = set()

    def workers(self):
        kids = wd.children_of(self.pid)
        self.seen |= kids
        return sorted(kids)

    def wait(self, timeout):
        end = time.monotonic() + timeout
        while self.status is None:
            try:
                pid, st = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                raise wd.Fail("pid %d is not our child: was the old supervisor not gone?" % self.pid)
            if pid == self.pid:
                self.status = os.waitstatus_to_exitcode(st)
                break
            if time.monotonic() > end:
                raise wd.Fail("new supervisor %d still running %.0fs later" % (self.pid, timeout))
            time.sleep(0.02)
        return self.status

    def stop(self, timeout=15):
        self.workers()
        os.kill(self.pid, signal.SIGTERM)
        rc = self.wait(timeout)
        check(rc == 0, "new supervisor exited with status %s after SIGTERM" % rc)
        left = [p for p in self.seen if wd.proc_stat(p) and wd.proc_stat(p)[0] not in "ZX"]
        check(not left, "workers of the new supervisor still alive: %s" % left)

    def close(self):
        """Last resort, by pid: SIGKILL it and the workers it had."""
        if self.status is not None:
            return
        self.workers()
        for pid in [self.pid] + sorted(self.seen):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.wait(5)
        except wd.Fail:
            pass


def upgrade(t, w, timeout=15):
    """SIGUSR2 to w; waits until the new supervisor is ready and w exited 0.
    Returns the Successor."""
    mark = w.mark()
    w.signal(signal.SIGUSR2)
    line = w.wait_log(STARTED_RE, timeout=5, mark=mark)
    new = t.add(Successor(int(re.search(STARTED_RE, line).group(1))))
    w.wait_log(r"new supervisor \(pid %d\) is ready" % new.pid, timeout=timeout, mark=mark)
    rc = w.wait_exit(timeout)
    check(rc == 0, "the old supervisor exited with status %s" % rc)
    left = [p for p in w.live_workers_seen() if p != new.pid]  # it was the old one's child
    check(not left, "old workers still alive: %s" % left)
    check(wd.proc_stat(new.pid) is not None, "the new supervisor %d is gone" % new.pid)
    return new


def listening_inodes(port):
    """Inodes of the sockets listening on port (IPv4), from /proc/net/tcp."""
    out = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":
                out.add(int(fields[9]))
    return out


def notify_listener(t):
    path = t.path("notify.sock")
    ns = t.add(socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM))
    ns.bind(path)
    ns.settimeout(0.2)
    return path, ns


def datagrams(ns):
    got = []
    while True:
        try:
            got.append(ns.recv(4096).decode(errors="replace"))
        except socket.timeout:
            return got


@wd.timeout(60)
def test_upgrade_under_load(t):
    """50 connections sending requests back to back through a reverse-mode
    warpd while it upgrades: nothing fails, nothing is refused, the old
    supervisor and its workers are gone, the new one serves on the same
    sockets and told systemd its pid."""
    become_subreaper()
    path, ns = notify_listener(t)
    o = lt.FastOrigin(t)
    port = wd.free_port()
    cfg = ht.http_config(t, port, mode="reverse", workers=2, upstream=o.text)
    w = t.warpd(config=cfg, env={"NOTIFY_SOCKET": path}, nworkers=2)
    addr = ("127.0.0.1", port)
    before = listening_inodes(port)
    check(len(before) == 2, "expected 2 listening sockets on port %d, found %s" % (port, before))
    old_workers = w.workers()
    req = b"GET /r HTTP/1.1\r\nHost: backend\r\n\r\n"
    load = lt.Load(t, addr, req, conns=50)
    load.wait_ok(300)
    datagrams(ns)
    new = upgrade(t, w)
    at_switch = load.counts()["ok"]
    load.wait_ok(300)
    ws = wd.wait_until(lambda: (lambda ws: ws if len(ws) == 2 else None)(new.workers()), 5,
                       "2 workers of the new supervisor")
    check(not set(ws) & set(old_workers), "new workers %s overlap the old ones %s" % (ws, old_workers))
    after = listening_inodes(port)
    check(after == before, "listening sockets changed: %s before, %s after" % (before, after))
    msgs = datagrams(ns)
    check(any("MAINPID=%d" % new.pid in m.split("\n") and "READY=1" in m.split("\n") for m in msgs),
          "no MAINPID=%d with READY=1 among %r" % (new.pid, msgs))
    check(not any("STOPPING=1" in m.split("\n") for m in msgs), "STOPPING=1 sent at an upgrade: %r" % msgs)
    c = load.stop()
    check(c["failed"] == 0 and c["refused"] == 0, "upgrade under load: %s" % load.describe())
    check(c["ok"] > at_switch, "no answer after the upgrade (%s)" % load.describe())
    print("     upgrade, reverse mode: %s; %d answers before the old supervisor exited"
          % (load.describe(), at_switch))
    mark = w.mark()
    new.stop()
    check(any("STOPPING=1" in m.split("\n") for m in datagrams(ns)),
          "the new supervisor sent no STOPPING=1 at its stop")
    w.wait_log(r"exiting with status 0", timeout=2, mark=mark, fail_on_exit=False)


@wd.timeout(60)
def test_no_refused_connect_during_upgrade(t):
    """A client connecting in a tight loop (tcp mode, one byte echoed each
    time) sees no ECONNREFUSED and no reset while the supervisor upgrades,
    twice in a row (the second from the new binary)."""
    become_subreaper()
    echo = t.echo()
    w, addr = t.start_tcp(echo.text, workers=2)
    counts = {"ok": 0, "refused": 0, "failed": 0}
    reasons = []
    stop = threading.Event()

    def client():
        while not stop.is_set():
            s = socket.socket()
            s.settimeout(5)
            try:
                s.connect(addr)
                s.sendall(b"x")
                s.shutdown(socket.SHUT_WR)
                got = wd.recv_until_eof(s, 5)
                if got == b"x":
                    counts["ok"] += 1
                else:
                    counts["failed"] += 1
                    reasons.append("echo %r" % got)
            except ConnectionRefusedError:
                counts["refused"] += 1
            except OSError as e:
                counts["failed"] += 1
                reasons.append(str(e))
            finally:
                s.close()

    th = threading.Thread(target=client, daemon=True)
    th.start()
    try:
        wd.wait_until(lambda: counts["ok"] >= 100, 10, "100 echoes")
        new = upgrade(t, w)
        n = counts["ok"]
        wd.wait_until(lambda: counts["ok"] >= n + 100, 10, "100 echoes after the upgrade")
        # The new binary upgrades again: its own argv and path were kept.
        mark = w.mark()
        os.kill(new.pid, signal.SIGUSR2)
        line = w.wait_log(STARTED_RE, timeout=5, mark=mark, fail_on_exit=False)
        second = t.add(Successor(int(re.search(STARTED_RE, line).group(1))))
        w.wait_log(r"new supervisor \(pid %d\) is ready" % second.pid, timeout=15, mark=mark, fail_on_exit=False)
        check(new.wait(15) == 0, "the first new supervisor did not exit 0")
        n = counts["ok"]
        wd.wait_until(lambda: counts["ok"] >= n + 100, 10, "100 echoes after the second upgrade")
    finally:
        stop.set()
        th.join(10)
    check(counts["refused"] == 0 and counts["failed"] == 0,
          "tight connect loop: %s; first failures %s" % (counts, reasons[:5]))
    print("     tight connect loop through two upgrades: %s" % counts)
    second.stop()


@wd.timeout(60)
def test_upgrade_keeps_the_stats_page(t):
    """With stats_listen, the page's listening socket is handed over with the
    others: the upgrade succeeds (the new supervisor could not bind the
    address the old one holds) and the new supervisor answers /metrics on
    the same socket."""
    become_subreaper()
    o = lt.FastOrigin(t)
    port, sport = wd.free_port(), wd.free_port()
    cfg = ht.http_config(t, port, mode="reverse", workers=1, upstream=o.text,
                         extra="stats_listen 127.0.0.1:%d" % sport)
    w = t.warpd(config=cfg, nworkers=1)
    before = listening_inodes(sport)
    check(len(before) == 1, "expected the stats listener on %d, found %s" % (sport, before))
    new = upgrade(t, w)
    check(listening_inodes(sport) == before, "the stats listener changed at the upgrade")
    c = t.connect(("127.0.0.1", sport))
    c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    got = wd.recv_until_eof(c, 10)
    check(got.startswith(b"HTTP/1.1 200") and b"warpd_" in got, "the new supervisor's /metrics: %r" % got[:200])
    new.stop()


def start_from_copy(t, cfg):
    """warpd started from a copy of the binary in the test's directory, so
    that the test can replace that file."""
    copy = t.path("warpd-copy")
    shutil.copy2(wd.WARPD, copy)
    saved = wd.WARPD
    wd.WARPD = copy
    try:
        w = t.warpd(config=cfg, nworkers=2)
    finally:
        wd.WARPD = saved
    return w, copy


def replace_binary(t, copy, script):
    t.write(os.path.basename(copy), "#!/bin/sh\n" + script)
    os.chmod(copy, 0o755)


@wd.timeout(60)
def test_upgrade_to_failing_binary(t):
    """The file at the binary's path now exits at once, then never reports
    ready: both times the old supervisor logs the failure and goes on
    serving the load with the same workers; SIGUSR2 and SIGHUP while the
    new binary runs are refused; the pidfile still names the old one."""
    become_subreaper()
    o = lt.FastOrigin(t)
    port = wd.free_port()
    pidfile = t.path("warpd.pid")
    cfg = ht.http_config(t, port, mode="reverse", workers=2, upstream=o.text,
                         extra="pidfile %s\n" % pidfile)
    w, copy = start_from_copy(t, cfg)
    addr = ("127.0.0.1", port)
    workers = w.workers()
    load = lt.Load(t, addr, b"GET /r HTTP/1.1\r\nHost: backend\r\n\r\n", conns=20)
    load.wait_ok(200)

    replace_binary(t, copy, "echo 'failing on purpose' >&2\nexit 1\n")
    mark = w.mark()
    w.signal(signal.SIGUSR2)
    w.wait_log(r"binary upgrade failed: new binary \(pid \d+\) exited with status 1 before it was "
               r"ready; pid %d keeps serving" % w.pid, timeout=10, mark=mark)
    load.wait_ok(200)

    # A binary that stays a while without reporting ready, then exits 0.
    replace_binary(t, copy, "sleep 1.5\nexit 0\n")
    mark = w.mark()
    w.signal(signal.SIGUSR2)
    w.wait_log(STARTED_RE, timeout=5, mark=mark)
    w.signal(signal.SIGUSR2)
    w.wait_log(r"binary upgrade already in progress \(pid \d+\), SIGUSR2 ignored", timeout=5, mark=mark)
    w.signal(signal.SIGHUP)
    w.wait_log(r"SIGHUP ignored while upgrading", timeout=5, mark=mark)
    w.wait_log(r"binary upgrade failed: new binary \(pid \d+\) exited with status 0 before it was "
               r"ready", timeout=10, mark=mark)
    load.wait_ok(200)

    c = load.stop()
    check(c["failed"] == 0 and c["refused"] == 0, "failed upgrades under load: %s" % load.describe())
    check(w.running(), "the old supervisor exited")
    check(w.workers() == workers, "workers changed from %s to %s" % (workers, w.workers()))
    check(open(pidfile).read().strip() == str(w.pid), "the pidfile no longer names %d" % w.pid)
    print("     two failed upgrades under load: %s" % load.describe())


if __name__ == "__main__":
    wd.main(globals())
