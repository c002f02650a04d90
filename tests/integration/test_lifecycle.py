"""Integration tests of warpd's process lifecycle on loopback: graceful stop
with a transfer in flight, a second SIGTERM, shutdown_timeout, worker crash
and respawn, SIGHUP reload (good and broken file), SIGUSR1 log reopening,
the pidfile, the systemd notify protocol, and the number of workers."""

import hashlib
import os
import resource
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wdtest as wd  # noqa: E402
from wdtest import MIB, check  # noqa: E402


def wait_refused(addr, timeout=3.0):
    """Polls until connecting to addr is refused (the listeners are closed)."""
    return wd.wait_until(lambda: wd.connect_result(addr, 1.0) == "refused", timeout,
                         "connections to %s to be refused" % wd.addr_text(addr))


def stuck_upstream(sock, srv):
    """Reads and discards, never answers, until the peer or the test closes."""
    sock.settimeout(0.2)
    while not srv.stopping.is_set():
        try:
            if sock.recv(65536) == b"":
                return
        except socket.timeout:
            pass


def echo_through(addr, banner, payload=b"ping"):
    c = wd.connect(addr)
    try:
        got = wd.recv_exact(c, len(banner), 5)
        check(got == banner, "new connection got banner %r, expected %r" % (got, banner))
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        got = wd.recv_until_eof(c, 5)
        check(got == payload, "echo returned %r" % got)
    finally:
        c.close()


@wd.timeout(40)
def test_sigterm_lets_transfer_finish(t):
    size = 32 * MIB
    payload = wd.data(size, 21)
    at_gate = threading.Event()
    gate = threading.Event()

    def upstream(sock, srv):
        # 1 MiB every 40 ms (about 1.3 s), held at half way until the test
        # has sent SIGTERM and seen new connections refused.
        mv = memoryview(payload)
        for off in range(0, size, MIB):
            if off == size // 2:
                at_gate.set()
                if not gate.wait(20):
                    return
            sock.sendall(mv[off : off + MIB])
            time.sleep(0.04)
        sock.shutdown(socket.SHUT_WR)
        wd.recv_until_eof(sock, 20)

    srv = t.server(upstream)
    w, addr = t.start_tcp(srv.text, extra="shutdown_timeout 20s\n")
    c = t.connect(addr)
    result = {}

    def client():
        try:
            h = hashlib.sha256()
            n = 0
            c.settimeout(25)
            while True:
                b = c.recv(1 << 20)
                if not b:
                    break
                h.update(b)
                n += len(b)
            result["n"], result["sha"] = n, h.hexdigest()
        except Exception as e:
            result["error"] = repr(e)

    th = threading.Thread(target=client, daemon=True)
    th.start()
    check(at_gate.wait(10), "the transfer did not get half way")
    w.signal(signal.SIGTERM)
    wait_refused(addr)
    for _ in range(3):
        r = wd.connect_result(addr, 1.0)
        check(r == "refused", "a new connection during the graceful stop: %s, expected refused" % r)
    check(w.running(), "the supervisor exited with a transfer in flight")
    gate.set()
    th.join(25)
    check(not th.is_alive(), "the client did not finish")
    check("error" not in result, "client: %s" % result.get("error"))
    check(result["n"] == size, "the client got %d of %d bytes" % (result["n"], size))
    check(result["sha"] == wd.sha256(payload), "the client got different bytes")
    c.close()
    rc = w.wait_exit(10)
    check(rc == 0, "exit status %s after SIGTERM, expected 0" % rc)
    w.assert_gone()


def test_second_sigterm_stops_at_once(t):
    srv = t.server(stuck_upstream)
    w, addr = t.start_tcp(srv.text, extra="shutdown_timeout 30s\n")
    c = t.connect(addr)
    c.sendall(b"hello")
    srv.wait_accepted(1)
    w.signal(signal.SIGTERM)
    wait_refused(addr)  # the first SIGTERM has been handled
    check(w.running(), "the supervisor exited at once although a session is in flight (shutdown_timeout 30s)")
    t0 = time.monotonic()
    w.signal(signal.SIGTERM)
    rc = w.wait_exit(3)
    took = time.monotonic() - t0
    check(rc == 0, "exit status %s after the second SIGTERM, expected 0" % rc)
    w.assert_gone()
    wd.expect_closed(c, 2)
    print("     second SIGTERM: exit after %.2fs" % took)


