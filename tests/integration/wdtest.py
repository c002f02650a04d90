"""Shared harness of warpd's integration tests: starts the real binary on
loopback, follows its log, tracks its worker pids, provides fake upstream
servers and socket helpers, and runs a file's test_* functions with a tiny
runner (exit 0 pass, 1 fail, 77 skip, as automake's test driver expects).

Every wait is bounded by a deadline and every process or socket a test makes
is registered with its T context, which stops or closes it afterwards."""

import atexit
import hashlib
import os
import random
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

WARPD = os.environ.get("WARPD", "")
SRCDIR = os.environ.get("WARPD_SRCDIR", "")
MIB = 1024 * 1024

# "<timestamp> <tag>[<pid>] <level>: <message>"; the timestamp may contain a
# space, so it is matched lazily up to the tag.
LOG_RE = re.compile(
    r"^(?P<ts>\S.*?) (?P<tag>supervisor|worker \d+)\[(?P<pid>\d+)\] "
    r"(?P<level>error|warn|info|debug|access): (?P<msg>.*)$"
)
ACCESS_RE = re.compile(
    r"client=(?P<client>\S+) upstream=(?P<upstream>\S+) in=(?P<inb>\d+) "
    r"out=(?P<outb>\d+) time=(?P<time>\d+(?:\.\d+)?) close=\"(?P<close>[^\"]*)\""
)


# What ASan, LSan and UBSan print when they find something.
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error: |SUMMARY: \w+Sanitizer")


class Fail(AssertionError):
    pass


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def wait_until(pred, timeout, what, interval=0.02):
    """Polls pred() until it returns something true; returns that value, or
    raises Fail after timeout seconds."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= end:
            raise Fail("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


# ---- /proc helpers -----------------------------------------------------


def proc_stat(pid):
    """(state, starttime) of pid from /proc, or None when it does not exist."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = s[s.rindex(")") + 2 :].split()
    return rest[0], int(rest[19])


def proc_ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(s[s.rindex(")") + 2 :].split()[1])


def proc_alive(pid, starttime):
    """True while pid is the same process (same start time) and not a zombie."""
    st = proc_stat(pid)
    return st is not None and st[1] == starttime and st[0] not in "ZX"


def children_of(pid):
    """Child pids of pid, from the children file of each of its threads."""
    kids = set()
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except FileNotFoundError:
        return kids
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids.update(int(x) for x in f.read().split())
        except (FileNotFoundError, ProcessLookupError):
            pass
    return kids


def vmrss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise Fail("no VmRSS for pid %d" % pid)


def procs_with_arg(text):
    """Pids of live processes (not this one) whose command line contains text."""
    found = []
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        st = proc_stat(int(d))
        if text.encode() in cmd and st is not None and st[0] not in "ZX":
            found.append(int(d))
    return found


# ---- addresses and client sockets -------------------------------------


def addr_text(addr):
    """(host, port) as warpd prints it: 127.0.0.1:80 or [::1]:80."""
    host, port = addr[0], addr[1]
    return ("[%s]:%d" % (host, port)) if ":" in host else ("%s:%d" % (host, port))


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def have_ipv6():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            s.bind(("::1", 0))
        finally:
            s.close()
        return True
    except OSError:
        return False


def free_port(host="127.0.0.1"):
    """A port that is free now on host, chosen below the ephemeral range so
    that no outgoing connection takes it before warpd binds it."""
    rnd = random.Random()
    for _ in range(200):
        port = rnd.randrange(20000, 32000)
        s = socket.socket(family_of(host), socket.SOCK_STREAM)
        try:
            s.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise Fail("no free port found on %s" % host)