@wd.timeout(30)
def test_shutdown_timeout_bounds_stuck_session(t):
    srv = t.server(stuck_upstream)
    w, addr = t.start_tcp(srv.text, extra="shutdown_timeout 1s\n")
    c = t.connect(addr)
    c.sendall(b"hello")
    srv.wait_accepted(1)
    t0 = time.monotonic()
    w.signal(signal.SIGTERM)
    rc = w.wait_exit(8)
    took = time.monotonic() - t0
    check(rc == 0, "exit status %s, expected 0" % rc)
    check(took <= 7, "exit after %.1fs with shutdown_timeout 1s" % took)
    check(took >= 0.8, "exit after %.2fs: the in-flight session was not given shutdown_timeout (1s)" % took)
    w.assert_gone()
    wd.expect_closed(c, 2)


def test_sigint_idle_stops_promptly(t):
    echo = t.echo()
    w, addr = t.start_tcp(echo.text, extra="shutdown_timeout 10s\n")
    t0 = time.monotonic()
    w.signal(signal.SIGINT)
    rc = w.wait_exit(5)
    check(rc == 0, "exit status %s after SIGINT, expected 0" % rc)
    check(time.monotonic() - t0 < 3, "an idle server took %.1fs to stop" % (time.monotonic() - t0))
    w.assert_gone()
    check(wd.connect_result(addr) == "refused", "still accepting after exit")


def test_kill9_worker_respawns(t):
    echo = t.echo()
    w, addr = t.start_tcp(echo.text, workers=2)
    before = w.workers()
    check(len(before) == 2, "workers %s" % before)
    c1 = t.connect(addr)
    c1.sendall(b"one")
    check(wd.recv_exact(c1, 3, 5) == b"one", "first session does not echo")
    keeper = wd.socket_owner(c1, before)
    check(keeper in before, "could not tell which worker serves the session")
    victim = [p for p in before if p != keeper][0]
    mark = w.mark()
    os.kill(victim, signal.SIGKILL)
    w.wait_log(r"respawn", 10, mark)
    after = wd.wait_until(lambda: (lambda ws: ws if len(ws) == 2 and victim not in ws else None)(w.workers()),
                          10, "a new worker in place of %d" % victim)
    check(keeper in after, "the other worker %d was replaced too: %s -> %s" % (keeper, before, after))
    new = [p for p in after if p != keeper][0]
    c1.sendall(b"two")
    check(wd.recv_exact(c1, 3, 5) == b"two", "the session on the other worker broke")
    mark = w.mark()
    for i in range(30):
        echo_through(addr, b"", b"conn %d" % i)
    pids = {a["pid"] for a in w.access_lines(mark)}
    check(new in pids, "the respawned worker %d served none of 30 connections (served by %s)" % (new, pids))
    check(w.running(), "supervisor gone")


def kill_and_wait_respawn(t, w, victim, keeper):
    """SIGKILLs victim; returns the supervisor's respawn line and the pid of
    the worker that replaced it."""
    mark = w.mark()
    os.kill(victim, signal.SIGKILL)
    line = w.wait_log(r"\(pid %d\) killed by signal 9; respawn in" % victim, 10, mark)
    new = wd.wait_until(
        lambda: (lambda ws: [p for p in ws if p != keeper] if len(ws) == 2 and victim not in ws else None)(w.workers()),
        10,
        "a new worker in place of %d" % victim,
    )[0]
    return line, new


def test_first_crash_respawns_at_once(t):
    """A worker's first crash is respawned at once; only crashes that follow
    quickly wait, 0.1 s doubling."""
    echo = t.echo()
    w, addr = t.start_tcp(echo.text, workers=2)
    keeper, victim = w.workers()
    delays = []
    for _ in range(3):
        line, victim = kill_and_wait_respawn(t, w, victim, keeper)
        delays.append(line.rsplit(" ", 1)[1])
    check(delays == ["0.0s", "0.1s", "0.2s"], "respawn delays %s, expected 0.0s 0.1s 0.2s" % delays)


@wd.timeout(40)
def test_live_worker_serves_dead_slot_queue(t):
    """Each slot has its own accept queue. While a slot's worker waits for
    its respawn (here 3.2 s, after seven quick crashes), the other worker
    accepts for that slot too: every new client is served at once. The
    respawned worker then takes its slot back."""
    echo = t.echo(banner=b"E")
    w, addr = t.start_tcp(echo.text, workers=2)
    keeper, victim = w.workers()
    first = w.mark()
    for _ in range(6):
        _, victim = kill_and_wait_respawn(t, w, victim, keeper)
    mark = w.mark()
    os.kill(victim, signal.SIGKILL)
    w.wait_log(r"\(pid %d\) killed by signal 9; respawn in 3\.2s" % victim, 10, mark)
    # The cover is logged when it begins. A respawned worker killed before
    # it reported ready never took its slot back, so the cover of an
    # earlier crash may still be the one in force: look from the first kill
    # on. The clients below prove that the slot is served.
    w.wait_log(r"worker \d+ accepts for slot \d+ until it has a worker again", 5, first)
    w.wait_log(r"accepting for slot \d+ too", 5, first)
    t0 = time.monotonic()
    for i in range(20):
        c = wd.connect(addr)
        try:
            check(wd.recv_exact(c, 1, 1.0) == b"E", "no banner")
        finally:
            c.close()
    took = time.monotonic() - t0
    check(w.workers() == [keeper], "the slot's worker came back early (%s); the test proves nothing" % w.workers())
    check(took < 2.5, "20 new clients took %.1fs while a slot had no worker" % took)
    served = {a["pid"] for a in w.access_lines(mark)}
    check(served == {keeper}, "clients served by %s, expected only the live worker %d" % (served, keeper))
    new = wd.wait_until(lambda: (lambda ws: [p for p in ws if p != keeper] if len(ws) == 2 else None)(w.workers()), 10, "the respawn")[0]
    mark = w.mark()
    for i in range(30):
        echo_through(addr, b"E", b"conn %d" % i)
    pids = {a["pid"] for a in w.access_lines(mark)}
    check(new in pids, "the respawned worker %d served none of 30 connections (served by %s)" % (new, pids))


def test_fd_limit_raised_or_warned(t):
    """max_connections 1000 needs about 2 000 descriptors: a soft limit of
    256 is raised to the hard one at start; when the hard limit is too low
    as well, warpd warns with the numbers, at start and at each reload."""
    echo = t.echo()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 2065:
        raise wd.Skip("the hard open-file limit here is %d, below 2065" % hard)
    port = wd.free_port()
    cfg = t.tcp_config(port, echo.text, workers=1, extra="max_connections 1000")
    w = t.warpd(config=cfg, nworkers=1, wrap=["prlimit", "--nofile=256:%d" % hard, "--"])
    check(echo_ok(t, ("127.0.0.1", port)), "warpd does not serve")
    check(not any("open-file limit" in l for l in w.text()), "a warning although the hard limit is enough")
    w.stop()
    port = wd.free_port()
    cfg = t.tcp_config(port, echo.text, workers=1, extra="max_connections 1000", name="low.conf")
    w = t.warpd(config=cfg, nworkers=1, wrap=["prlimit", "--nofile=256:512", "--"])
    warn = r"the open-file limit \(512\) is below the 2065 descriptors that max_connections 1000 needs"
    w.wait_log(warn)
    mark = w.mark()
    w.signal(signal.SIGHUP)
    w.wait_log(r"reload complete", 10, mark)
    w.wait_log(warn, 1, mark)
    check(echo_ok(t, ("127.0.0.1", port)), "warpd does not serve with the low limit")


def echo_ok(t, addr):
    c = t.connect(addr)
    c.sendall(b"hi")
    return wd.recv_exact(c, 2, 5) == b"hi"