def connect(addr, timeout=5.0):
    s = socket.socket(family_of(addr[0]), socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(addr)
    except BaseException:
        s.close()
        raise
    return s


def connect_result(addr, timeout=2.0):
    """'ok', 'refused', 'reset' or 'timeout' for one connection attempt
    (closed at once). 'reset' happens when the listener closes while the
    attempt is in its queue."""
    s = socket.socket(family_of(addr[0]), socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(addr)
        return "ok"
    except ConnectionRefusedError:
        return "refused"
    except ConnectionResetError:
        return "reset"
    except socket.timeout:
        return "timeout"
    finally:
        s.close()


def recv_exact(sock, n, timeout=10.0):
    end = time.monotonic() + timeout
    parts = []
    got = 0
    while got < n:
        left = end - time.monotonic()
        if left <= 0:
            raise Fail("timed out reading: got %d of %d bytes" % (got, n))
        sock.settimeout(left)
        try:
            b = sock.recv(min(n - got, 1 << 20))
        except socket.timeout:
            continue
        if not b:
            raise Fail("EOF after %d of %d bytes" % (got, n))
        parts.append(b)
        got += len(b)
    return b"".join(parts)


def recv_until_eof(sock, timeout=10.0, limit=1 << 30):
    """Everything until EOF (a reset after data also ends it); Fail on timeout."""
    end = time.monotonic() + timeout
    parts = []
    got = 0
    while True:
        left = end - time.monotonic()
        if left <= 0:
            raise Fail("no EOF within %.1fs (got %d bytes)" % (timeout, got))
        sock.settimeout(left)
        try:
            b = sock.recv(1 << 20)
        except socket.timeout:
            continue
        if not b:
            return b"".join(parts)
        parts.append(b)
        got += len(b)
        check(got <= limit, "more than %d bytes received" % limit)


def expect_closed(sock, timeout):
    """Waits for the peer to close sock without sending anything; returns
    'eof' or 'reset' and the seconds it took."""
    t0 = time.monotonic()
    end = t0 + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            raise Fail("connection still open after %.1fs" % timeout)
        sock.settimeout(left)
        try:
            b = sock.recv(4096)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return "reset", time.monotonic() - t0
        if b:
            raise Fail("expected the connection to be closed, got %d bytes: %r" % (len(b), b[:60]))
        return "eof", time.monotonic() - t0


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def data(n, seed):
    """n reproducible pseudo-random bytes."""
    return random.Random(seed).randbytes(n)


def socket_owner(client_sock, pids):
    """Which of pids holds the server end of the loopback connection whose
    client end is client_sock (found through /proc/net/tcp{,6} inodes)."""
    local = client_sock.getsockname()[:2]
    peer = client_sock.getpeername()[:2]
    six = client_sock.family == socket.AF_INET6

    def hexaddr(a):
        raw = socket.inet_pton(socket.AF_INET6 if six else socket.AF_INET, a[0])
        # /proc prints each 32-bit word in host (little-endian) order.
        words = [raw[i : i + 4][::-1].hex().upper() for i in range(0, len(raw), 4)]
        return "%s:%04X" % ("".join(words), a[1])

    want_local, want_rem = hexaddr(peer), hexaddr(local)
    inode = None
    with open("/proc/net/tcp6" if six else "/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[1] == want_local and parts[2] == want_rem:
                inode = parts[9]
    check(inode is not None, "no /proc/net/tcp entry for the server end of %s" % (local,))
    target = "socket:[%s]" % inode
    for pid in pids:
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == target:
                    return pid
            except OSError:
                pass
    return None


def wait_file_line(path, pattern, timeout=10.0, start=0):
    """The first line of file path (from byte offset start) matching the
    regex pattern; Fail on timeout."""
    rx = re.compile(pattern)

    def look():
        try:
            with open(path, errors="replace") as f:
                f.seek(start)
                for line in f:
                    if rx.search(line):
                        return line.rstrip("\n")
        except FileNotFoundError:
            return None
        return None

    return wait_until(look, timeout, "/%s/ in %s" % (pattern, path))


# ---- fake servers --------------------------------------------------------


class Server:
    """A listening socket on loopback whose connections are each handed to
    handler(sock, server) in a thread of their own. Handler exceptions are
    kept in .errors; close() shuts every connection down, which wakes handler
    threads blocked in recv or send."""

    def __init__(self, handler, host="127.0.0.1", backlog=128, name="server"):
        self.handler = handler
        self.name = name
        self.lsock = socket.socket(family_of(host), socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, 0))
        self.lsock.listen(backlog)
        self.lsock.settimeout(0.05)
        self.addr = self.lsock.getsockname()[:2]
        self.text = addr_text(self.addr)
        self.accepted = 0
        self.errors = []
        self.conns = []
        self.threads = []
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.thread = threading.Thread(target=self._accept_loop, name=name, daemon=True)
        self.thread.start()

    def _accept_loop(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            c.settimeout(30)
            th = threading.Thread(target=self._run, args=(c,), daemon=True)
            with self.lock:
                self.conns.append(c)
                self.threads.append(th)
                self.accepted += 1
                self.cond.notify_all()
            th.start()

    def _run(self, c):
        try:
            self.handler(c, self)
        except Exception as e:  # kept for the test to report
            if not self.stopping.is_set():
                self.errors.append("%s: %r" % (self.name, e))
        finally:
            try:
                c.close()
            except OSError:
                pass

    def wait_accepted(self, n, timeout=5.0):
        end = time.monotonic() + timeout
        with self.lock:
            while self.accepted < n:
                left = end - time.monotonic()
                if left <= 0:
                    raise Fail("%s: %d connections accepted, expected %d" % (self.name, self.accepted, n))
                self.cond.wait(left)

    def close(self):
        self.stopping.set()
        self.thread.join(2)
        self.lsock.close()
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for th in list(self.threads):
            th.join(2)


class EchoServer:
    """An echo server for many connections in one selector thread. It sends
    banner first (if any), echoes everything back, and on EOF flushes what it
    owes, shuts its write side and closes."""

    def __init__(self, host="127.0.0.1", banner=b"", backlog=4096):
        self.banner = banner
        self.lsock = socket.socket(family_of(host), socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, 0))
        self.lsock.listen(backlog)
        self.lsock.setblocking(False)
        self.addr = self.lsock.getsockname()[:2]
        self.text = addr_text(self.addr)
        self.accepted = 0
        self.bytes = 0
        self.open = 0
        self.errors = []
        self.stopping = False
        rsock, self.wsock = socket.socketpair()
        self.rsock = rsock
        self.thread = threading.Thread(target=self._loop, name="echo", daemon=True)
        self.thread.start()

    def _loop(self):
        sel = selectors.DefaultSelector()
        sel.register(self.lsock, selectors.EVENT_READ, "listen")
        sel.register(self.rsock, selectors.EVENT_READ, "stop")
        state = {}  # sock -> [pending bytearray, eof seen]
        try:
            while not self.stopping:
                for key, ev in sel.select(0.5):
                    if key.data == "stop":
                        return
                    if key.data == "listen":
                        self._accept(sel, state)
                        continue
                    self._serve(sel, state, key.fileobj, ev)
        except Exception as e:
            self.errors.append("echo: %r" % e)
        finally:
            for s in list(state):
                s.close()
            sel.close()

    def _accept(self, sel, state):
        for _ in range(64):
            try:
                c, _ = self.lsock.accept()
            except BlockingIOError:
                return
            c.setblocking(False)
            state[c] = [bytearray(self.banner), False]
            self.accepted += 1
            self.open += 1
            sel.register(c, selectors.EVENT_READ | (selectors.EVENT_WRITE if self.banner else 0))

    def _serve(self, sel, state, c, ev):
        st = state[c]
        try:
            if ev & selectors.EVENT_READ and not st[1]:
                b = c.recv(65536)
                if b:
                    st[0] += b
                    self.bytes += len(b)
                else:
                    st[1] = True
            if st[0]:
                n = c.send(st[0])
                del st[0][:n]
        except BlockingIOError:
            pass
        except OSError:
            sel.unregister(c)
            del state[c]
            c.close()
            self.open -= 1
            return
        if st[1] and not st[0]:
            sel.unregister(c)
            del state[c]
            try:
                c.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            c.close()
            self.open -= 1
            return
        # Backpressure: stop reading while 1 MiB is owed to a slow reader.
        want = 0 if st[1] or len(st[0]) > MIB else selectors.EVENT_READ
        if st[0]:
            want |= selectors.EVENT_WRITE
        if want == 0:
            want = selectors.EVENT_WRITE
        sel.modify(c, want)

    def close(self):
        self.stopping = True
        try:
            self.wsock.send(b"x")
        except OSError:
            pass
        self.thread.join(3)
        self.lsock.close()
        self.rsock.close()
        self.wsock.close()


def reserve_closed_port(host="127.0.0.1"):
    """A socket bound to a port but not listening: connections to it are
    refused, and nobody else can take the port while it is held."""
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    s.bind((host, 0))
    return s


def full_backlog_listener(host="127.0.0.1", timeout=3.0):
    """A listener with listen(0) whose accept queue is filled with
    connections nobody accepts, so that new SYNs are dropped and connecting
    to it hangs. Returns (listener, fillers)."""
    l = socket.socket(family_of(host), socket.SOCK_STREAM)
    l.bind((host, 0))
    l.listen(0)
    addr = l.getsockname()[:2]
    fillers = []
    end = time.monotonic() + timeout
    while time.monotonic() < end and len(fillers) < 16:
        s = socket.socket(family_of(host), socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(addr)
        fillers.append(s)
        sel = selectors.DefaultSelector()
        sel.register(s, selectors.EVENT_WRITE)
        done = sel.select(0.3)
        sel.close()
        if not done:
            return l, fillers  # this one hangs: the queue is full
    for s in fillers:
        s.close()
    l.close()
    raise Fail("could not fill the accept queue of a listen(0) socket")


# ---- the daemon ------------------------------------------------------------


class Warpd:
    """One warpd supervisor started by a test: its stderr/stdout are read by
    threads and kept as lines; its children are polled every 20 ms so that
    every worker pid it ever had is known and can be checked (or killed)."""

    def __init__(self, t, args, env=None, config=None, wrap=()):
        self.t = t
        self.config = config
        # wrap: a command that execs warpd in its own process (prlimit ...).
        argv = list(wrap) + [WARPD] + (["-c", config] if config else []) + list(args)
        self.argv = argv
        e = dict(os.environ)
        e.pop("NOTIFY_SOCKET", None)
        if env:
            e.update(env)
        self.lines = []  # (monotonic time, text) of stderr
        self.out = []  # stdout lines
        self.cond = threading.Condition()
        self.seen = {}  # worker pid -> starttime, every worker ever seen
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e
        )
        _ALL.append(self)
        self.pid = self.proc.pid
        st = proc_stat(self.pid)
        self.starttime = st[1] if st else None
        self.exited_at = None
        self._threads = [
            threading.Thread(target=self._reader, args=(self.proc.stderr, self.lines), daemon=True),
            threading.Thread(target=self._reader, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._poller, daemon=True),
        ]
        for th in self._threads:
            th.start()

    # -- background threads
    def _reader(self, f, store):
        for raw in iter(f.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                store.append(line if store is self.out else (time.monotonic(), line))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def _poller(self):
        while self.proc.poll() is None:
            self._scan()
            time.sleep(0.02)

    def _scan(self):
        for pid in children_of(self.pid):
            if pid not in self.seen:
                st = proc_stat(pid)
                if st:
                    self.seen[pid] = st[1]

    # -- state
    def running(self):
        return self.proc.poll() is None

    def workers(self):
        """Live children of the supervisor now."""
        self._scan()
        return sorted(p for p in children_of(self.pid) if p in self.seen and proc_alive(p, self.seen[p]))

    def text(self):
        with self.cond:
            return [l for _, l in self.lines]

    def mark(self):
        with self.cond:
            return len(self.lines)

    def logs_since(self, mark=0):
        with self.cond:
            return [l for _, l in self.lines[mark:]]

    def access_lines(self, mark=0):
        out = []
        for l in self.logs_since(mark):
            m = LOG_RE.match(l)
            if m and m.group("level") == "access":
                a = ACCESS_RE.search(m.group("msg"))
                if a:
                    d = a.groupdict()
                    d["line"] = l
                    d["tag"] = m.group("tag")
                    d["pid"] = int(m.group("pid"))
                    out.append(d)
        return out

    def wait_log(self, pattern, timeout=10.0, mark=0, fail_on_exit=True):
        """The first stderr line from index mark on that matches the regex
        pattern; Fail on timeout or when the process exits first."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        i = mark
        with self.cond:
            while True:
                while i < len(self.lines):
                    if rx.search(self.lines[i][1]):
                        return self.lines[i][1]
                    i += 1
                if fail_on_exit and self.proc.poll() is not None:
                    # Workers may hold the stderr pipe a little longer; give
                    # the reader a moment to deliver the last lines.
                    if self.exited_at is None:
                        self.exited_at = time.monotonic()
                    if not self._threads[0].is_alive() or time.monotonic() - self.exited_at > 0.5:
                        raise Fail("warpd exited (status %s) before logging /%s/" % (self.proc.returncode, pattern))
                left = end - time.monotonic()
                if left <= 0:
                    raise Fail("timed out after %.1fs waiting for log /%s/" % (timeout, pattern))
                self.cond.wait(min(left, 0.1))

    def wait_ready(self, timeout=10.0, nworkers=None):
        line = self.wait_log(r"listening on ", timeout)
        if nworkers is not None:
            wait_until(lambda: len(self.workers()) == nworkers, 5, "%d workers" % nworkers)
        return line

    def signal(self, sig):
        check(self.proc.poll() is None, "warpd already exited (status %s)" % self.proc.returncode)
        os.kill(self.pid, sig)

    def wait_exit(self, timeout):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Fail("warpd still running %.1fs later" % timeout)
        if self.exited_at is None:
            self.exited_at = time.monotonic()
        for th in self._threads:
            th.join(2)
        return rc

    def stop(self, timeout=15.0, sig=None):
        """Graceful stop: status 0, and nothing left behind."""
        sig = sig or signal.SIGTERM
        if self.proc.poll() is None:
            self.signal(sig)
        rc = self.wait_exit(timeout)
        check(rc == 0, "warpd exited with status %s after %s, expected 0" % (rc, signal.Signals(sig).name))
        self.assert_gone()
        return rc

    def live_workers_seen(self):
        return [p for p, st in self.seen.items() if proc_alive(p, st)]

    def assert_gone(self):
        check(self.proc.poll() is not None, "supervisor %d still running" % self.pid)
        left = self.live_workers_seen()
        check(not left, "worker pids still alive after the supervisor exited: %s" % left)
        if self.config:
            # Another warpd of the same test may use the same file: its
            # supervisor and its children are not strays of this one.
            others = {d.pid for d in self.t.daemons if d is not self and d.running()}
            stray = [p for p in procs_with_arg(self.config) if p not in others and proc_ppid(p) not in others]
            check(not stray, "processes still running with %s: %s" % (self.config, stray))

    def kill(self):
        """Last resort, by pid: SIGKILL the supervisor and its workers."""
        if self.proc.poll() is None:
            try:
                self.proc.kill()
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        for pid in self.live_workers_seen():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def dump(self, out, last=80):
        out.write("---- warpd %s (pid %d, status %s)\n" % (" ".join(self.argv[1:]), self.pid, self.proc.returncode))
        lines = self.text()
        if len(lines) > last:
            out.write("     [%d earlier lines]\n" % (len(lines) - last))
        for l in lines[-last:]:
            out.write("     " + l + "\n")
        for l in self.out[-20:]:
            out.write("     stdout: " + l + "\n")


# Every warpd ever started, killed at exit if a test run is cut short.
_ALL = []


@atexit.register
def _kill_all():
    for w in _ALL:
        w.kill()


# ---- per-test context and runner ----------------------------------------


class Result:
    """What a warpd run to completion printed, and its exit status."""

    def __init__(self, returncode, stdout, stderr):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def err_lines(self):
        return [l for l in self.stderr.splitlines() if l.strip()]

    def __str__(self):
        return "status %s, stdout %r, stderr %r" % (self.returncode, self.stdout[-300:], self.stderr[-300:])


class T:
    """What a test gets: a private temporary directory and registries of the
    processes, servers and sockets it made, all cleaned up afterwards."""

    def __init__(self, name):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="wdtest-%s-" % name)
        self.daemons = []
        self.closers = []

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text):
        """Writes a file atomically (a reloading warpd never sees half of it)."""
        p = self.path(name)
        with open(p + ".new", "w") as f:
            f.write(text)
        os.rename(p + ".new", p)
        return p

    def config(self, text, name="warpd.conf"):
        return self.write(name, text)

    def tcp_config(self, port, upstream, workers=2, extra="", host="127.0.0.1", name="warpd.conf"):
        """A tcp-mode config file; lines in extra replace the defaults here
        (each directive is written once)."""
        d = {
            "listen": addr_text((host, port)),
            "workers": str(workers),
            "mode": "tcp",
            "upstream": upstream,
            "shutdown_timeout": "3s",
            "connect_timeout": "2s",
        }
        for line in extra.splitlines():
            if line.strip():
                k, v = line.split(None, 1)
                d[k] = v.strip()
        body = "".join("%s %s\n" % kv for kv in d.items())
        return self.config("# written by %s\n%s" % (self.name, body), name)

    def warpd(self, args=(), config=None, env=None, ready=True, nworkers=None, timeout=10.0, wrap=()):
        w = Warpd(self, args, env=env, config=config, wrap=wrap)
        self.daemons.append(w)
        if ready:
            w.wait_ready(timeout, nworkers)
        return w

    def run(self, args, timeout=10.0, env=None):
        """Runs warpd to completion (for -h, -V, -t, bad configs) and returns
        a Result; a warpd that does not exit in time is killed and fails the
        test."""
        w = Warpd(self, args, env=env)
        self.daemons.append(w)
        rc = w.wait_exit(timeout)
        return Result(rc, "".join(l + "\n" for l in w.out), "".join(l + "\n" for l in w.text()))

    def start_tcp(self, upstream, workers=2, extra="", host="127.0.0.1", args=()):
        """A tcp-mode warpd on a free loopback port relaying to upstream
        ("host:port" text); returns (warpd, listen address)."""
        port = free_port(host)
        cfg = self.tcp_config(port, upstream, workers, extra, host)
        w = self.warpd(args, config=cfg, nworkers=workers)
        return w, (host, port)

    def add(self, obj):
        """Registers something with close() to be closed after the test."""
        self.closers.append(obj)
        return obj

    def server(self, handler, host="127.0.0.1", **kw):
        return self.add(Server(handler, host, **kw))

    def echo(self, host="127.0.0.1", banner=b""):
        return self.add(EchoServer(host, banner))

    def connect(self, addr, timeout=5.0):
        return self.add(connect(addr, timeout))

    def finish(self):
        """After a passing test: stop what is still running, gracefully, and
        check that nothing is left."""
        for obj in reversed(self.closers):
            _close(obj)
        for w in self.daemons:
            if w.running():
                w.stop()
            else:
                w.assert_gone()
        for w in self.daemons:
            bad = [l for l in w.text() if SANITIZER_RE.search(l)]
            check(not bad, "sanitizer report from warpd: %s" % bad[:3])

    def cleanup(self):
        for obj in reversed(self.closers):
            _close(obj)
        for w in self.daemons:
            w.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _close(obj):
    try:
        obj.close()
    except Exception:
        pass


def timeout(seconds):
    """Decorator: a per-test time limit other than the default."""

    def deco(f):
        f.time_limit = seconds
        return f

    return deco


class _TimeLimit(BaseException):
    pass


def _alarm(signum, frame):
    raise _TimeLimit()


def _term(signum, frame):
    raise KeyboardInterrupt("terminated by signal %d" % signum)


def main(namespace, default_limit=40):
    """Runs every test_* function of the calling module (or those named on
    the command line), each with a fresh T; prints ok / FAIL / skip per case."""
    tests = [(n, f) for n, f in namespace.items() if n.startswith("test_") and callable(f)]
    if len(sys.argv) > 1:
        tests = [(n, f) for n, f in tests if n in sys.argv[1:]]
    if not WARPD or not os.access(WARPD, os.X_OK):
        print("skip: WARPD does not name an executable warpd binary (%r)" % WARPD)
        sys.exit(77)
    # Many concurrent connections: the test and warpd (which inherits it) need fds.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    signal.signal(signal.SIGALRM, _alarm)
    signal.signal(signal.SIGTERM, _term)
    failed, skipped, passed = [], [], []
    t_all = time.monotonic()
    for name, f in tests:
        t = T(name)
        t0 = time.monotonic()
        signal.alarm(getattr(f, "time_limit", default_limit))
        try:
            try:
                f(t)
                t.finish()
            finally:
                signal.alarm(0)
            passed.append(name)
            print("ok   %s (%.1fs)" % (name, time.monotonic() - t0), flush=True)
            if os.environ.get("WDTEST_VERBOSE"):
                for w in t.daemons:
                    w.dump(sys.stdout, last=40)
        except Skip as e:
            skipped.append(name)
            print("skip %s: %s" % (name, e), flush=True)
        except (Exception, _TimeLimit) as e:
            failed.append(name)
            if isinstance(e, _TimeLimit):
                reason = "time limit of %ss exceeded" % getattr(f, "time_limit", default_limit)
            else:
                reason = str(e) or repr(e)
            print("FAIL %s: %s (%.1fs)" % (name, reason, time.monotonic() - t0), flush=True)
            if not isinstance(e, Fail):
                traceback.print_exc(file=sys.stdout)
            for w in t.daemons:
                w.dump(sys.stdout)
            for obj in t.closers:
                for err in getattr(obj, "errors", []) or []:
                    print("     server error: " + err)
        finally:
            signal.alarm(0)
            t.cleanup()
    print(
        "%d passed, %d failed, %d skipped in %.1fs"
        % (len(passed), len(failed), len(skipped), time.monotonic() - t_all),
        flush=True,
    )
    if failed:
        sys.exit(1)
    if skipped and not passed:
        sys.exit(77)
    sys.exit(0)