def test_respawn_keeps_queued_connections(t):
    """DESIGN 2: the supervisor keeps each slot's listening socket, so clients
    queued while the slot's worker is down are served by its replacement,
    not reset."""
    echo = t.echo(banner=b"E")
    w, addr = t.start_tcp(echo.text, workers=1)
    worker = w.workers()[0]
    os.kill(worker, signal.SIGSTOP)  # nobody accepts from now on
    clients = []
    for i in range(5):
        c = t.connect(addr)
        c.sendall(b"q%d" % i)
        clients.append(c)
    check(echo.accepted == 0, "a stopped worker accepted")
    mark = w.mark()
    os.kill(worker, signal.SIGKILL)
    w.wait_log(r"respawn", 10, mark)
    for i, c in enumerate(clients):
        try:
            got = wd.recv_exact(c, 3, 10)
        except ConnectionResetError:
            raise wd.Fail("queued client %d was reset when its worker was replaced" % i)
        check(got == b"Eq%d" % i, "queued client %d got %r" % (i, got))
    new = w.workers()
    check(len(new) == 1 and new[0] != worker, "workers after respawn: %s" % new)


@wd.timeout(40)
def test_sighup_changes_upstream(t):
    a = t.echo(banner=b"A")
    b = t.echo(banner=b"B")
    w, addr = t.start_tcp(a.text, workers=2)
    old = w.workers()
    c_old = t.connect(addr)
    check(wd.recv_exact(c_old, 1, 5) == b"A", "first upstream not reached")
    t.tcp_config(addr[1], b.text, workers=2)
    mark = w.mark()
    w.signal(signal.SIGHUP)
    w.wait_log(r"reload complete", 10, mark)
    check(not any("reload failed" in l for l in w.logs_since(mark)), "reload failed")
    for i in range(20):
        echo_through(addr, b"B", b"after reload %d" % i)
    # The session opened before the reload finishes on the old generation.
    c_old.sendall(b"still")
    check(wd.recv_exact(c_old, 5, 5) == b"still", "the pre-reload session broke")
    c_old.shutdown(socket.SHUT_WR)
    wd.recv_until_eof(c_old, 5)
    c_old.close()
    wd.wait_until(lambda: not any(wd.proc_alive(p, w.seen[p]) for p in old), 10,
                  "the old workers %s to exit" % old)
    now = wd.wait_until(lambda: (lambda ws: ws if len(ws) == 2 else None)(w.workers()), 5, "2 workers")
    check(not set(now) & set(old), "old workers %s still among %s" % (old, now))
    check(w.running(), "supervisor gone")


def test_sighup_broken_config_keeps_old(t):
    a = t.echo(banner=b"A")
    b = t.echo(banner=b"B")
    w, addr = t.start_tcp(a.text, workers=2)
    before = w.workers()
    text = open(w.config).read()
    t.write("warpd.conf",
            "listen %s\nmode tcp\nupstream %s\nworkers 2\nbogus_directive on\n" % (wd.addr_text(addr), b.text))
    mark = w.mark()
    w.signal(signal.SIGHUP)
    line = w.wait_log(r"reload failed", 10, mark)
    check("%s:5:" % w.config in line, "the reload failure %r does not name %s:5:" % (line, w.config))
    check(w.running(), "the supervisor exited after a broken reload")
    echo_through(addr, b"A")
    check(b.accepted == 0, "the broken file's upstream was used")
    check(w.workers() == before, "workers changed after a failed reload: %s -> %s" % (before, w.workers()))
    # A good file again: the reload now works.
    t.write("warpd.conf", text.replace(a.text, b.text))
    mark = w.mark()
    w.signal(signal.SIGHUP)
    w.wait_log(r"reload complete", 10, mark)
    echo_through(addr, b"B")


@wd.timeout(40)
def test_sighup_changes_listen_and_workers(t):
    echo = t.echo()
    p1, p2 = wd.free_port(), wd.free_port()
    a1, a2 = ("127.0.0.1", p1), ("127.0.0.1", p2)
    cfg = t.config("listen 127.0.0.1:%d\nmode tcp\nupstream %s\nworkers 2\n" % (p1, echo.text))
    w = t.warpd(config=cfg, nworkers=2)
    t.config("listen 127.0.0.1:%d\nlisten 127.0.0.1:%d\nmode tcp\nupstream %s\nworkers 3\n" % (p1, p2, echo.text))
    mark = w.mark()
    w.signal(signal.SIGHUP)
    w.wait_log(r"reload complete", 10, mark)
    echo_through(a2, b"", b"new address")
    echo_through(a1, b"", b"kept address")
    wd.wait_until(lambda: len(w.workers()) == 3, 10, "3 workers after the reload (have %s)" % w.workers())
    t.config("listen 127.0.0.1:%d\nmode tcp\nupstream %s\nworkers 1\n" % (p2, echo.text))
    mark = w.mark()
    w.signal(signal.SIGHUP)
    w.wait_log(r"reload complete", 10, mark)
    echo_through(a2, b"", b"still here")
    wait_refused(a1, 5)
    wd.wait_until(lambda: len(w.workers()) == 1, 10, "1 worker after the second reload (have %s)" % w.workers())


def test_sighup_cli_options_keep_winning(t):
    """Command-line options are applied again on every reload."""
    a = t.echo(banner=b"A")
    b = t.echo(banner=b"B")
    port = wd.free_port()
    cfg = t.tcp_config(port, a.text)
    addr = ("127.0.0.1", port)
    w = t.warpd(["-u", b.text], config=cfg, nworkers=2)
    echo_through(addr, b"B")
    t.tcp_config(port, a.text, extra="idle_timeout 100s\n")
    mark = w.mark()
    w.signal(signal.SIGHUP)
    w.wait_log(r"reload complete", 10, mark)
    for _ in range(5):
        echo_through(addr, b"B")
    check(a.accepted == 0, "the file's upstream was used after a reload despite -u")


def test_crash_loop_gives_up(t):
    """DESIGN 2: more than 10 worker deaths within 60 s stop everything with
    exit status 1."""
    echo = t.echo()
    w, addr = t.start_tcp(echo.text, workers=12)
    victims = w.workers()[:11]
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    rc = w.wait_exit(15)
    check(rc == 1, "exit status %s after 11 worker deaths, expected 1" % rc)
    w.assert_gone()


@wd.timeout(40)
def test_sigusr1_reopens_logs(t):
    echo = t.echo()
    err, acc = t.path("error.log"), t.path("access.log")
    port = wd.free_port()
    cfg = t.tcp_config(port, echo.text, extra="log %s\naccess_log %s\n" % (err, acc))
    addr = ("127.0.0.1", port)
    w = t.warpd(config=cfg, ready=False)
    wd.wait_file_line(err, r"listening on ", 10)

    def session():
        c = wd.connect(addr)
        me = wd.addr_text(c.getsockname()[:2])
        c.sendall(b"x")
        c.shutdown(socket.SHUT_WR)
        wd.recv_until_eof(c, 5)
        c.close()
        return me

    first = session()
    wd.wait_file_line(acc, "client=%s " % first, 5)
    os.rename(err, err + ".1")
    os.rename(acc, acc + ".1")
    w.signal(signal.SIGUSR1)
    wd.wait_until(lambda: os.path.exists(acc) and os.path.exists(err), 5, "the log files to be created again")

    # Until the worker has handled the signal a line may still go to the old
    # file, so keep making sessions until one shows up in the new one.
    def landed():
        me = session()
        try:
            return wd.wait_file_line(acc, "client=%s " % me, 1.0)
        except wd.Fail:
            return None

    wd.wait_until(landed, 8, "an access line in the new %s" % acc, interval=0.05)
    later = session()
    wd.wait_file_line(acc, "client=%s " % later, 5)
    mark_err = os.path.getsize(err)
    w.signal(signal.SIGHUP)
    wd.wait_file_line(err, r"reload complete", 10, start=mark_err)
    check("client=%s " % first in open(acc + ".1").read(), "the first access line is not in the rotated file")
    check("listening on " in open(err + ".1").read(), "the rotated error log lost its lines")
    check("reload complete" not in open(err + ".1").read(), "after SIGUSR1 the log still went to the rotated file")
    for f in (err, acc):
        mode = os.stat(f).st_mode & 0o777
        check(mode == 0o640, "%s created with mode %o, warpd.conf(5) says 0640" % (f, mode))


def test_pidfile(t):
    echo = t.echo()
    pidfile = t.path("warpd.pid")
    t.write("warpd.pid", "999999\n")  # stale, from a crashed run
    w, addr = t.start_tcp(echo.text, extra="pidfile %s\n" % pidfile)
    check(os.path.exists(pidfile), "no pidfile while running")
    content = open(pidfile).read()
    check(content.strip() == str(w.pid), "pidfile holds %r, supervisor is %d" % (content, w.pid))
    w.stop()
    check(not os.path.exists(pidfile), "pidfile left after stop")


def test_notify_socket(t):
    path = t.path("notify.sock")
    ns = t.add(socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM))
    ns.bind(path)
    echo = t.echo()
    port = wd.free_port()
    cfg = t.tcp_config(port, echo.text)
    addr = ("127.0.0.1", port)
    w = t.warpd(config=cfg, env={"NOTIFY_SOCKET": path}, ready=False)
    got = []

    def until(word, timeout):
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise wd.Fail("no %s within %.0fs; datagrams: %r" % (word, timeout, got))
            ns.settimeout(left)
            try:
                msg = ns.recv(4096).decode(errors="replace")
            except socket.timeout:
                continue
            got.append(msg)
            if word in msg.split("\n"):
                return msg

    until("READY=1", 10)
    check(any("STATUS=" in m for m in got), "no STATUS= line before or with READY=1: %r" % got)
    check(wd.connect_result(addr) == "ok", "READY=1 sent but the port does not accept")
    w.signal(signal.SIGHUP)
    until("RELOADING=1", 10)
    until("READY=1", 10)
    w.wait_log("reload complete", 5)
    w.signal(signal.SIGTERM)
    until("STOPPING=1", 10)
    rc = w.wait_exit(10)
    check(rc == 0, "exit status %s" % rc)
    w.assert_gone()


def test_workers_count(t):
    echo = t.echo()
    port = wd.free_port()
    cfg = t.tcp_config(port, echo.text, workers=1)
    w = t.warpd(["-w", "3"], config=cfg)
    ws = wd.wait_until(lambda: (lambda ws: ws if len(ws) >= 3 else None)(w.workers()), 5, "3 workers")
    check(len(ws) == 3, "-w 3 gave %d children: %s" % (len(ws), ws))
    w.stop()
    port = wd.free_port()
    cfg = t.config("listen 127.0.0.1:%d\nmode tcp\nupstream %s\nworkers auto\n" % (port, echo.text), "auto.conf")
    w = t.warpd(config=cfg)
    cpus = {os.cpu_count(), len(os.sched_getaffinity(0))}
    n = len(wd.wait_until(lambda: (lambda ws: ws if len(ws) in cpus else None)(w.workers()), 5,
                          "workers auto to start %s workers (have %s)" % (cpus, w.workers())))
    check(n in cpus, "workers auto gave %d" % n)


def proc_ids(pid):
    """(uids, gids) of pid: the real, effective, saved and fs ids."""
    ids = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("Uid:", "Gid:")):
                ids[line[:3]] = [int(x) for x in line.split()[1:]]
    return ids["Uid"], ids["Gid"]


def test_user_drops_privileges(t):
    """Started as root with user set, the workers run as that user (every
    uid and gid), the supervisor stays root, and relaying works."""
    import pwd

    if os.geteuid() != 0:
        raise wd.Skip("not running as root")
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        raise wd.Skip("no user nobody")
    echo = t.echo(banner=b"U")
    w, addr = t.start_tcp(echo.text, workers=2, extra="user nobody\n")
    for pid in w.workers():
        uids, gids = proc_ids(pid)
        check(uids == [pw.pw_uid] * 4, "worker %d uids %s, expected %d" % (pid, uids, pw.pw_uid))
        check(gids == [pw.pw_gid] * 4, "worker %d gids %s, expected %d" % (pid, gids, pw.pw_gid))
    check(proc_ids(w.pid)[0][1] == 0, "the supervisor is not root any more")
    echo_through(addr, b"U")


def test_supervisor_killed_workers_exit(t):
    """DESIGN 2: if the supervisor dies, its workers notice and stop."""
    echo = t.echo()
    w, addr = t.start_tcp(echo.text, workers=2)
    ws = w.workers()
    os.kill(w.pid, signal.SIGKILL)
    w.wait_exit(5)
    wd.wait_until(lambda: not w.live_workers_seen(), 5, "workers %s to exit after the supervisor died" % ws)


if __name__ == "__main__":
    wd.main(globals())
