#!/usr/bin/env python3
"""Measures warpd side by side with nginx, HAProxy, squid and tinyproxy.

Run through scripts/bench, which installs the peers, builds warpd, makes the
work directory and kills by pid whatever this script could not stop. Every
daemon runs in the foreground on a free loopback port with its own config,
pid file and logs under the work directory. Contenders are measured in
alternating order over several rounds and medians are reported. Python 3
standard library only.
"""

import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(TOP, "bench")
CLK_TCK = os.sysconf("SC_CLK_TCK")
SMALL_BODY = b"hello from the origin\n"
FILES = {"1k": 1024, "1m": 1 << 20, "64m": 64 << 20}
MEM_CONNS = 10000
# The shape part: the strategies measured, and the server name of its ClientHello.
SHAPES = ("off", "split", "disorder", "fake", "oob", "tlsrec", "warp", "auto")
TLS_NAME = "bench.example"
IS_ROOT = os.geteuid() == 0


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


# ---- processes -------------------------------------------------------------


def proc_stat(pid):
    """Fields of /proc/PID/stat after the command name (index 0 = state), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rindex(")") + 2:].split()


def start_time(pid):
    st = proc_stat(pid)
    return st[19] if st else None


def cpu_ticks(pid):
    """utime + stime of a process (all its threads), in clock ticks."""
    st = proc_stat(pid)
    return int(st[11]) + int(st[12]) if st else 0


def cpu_ns(pid):
    """CPU time of a process, all its threads, in nanoseconds (the first field
    of /proc/PID/task/*/schedstat); clock ticks (10 ms) when the kernel keeps
    no schedstat. Short runs need the finer clock: a few hundred requests
    cost a worker a few ticks in all."""
    total = 0
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return cpu_ticks(pid) * 1e9 / CLK_TCK
    return total


def sys_ticks(pid):
    """stime alone: the kernel's share (on loopback, much of the send path)."""
    st = proc_stat(pid)
    return int(st[12]) if st else 0


def machine_busy():
    """CPU ticks spent by anything on the machine (all CPUs), from /proc/stat."""
    with open("/proc/stat") as f:
        t = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = t
    return user + nice + system + irq + softirq + steal


def tcp_out_segs():
    """TCP segments the machine has sent (OutSegs in /proc/net/snmp)."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Tcp:")]
    return int(rows[1][rows[0].index("OutSegs")])


def wait_quiet(max_seconds, limit=25.0):
    """Waits (at most max_seconds) until the rest of the machine uses less than
    limit % of one CPU over half a second; returns the seconds waited beyond
    that first half second. Other
    sessions build and test on this machine, and their bursts skew a run."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < max_seconds:
        b0 = machine_busy()
        time.sleep(0.5)
        if 100.0 * (machine_busy() - b0) / CLK_TCK / 0.5 < limit:
            break
    return max(0.0, time.monotonic() - t0 - 0.5)


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st and int(st[1]) == pid:
                out.append(int(d))
    return sorted(out)


def vmrss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for pid %d" % pid)


def nfds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0


def die_with_parent():
    """In the child before exec: SIGTERM when this script dies, even by SIGKILL
    (prctl PR_SET_PDEATHSIG), so that no daemon outlives the bench."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)


class Daemon:
    """One started daemon: its main pid, the pids that do the work, its port(s)."""

    registry = []  # every Daemon started and not yet stopped
    pidfile = None  # the work dir's list of "pid starttime" for scripts/bench's trap

    def __init__(self, name, argv, workdir, port, nworkers=0, env=None):
        self.name, self.port, self.workdir = name, port, workdir
        self.logf = open(os.path.join(workdir, "stdout.log"), "ab")
        # A session of its own: Ctrl-C reaches this script, which stops it by pid.
        self.proc = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=env,
                                     preexec_fn=die_with_parent)
        self.pid = self.proc.pid
        self.child_starts = {}  # worker pid -> its start time, to kill only that process
        self._record(self.pid)
        Daemon.registry.append(self)
        self.workers = [self.pid]
        self.ports = [port]
        self.nworkers = nworkers

    def _record(self, pid):
        t = start_time(pid)
        if t and Daemon.pidfile:
            with open(Daemon.pidfile, "a") as f:
                f.write("%d %s\n" % (pid, t))

    def wait_ready(self, extra_ports=(), timeout=15.0):
        """Waits until every port accepts and, for master/worker daemons, the
        workers exist; records the worker pids."""
        deadline = time.monotonic() + timeout
        for port in [self.port] + list(extra_ports):
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError("%s exited with status %s:\n%s" %
                                       (self.name, self.proc.returncode, self.logs()))
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("%s: port %d not ready" % (self.name, port))
                    time.sleep(0.05)
        self.ports += list(extra_ports)
        if self.nworkers:
            while True:
                kids = children(self.pid)
                if len(kids) >= self.nworkers:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("%s: %d of %d workers" % (self.name, len(kids),
                                                                 self.nworkers))
                time.sleep(0.05)
            self.workers = kids
            for k in kids:
                self._record(k)
                self.child_starts[k] = start_time(k)
        return self

    def logs(self):
        """The end of every log file in the daemon's directory, for an error message."""
        out = []
        for f in sorted(os.listdir(self.workdir)):
            if f.endswith(".log"):
                with open(os.path.join(self.workdir, f), errors="replace") as fh:
                    out.append("%s: %s" % (f, "".join(fh.readlines()[-15:])))
        return "\n".join(out)

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        # Workers go with their master; any still there after 3 s are killed.
        deadline = time.monotonic() + 3
        for pid, st in self.child_starts.items():
            while start_time(pid) == st and time.monotonic() < deadline:
                time.sleep(0.05)
            if start_time(pid) == st:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.logf.close()
        if self in Daemon.registry:
            Daemon.registry.remove(self)

    @classmethod
    def stop_all(cls):
        for d in reversed(list(cls.registry)):
            try:
                d.stop()
            except Exception as e:  # keep stopping the others
                log("stopping %s: %s" % (d.name, e))


# ---- configuration ---------------------------------------------------------


class Scraper:
    """GET /metrics on 127.0.0.1:port every 0.1 s in a thread of its own,
    until stop(); counts the scrapes that got a 200."""

    def __init__(self, port):
        import threading
        self.port, self.ok, self.bad = port, 0, 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.wait(0.1):
            try:
                if fetch_metrics(self.port, 2).startswith(b"HTTP/1.1 200"):
                    self.ok += 1
                else:
                    self.bad += 1
            except OSError:
                self.bad += 1

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        return self.ok, self.bad


def free_ports(n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def client_hello(name):
    """The first flight of a TLS client for name: the ClientHello record that
    Python's ssl module (OpenSSL) writes, TLS 1.3 with a key share and the
    server_name extension. The same bytes are sent on every connection; a
    server answers a replayed ClientHello as it answers a fresh one."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=name)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    if hello[:1] != b"\x16" or name.encode() not in hello:
        raise RuntimeError("no ClientHello for %s from the ssl module" % name)
    return hello


def fetch_metrics(port, timeout):
    """The whole answer, head and body, to GET /metrics on 127.0.0.1:port."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                return got
            got += chunk


def scrape(port):
    """warpd's /metrics on 127.0.0.1:port as {"name{labels}": value}."""
    head, _, body = fetch_metrics(port, 5).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError("metrics on port %d: %r" % (port, head[:60]))
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            out[k] = float(v)
    return out


def by_strategy(before, after, family):
    """What a family of counters labelled by strategy grew by, nonzero ones only."""
    out = {}
    for k, v in after.items():
        if k.startswith(family + "{"):
            d = v - before.get(k, 0)
            if d:
                out[k.split('"')[1]] = int(d)
    return out


def render(template, dest, **values):
    with open(os.path.join(BENCH, "conf", template)) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace("@%s@" % k, str(v))
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise RuntimeError("%s: unfilled %s" % (template, left))
    with open(dest, "w") as f:
        f.write(text)
    return dest


class Bench:
    def __init__(self, args):
        self.a = args
        self.work = args.work
        self.nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        self.maxconn = 20000
        self.seq = 0
        self.waited = 0.0  # seconds spent waiting for the machine to be quiet

    def newdir(self, name):
        self.seq += 1
        d = os.path.join(self.work, "%02d-%s" % (self.seq, name))
        os.makedirs(d)
        os.chmod(d, 0o755)
        return d

    def haproxy_maxconn(self):
        """HAProxy refuses to start unless the open-file limit covers two
        descriptors per connection (client and server side) plus a few."""
        return min(self.maxconn, (self.nofile - 100) // 2)

    # ---- starting each kind of daemon ----

    def start_origin(self):
        d = self.newdir("origin")
        www = os.path.join(d, "www")
        os.makedirs(www)
        for name, size in FILES.items():
            with open(os.path.join(www, name), "wb") as f:
                left = size
                while left:
                    chunk = os.urandom(min(left, 1 << 20))
                    f.write(chunk)
                    left -= len(chunk)
        os.chmod(www, 0o755)
        for name in FILES:
            os.chmod(os.path.join(www, name), 0o644)
        port = free_ports(1)[0]
        conf = render("origin-nginx.conf.in", os.path.join(d, "nginx.conf"), DIR=d, WWW=www,
                      PORT=port, NOFILE=self.nofile, MAXCONN=self.maxconn,
                      USER_LINE="user root;" if IS_ROOT else "")
        return Daemon("origin", ["nginx", "-p", d, "-c", conf], d, port,
                      nworkers=1).wait_ready()

    def start_warpd(self, name, mode, workers=1, shape="off", connect_ports="443", extra=""):
        d = self.newdir(name)
        port = free_ports(1)[0]
        up = "upstream 127.0.0.1:%d" % self.origin.port if mode != "forward" else ""
        conf = render("warpd.conf.in", os.path.join(d, "warpd.conf"), DIR=d, PORT=port,
                      MODE=mode, UPSTREAM_LINE=up, WORKERS=workers, SHAPE=shape,
                      CONNECT_PORTS=connect_ports, MAXCONN=self.maxconn, EXTRA="")
        # A directive in extra replaces the template's line of the same name
        # (warpd refuses a directive given twice).
        given = {line.split()[0] for line in extra.splitlines() if line.strip()}
        with open(conf) as f:
            lines = [x for x in f if not x.split() or x.split()[0] not in given]
        with open(conf, "w") as f:
            f.writelines(lines)
            f.write(extra + "\n")
        return Daemon(name, [self.a.warpd, "-c", conf], d, port,
                      nworkers=workers).wait_ready()

    def start_relayfloor(self, pieces):
        """bench/relayfloor.c: the least a forward proxy can do, sending the
        origin the head warpd sends, whole (1) or cut as split cuts it (3)."""
        exe = os.path.join(self.work, "relayfloor")
        if not os.path.exists(exe):
            subprocess.run([os.environ.get("CC", "cc"), "-O2", "-Wall", "-o", exe,
                            os.path.join(BENCH, "relayfloor.c")], check=True)
        d = self.newdir("relayfloor-%d" % pieces)
        port = free_ports(1)[0]
        return Daemon("relayfloor-%d" % pieces, [exe, str(port), str(self.origin.port), "/small",
                                                  str(pieces)], d, port).wait_ready()

    def start_splicefloor(self):
        """bench/splicefloor.c: the least a TCP relay does (blocking splice,
        a thread per direction), to the origin."""
        exe = os.path.join(self.work, "splicefloor")
        if not os.path.exists(exe):
            subprocess.run([os.environ.get("CC", "cc"), "-O2", "-Wall", "-pthread", "-o", exe,
                            os.path.join(BENCH, "splicefloor.c")], check=True)
        d = self.newdir("splicefloor")
        port = free_ports(1)[0]
        return Daemon("splicefloor", [exe, str(port), str(self.origin.port)], d,
                      port).wait_ready()

    def start_warpd_defaults(self, name, args):
        """warpd as a user starts it: no config file, only the listen port and
        args (the mode and upstream). Everything else is the default: one
        worker per CPU, the upstream pool, shaping, and the access log to
        stderr (here the daemon's stdout.log)."""
        d = self.newdir(name)
        port = free_ports(1)[0]
        return Daemon(name, [self.a.warpd, "-l", "127.0.0.1:%d" % port] + args, d, port,
                      nworkers=max(1, min(64, os.cpu_count() or 1))).wait_ready()

    def start_nginx_proxy(self, name="nginx"):
        d = self.newdir(name)
        port = free_ports(1)[0]
        conf = render("nginx-proxy.conf.in", os.path.join(d, "nginx.conf"), DIR=d, PORT=port,
                      ORIGIN=self.origin.port, NOFILE=self.nofile, MAXCONN=self.maxconn,
                      USER_LINE="user root;" if IS_ROOT else "")
        return Daemon(name, ["nginx", "-p", d, "-c", conf], d, port, nworkers=1).wait_ready()

    def start_haproxy(self, name="haproxy"):
        d = self.newdir(name)
        port, tport = free_ports(2)
        conf = render("haproxy.cfg.in", os.path.join(d, "haproxy.cfg"), PORT=port, TCPPORT=tport,
                      ORIGIN=self.origin.port, MAXCONN=self.haproxy_maxconn())
        h = Daemon(name, ["haproxy", "-db", "-f", conf], d, port).wait_ready([tport])
        h.tcp_port = tport
        return h

    def start_squid(self):
        d = self.newdir("squid")
        port = free_ports(1)[0]
        user = ""
        if IS_ROOT:
            # squid will not run as root; its files go where its user can write.
            user = "cache_effective_user proxy"
            shutil.chown(d, "proxy", "proxy")
        conf = render("squid.conf.in", os.path.join(d, "squid.conf"), DIR=d, PORT=port,
                      NOFILE=self.nofile, USER_LINE=user)
        return Daemon("squid", ["squid", "-N", "-f", conf], d, port).wait_ready(timeout=30)

    def start_tinyproxy(self):
        d = self.newdir("tinyproxy")
        port = free_ports(1)[0]
        conf = render("tinyproxy.conf.in", os.path.join(d, "tinyproxy.conf"), DIR=d, PORT=port,
                      USER_LINE="User root\nGroup root" if IS_ROOT else "")
        return Daemon("tinyproxy", ["tinyproxy", "-d", "-c", conf], d, port).wait_ready()

    # ---- measuring ----

    def curl(self, url, proxy=None, tunnel=False, out="/dev/null", max_time=60, socks=None):
        argv = ["curl", "-s", "-o", out, "--max-time", str(max_time),
                "-w", "%{http_code} %{size_download} %{time_total}"]
        if proxy:
            argv += ["-x", "http://127.0.0.1:%d" % proxy]
        if socks:
            argv += ["--socks5", "127.0.0.1:%d" % socks]
        if tunnel:
            argv.append("-p")
        r = subprocess.run(argv + [url], capture_output=True, text=True, timeout=max_time + 5)
        code, size, t = r.stdout.split()
        return int(code), int(size), float(t)

    def check(self, name, url, proxy=None, tunnel=False):
        """One request for the small body and one for 1 MiB through a contender."""
        body = os.path.join(self.work, "check.body")
        code, size, _ = self.curl(url + "/small", proxy, tunnel, out=body, max_time=10)
        with open(body, "rb") as f:
            got = f.read()
        if code != 200 or got != SMALL_BODY:
            raise RuntimeError("%s: /small gave %d %r" % (name, code, got[:80]))
        code, size, _ = self.curl(url + "/1m", proxy, tunnel, max_time=10)
        if code != 200 or size != FILES["1m"]:
            raise RuntimeError("%s: /1m gave %d, %d bytes" % (name, code, size))

    def wrk(self, c, duration, threads=None, conns=None):
        """Runs wrk on a contender; returns rates, latencies and CPU use."""
        threads = threads or c["threads"]
        conns = conns or c["conns"]
        env = dict(os.environ, BENCH_ABSOLUTE=c.get("absolute", ""))
        argv = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % duration, "--latency",
                "--timeout", "5s", "-s", os.path.join(BENCH, "wrk.lua"), c["url"]]
        watched = {"proxy": c["cpu_pids"], "origin": self.origin.workers}
        before = {k: sum(cpu_ticks(p) for p in v) for k, v in watched.items()}
        sys0 = sum(sys_ticks(p) for p in c["cpu_pids"])
        busy0 = machine_busy()
        segs0 = tcp_out_segs()
        t0 = time.monotonic()
        outpath = os.path.join(self.work, "wrk.out")
        with open(outpath, "w") as out:
            p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
            deadline = t0 + duration + 20
            try:
                while True:
                    pid, status, ru = os.wait4(p.pid, os.WNOHANG)
                    if pid:
                        break
                    if time.monotonic() > deadline:
                        p.kill()
                        pid, status, ru = os.wait4(p.pid, 0)
                        break
                    time.sleep(0.05)
            except BaseException:  # interrupted: wrk goes too
                p.kill()
                os.wait4(p.pid, 0)
                raise
            p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - t0
        busy = machine_busy() - busy0
        segs = tcp_out_segs() - segs0
        after = {k: sum(cpu_ticks(p) for p in v) for k, v in watched.items()}
        proxy_sys = 100.0 * (sum(sys_ticks(p) for p in c["cpu_pids"]) - sys0) / CLK_TCK / wall
        with open(outpath) as f:
            text = f.read()
        m = re.search(r"^BENCH (\{.*\})$", text, re.M)
        if p.returncode != 0 or not m:
            raise RuntimeError("wrk on %s failed (%s):\n%s" % (c["name"], p.returncode, text))
        r = json.loads(m.group(1))
        r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
        r["errors"] = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
        r["cpu"] = {k: 100.0 * (after[k] - before[k]) / CLK_TCK / wall for k in watched}
        r["cpu"]["wrk"] = 100.0 * (ru.ru_utime + ru.ru_stime) / wall
        # What the rest of the machine used meanwhile (the origin's master,
        # kernel threads, this script's polling, and other people's jobs).
        r["cpu"]["other"] = max(0.0, 100.0 * busy / CLK_TCK / wall - sum(r["cpu"].values()))
        r["proxy_sys"] = proxy_sys
        # Every TCP segment sent on the machine (all of it loopback: wrk to
        # the proxy, proxy to origin and back), per request.
        r["segs"] = segs / r["requests"] if r["requests"] else 0.0
        return r

    def segfloor(self, pieces, duration):
        """bench/segfloor.c against the origin: heads sent whole (1) or cut
        as split cuts them (3), by a sender that does nothing else. Its CPU
        per request, req/s and segments per request."""
        exe = os.path.join(self.work, "segfloor")
        if not os.path.exists(exe):
            subprocess.run([os.environ.get("CC", "cc"), "-O2", "-Wall", "-o", exe,
                            os.path.join(BENCH, "segfloor.c")], check=True)
        wait_quiet(self.quiet_budget(10))
        o0 = sum(cpu_ticks(p) for p in self.origin.workers)
        segs0 = tcp_out_segs()
        out = subprocess.run([exe, str(self.origin.port), "/small", "50", str(duration),
                              str(pieces)], check=True, capture_output=True, text=True,
                             timeout=duration + 20).stdout
        segs = tcp_out_segs() - segs0
        o1 = sum(cpu_ticks(p) for p in self.origin.workers)
        r = json.loads(out)
        n = max(r["requests"], 1)
        return {"pieces": pieces, "rps": r["requests"] / r["seconds"],
                "us_per_req": r["cpu_s"] * 1e6 / n, "segs": segs / n,
                "origin_us_per_req": (o1 - o0) / CLK_TCK * 1e6 / n}

    def tunnels(self, kind, proxy, duration):
        """bench/tunnels.c: new tunnels per second through proxy (socks5 or
        connect), 20 at a time, each carrying one GET /small; with the
        proxy's CPU time per tunnel."""
        exe = os.path.join(self.work, "tunnels")
        if not os.path.exists(exe):
            subprocess.run([os.environ.get("CC", "cc"), "-O2", "-Wall", "-o", exe,
                            os.path.join(BENCH, "tunnels.c")], check=True)
        wait_quiet(self.quiet_budget(10))
        p0 = sum(cpu_ticks(p) for p in proxy.workers)
        out = subprocess.run([exe, str(proxy.port), str(self.origin.port), kind, "20",
                              str(duration)], check=True, capture_output=True, text=True,
                             timeout=duration + 20).stdout
        p1 = sum(cpu_ticks(p) for p in proxy.workers)
        r = json.loads(out)
        n = max(r["tunnels"], 1)
        return {"kind": kind, "per_sec": r["per_sec"], "failed": r["failed"],
                "us_per_tunnel": (p1 - p0) / CLK_TCK * 1e6 / n}

    def start_tls_origin(self):
        """nginx answering TLS on a port of its own, with a self-signed ECDSA
        certificate made here, and a ClientHello for it in hello.bin."""
        d = self.newdir("origin-tls")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                        "-subj", "/CN=%s" % TLS_NAME, "-keyout", os.path.join(d, "key.pem"),
                        "-out", os.path.join(d, "cert.pem")], check=True, capture_output=True,
                       timeout=30)
        port = free_ports(1)[0]
        conf = render("origin-tls-nginx.conf.in", os.path.join(d, "nginx.conf"), DIR=d, PORT=port,
                      USER_LINE="user root;" if IS_ROOT else "")
        o = Daemon("origin-tls", ["nginx", "-p", d, "-c", conf], d, port,
                   nworkers=1).wait_ready()
        o.hello = os.path.join(d, "hello.bin")
        with open(o.hello, "wb") as f:
            f.write(client_hello(TLS_NAME))
        return o

    def ttfb(self, target, count, seconds, least, hello, contenders, quiet=True):
        """bench/ttfb.c: new connections, one at a time, to each contender in
        turn (kind, port, pids of its workers), count each (or seconds'
        worth, at least least), each timed to the first byte of its answer.
        Per contender: percentiles, failures, answers, and the CPU time its
        workers used meanwhile, per connection. quiet: wait for the machine
        to calm down first."""
        exe = os.path.join(self.work, "ttfb")
        if not os.path.exists(exe):
            subprocess.run([os.environ.get("CC", "cc"), "-O2", "-Wall", "-o", exe,
                            os.path.join(BENCH, "ttfb.c")], check=True)
        if quiet:
            self.waited += wait_quiet(self.quiet_budget(10))
        argv = [exe, str(target), str(count), str(seconds), str(least), hello or "-"]
        argv += ["%s:%d" % (kind, port) for kind, port, _ in contenders]
        c0 = [sum(cpu_ns(p) for p in pids) for _, _, pids in contenders]
        out = subprocess.run(argv, check=True, capture_output=True, text=True,
                             timeout=3 * seconds + 30).stdout
        c1 = [sum(cpu_ns(p) for p in pids) for _, _, pids in contenders]
        got = json.loads(out)
        results = []
        for (kind, port, pids), r, a, z in zip(contenders, got["contenders"], c0, c1):
            us = sorted(r.pop("samples_us"))
            n = len(us)
            r["n"] = n
            if n:  # else no answer at all: only the failures count
                r.update({"p50_us": statistics.median(us),
                          "p90_us": us[min(n - 1, n * 9 // 10)], "min_us": us[0],
                          "max_us": us[-1], "mean_us": statistics.fmean(us),
                          # per connection tried, a stalled one included
                          "cpu_us": (z - a) / 1e3 / (n + r["failed"]) if pids else None})
            results.append(r)
        return results

    def wrk_quiet(self, c, duration):
        """A wrk run, repeated (twice at most) when other processes took more
        than 30% of a CPU during it; waits for a quiet moment first."""
        waited = wait_quiet(self.quiet_budget(10))
        r = self.wrk(c, duration)
        r["tries"] = 1
        while r["cpu"]["other"] > 30 and r["tries"] < 3:
            waited += wait_quiet(self.quiet_budget(20))
            tries = r["tries"]
            r = self.wrk(c, duration)
            r["tries"] = tries + 1
        r["waited"] = waited
        self.waited += waited
        return r

    def quiet_budget(self, want):
        """Seconds we may still wait for quiet: the whole run stays bounded."""
        return max(0.0, min(want, self.a.max_wait - self.waited))

    def bulk_once(self, path):
        ticks = sum(cpu_ticks(p) for p in path["cpu_pids"])
        code, size, t = self.curl("http://127.0.0.1:%d/64m" % path["port"], path.get("proxy"),
                                  path.get("tunnel", False), socks=path.get("socks"))
        ticks = sum(cpu_ticks(p) for p in path["cpu_pids"]) - ticks
        if code != 200 or size != FILES["64m"]:
            raise RuntimeError("%s: 64m gave %d, %d bytes" % (path["name"], code, size))
        return size / t / 1e6, ticks / CLK_TCK

    def strace(self, pids, action):
        """Counts the syscalls of pids (all their threads) while action() runs;
        returns action's result and {syscall: (calls, errors)}."""
        out = os.path.join(self.work, "strace.out")
        argv = ["strace", "-c", "-f", "-qq", "-o", out]
        for pid in pids:
            argv += ["-p", str(pid)]
        st = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)  # attached by then
            result = action()
        finally:
            st.send_signal(signal.SIGINT)
            try:
                st.wait(timeout=10)
            except subprocess.TimeoutExpired:
                st.kill()
                st.wait()
        calls = {}
        with open(out) as f:
            for line in f:
                t = line.split()
                if len(t) >= 5 and t[0][0].isdigit() and t[-1] != "total":
                    calls[t[-1]] = (int(t[3]), int(t[4]) if len(t) == 6 else 0)
        return result, calls

    def hold(self, port, n, payload):
        """Opens n connections to port (sending payload on each); returns them."""
        socks = []
        linger = struct.pack("ii", 1, 0)
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # Close with a reset: no TIME_WAIT left over for the next test.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            s.settimeout(10)
            s.connect(("127.0.0.1", port))
            if payload:
                s.sendall(payload)
            socks.append(s)
        return socks

    def memory(self, name, start, n, payload):
        """RSS growth of a fresh daemon's worker per held connection."""
        dmn = start()
        try:
            worker = dmn.workers[0]
            # A few requests first, so that one-time set-up is not counted.
            warm = ["http://127.0.0.1:%d/small" % dmn.port] * 20
            subprocess.run(["curl", "-s"] + warm, stdout=subprocess.DEVNULL, timeout=20,
                           check=True)
            time.sleep(0.3)
            base_rss, base_fds = vmrss(worker), nfds(worker)
            t0 = time.monotonic()
            socks = self.hold(dmn.port, n, payload)
            try:
                # Wait until the worker accepted them all, then until RSS settles.
                deadline = time.monotonic() + 30
                while nfds(worker) < base_fds + n and time.monotonic() < deadline:
                    time.sleep(0.1)
                accepted = nfds(worker) - base_fds
                last = -1
                for _ in range(20):
                    time.sleep(0.25)
                    rss = vmrss(worker)
                    if rss == last:
                        break
                    last = rss
                alive = self.count_alive(socks)
            finally:
                for s in socks:
                    s.close()
            took = time.monotonic() - t0
        finally:
            dmn.stop()
        return {"base": base_rss, "after": rss, "per_conn": (rss - base_rss) / n, "n": n,
                "accepted": accepted, "alive": alive, "seconds": took}

    @staticmethod
    def count_alive(socks):
        """Connections the server has not closed or answered (so still held)."""
        alive = 0
        for s in socks:
            s.setblocking(False)
            try:
                s.recv(1, socket.MSG_PEEK)
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
        return alive


# ---- the run ---------------------------------------------------------------


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(), "load": load}


def versions(warpd):
    def first(argv, pattern):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        except OSError:
            return "?"
        m = re.search(pattern, r.stdout + r.stderr)
        return m.group(1) if m else "?"

    return {
        "warpd": first([warpd, "-V"], r"(\S*\d\S*)"),
        "nginx": first(["nginx", "-v"], r"nginx/(\S+)"),
        "haproxy": first(["haproxy", "-v"], r"version (\S+)"),
        "squid": first(["squid", "-v"], r"Version (\S+)"),
        "tinyproxy": first(["tinyproxy", "-v"], r"tinyproxy (\S+)"),
        "wrk": first(["wrk", "-v"], r"wrk (\S+)"),
        "curl": first(["curl", "-V"], r"curl (\S+)"),
    }


def git_head():
    try:
        r = subprocess.run(["git", "-C", TOP, "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True, timeout=10)
        head = r.stdout.strip() or "?"
        r = subprocess.run(["git", "-C", TOP, "status", "--porcelain", "--", "src"],
                           capture_output=True, text=True, timeout=10)
        return head + (" (src/ modified)" if r.stdout.strip() else "")
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser(description="warpd benchmark (run it through scripts/bench)")
    ap.add_argument("--work", required=True, help="work directory (made by scripts/bench)")
    ap.add_argument("--warpd", required=True, help="the warpd binary")
    ap.add_argument("--quick", action="store_true", help="1 round, short durations")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--duration", type=int, help="seconds per wrk run")
    ap.add_argument("--bulk-reps", type=int, help="64 MiB downloads per path per round")
    ap.add_argument("--conns", type=int, default=MEM_CONNS, help="connections held for memory")
    ap.add_argument("--out", help="directory for results.md and results.png")
    ap.add_argument("--max-wait", type=float, default=150,
                    help="seconds in all to wait for other processes to calm down")
    ap.add_argument("--rows", help="requests/s rows to run, by key (e.g. warpd_rev,nginx,haproxy)")
    ap.add_argument("--only", default="rps,bulk,tunnels,shape,mem,profile",
                    help="parts to run, of rps,bulk,tunnels,shape,mem,profile (profile needs "
                    "rps or bulk)")
    a = ap.parse_args()
    # Loopback figures on this kind of VM swing by tens of percent from one
    # second to the next, so many short rounds beat a few long ones.
    a.rounds = a.rounds or (1 if a.quick else 7)
    a.duration = a.duration or (2 if a.quick else 4)
    a.bulk_reps = a.bulk_reps or (3 if a.quick else 8)
    if not a.out:
        a.out = os.path.join(os.environ.get("TMPDIR", "/tmp"), "warpd-bench-quick") \
            if a.quick else BENCH
    os.makedirs(a.out, exist_ok=True)
    parts = set(a.only.split(","))

    # Daemons inherit this; 10 000 held connections need more than 1024 fds.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(hard, 65536) if IS_ROOT else hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < a.conns + 100:
        a.conns = resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 100
        log("open-file limit too low: memory test with %d connections" % a.conns)

    Daemon.pidfile = os.path.join(a.work, "pids")

    def on_term(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)

    signal.signal(signal.SIGTERM, on_term)
    info = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": git_head(), "machine": machine(), "versions": versions(a.warpd),
            "rounds": a.rounds, "duration": a.duration, "bulk_reps": a.bulk_reps,
            "conns": a.conns, "quick": a.quick,
            "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}
    t_start = time.monotonic()
    b = Bench(a)
    res = {"info": info}
    try:
        b.origin = b.start_origin()
        if parts & {"rps", "bulk", "tunnels", "profile"}:
            run_traffic(b, a, res, parts)
        if "shape" in parts:
            run_shape(b, a, res)
        if "mem" in parts:
            run_memory(b, a, res)
    finally:
        Daemon.stop_all()
    info["elapsed"] = time.monotonic() - t_start
    info["waited"] = b.waited
    # The raw figures, beside results.md: report.py can redraw from them.
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    import report  # bench/report.py: tables and chart

    md = report.write(res, a.out, a.work)
    print(md)
    log("wrote %s and %s" % (os.path.join(a.out, "results.md"),
                             os.path.join(a.out, "results.png")))


def run_traffic(b, a, res, parts):
    log("starting the contenders")
    o = b.origin.port
    base = "http://127.0.0.1:%d" % o
    rev = b.start_warpd("warpd-reverse", "reverse")
    rev2 = b.start_warpd("warpd-reverse-w2", "reverse", workers=2)
    fwd = b.start_warpd("warpd-forward", "forward", connect_ports="any")
    split = b.start_warpd("warpd-forward-split", "forward", shape="split")
    # Not a budget row: what shaping only the first request of each upstream
    # connection (shape_reused off) costs, beside the default above.
    split1 = b.start_warpd("warpd-forward-split-first", "forward", shape="split",
                           extra="shape_reused off")
    tcp = b.start_warpd("warpd-tcp", "tcp")
    # Issue 14: the floor under the bulk rows, the least a relay does.
    sfl = b.start_splicefloor() if "bulk" in parts else None
    # Issue 13: the metrics page on and scraped ten times a second during
    # the whole run, against warpd_rev (the counters themselves are always
    # on: this row prices serving and scraping the page).
    mport = free_ports(1)[0]
    met = b.start_warpd("warpd-reverse-metrics", "reverse",
                        extra="stats_listen 127.0.0.1:%d" % mport)
    # DESIGN.md section 6: the defaults within 10% of the tuned rows above.
    defrev = b.start_warpd_defaults("warpd-defaults-reverse",
                                    ["-m", "reverse", "-u", "127.0.0.1:%d" % o])
    deffwd = b.start_warpd_defaults("warpd-defaults-forward", [])
    ngx = b.start_nginx_proxy()
    hap = b.start_haproxy()
    sq = b.start_squid() if "rps" in parts else None
    tiny = b.start_tinyproxy() if "rps" in parts else None
    # Issue 14: what cutting the head costs the least a proxy can do, under
    # the same scheduling as warpd (wrk, proxy and origin on the machine).
    rf1 = b.start_relayfloor(1) if "rps" in parts else None
    rf3 = b.start_relayfloor(3) if "rps" in parts else None

    def at(d):
        return "http://127.0.0.1:%d" % d.port

    checks = [("direct", base, None), ("warpd reverse", at(rev), None),
              ("warpd reverse w2", at(rev2), None), ("nginx", at(ngx), None),
              ("haproxy", at(hap), None), ("warpd forward", base, fwd.port),
              ("warpd forward split", base, split.port),
              ("warpd forward split, shape_reused off", base, split1.port),
              ("warpd defaults reverse", at(defrev), None),
              ("warpd defaults forward", base, deffwd.port)]
    if sq:
        checks += [("squid", base, sq.port), ("tinyproxy", base, tiny.port)]
    # relayfloor answers every request with /small (it sends a fixed head):
    # wrk's error count shows any answer that is not a 200.
    for name, url, proxy in checks:
        b.check(name, url, proxy)
    b.check("warpd CONNECT", base, fwd.port, tunnel=True)
    b.check("warpd tcp", "http://127.0.0.1:%d" % tcp.port)
    b.check("haproxy tcp", "http://127.0.0.1:%d" % hap.tcp_port)
    log("every contender answers correctly")

    if "rps" in parts:
        absolute = base + "/small"
        # /varied is /small with an X-Request-Id field that differs in every
        # response: no two response heads are equal, as in real traffic, so
        # nothing a proxy remembers of earlier heads can spare it any work.
        rows = [
            ("direct", "origin (direct, the limit)", at(b.origin), b.origin, "", 1, 50, "/small"),
            ("warpd_rev", "warpd reverse", at(rev), rev, "", 1, 50, "/small"),
            ("nginx", "nginx proxy_pass", at(ngx), ngx, "", 1, 50, "/small"),
            ("haproxy", "HAProxy mode http", at(hap), hap, "", 1, 50, "/small"),
            ("warpd_rev_var", "warpd reverse, /varied", at(rev), rev, "", 1, 50, "/varied"),
            ("nginx_var", "nginx proxy_pass, /varied", at(ngx), ngx, "", 1, 50, "/varied"),
            ("haproxy_var", "HAProxy mode http, /varied", at(hap), hap, "", 1, 50, "/varied"),
            ("warpd_fwd", "warpd forward, shape off", at(fwd), fwd, absolute, 1, 50, "/small"),
            ("warpd_split", "warpd forward, shape split", at(split), split, absolute, 1, 50,
             "/small"),
            ("warpd_split1", "warpd forward, split, shape_reused off", at(split1), split1,
             absolute, 1, 50, "/small"),
            ("relay_whole", "relayfloor.c, head whole (the least a proxy does)", at(rf1), rf1,
             absolute, 1, 50, "/small"),
            ("relay_split", "relayfloor.c, head cut as split cuts it", at(rf3), rf3, absolute, 1,
             50, "/small"),
            ("squid", "squid", at(sq), sq, absolute, 1, 50, "/small"),
            ("tinyproxy", "tinyproxy", at(tiny), tiny, absolute, 1, 50, "/small"),
            ("rev_w2", "warpd reverse, 2 workers", at(rev2), rev2, "", 1, 50, "/small"),
            # No config file: compared with warpd_rev and, forward being
            # shaped by default, with warpd_split.
            ("defaults_rev", "warpd reverse, defaults (no config file)", at(defrev), defrev, "",
             1, 50, "/small"),
            ("defaults_fwd", "warpd forward, defaults (no config file)", at(deffwd), deffwd,
             absolute, 1, 50, "/small"),
            ("metrics_rev", "warpd reverse, /metrics scraped 10/s", at(met), met, "", 1, 50,
             "/small"),
            ("rev_w1_c100", "warpd reverse, 1 worker, -t2 -c100", at(rev), rev, "", 2, 100,
             "/small"),
            ("rev_w2_c100", "warpd reverse, 2 workers, -t2 -c100", at(rev2), rev2, "", 2, 100,
             "/small"),
        ]
        contenders = []
        for key, label, url, dmn, absu, t, c, path in rows:
            contenders.append({"key": key, "name": label, "url": url + path,
                               "absolute": absu, "threads": t, "conns": c,
                               "cpu_pids": [] if dmn is b.origin else dmn.workers})
        if a.rows:
            keep = set(a.rows.split(","))
            unknown = keep - {c["key"] for c in contenders}
            if unknown:
                raise SystemExit("bench.py: unknown --rows key(s): %s" % ",".join(sorted(unknown)))
            contenders = [c for c in contenders if c["key"] in keep]
        log("warm-up: 1 s per contender")
        for c in contenders:
            b.wrk(c, 1)
        runs = {c["key"]: [] for c in contenders}
        for rnd in range(a.rounds):
            k = rnd * 3 % len(contenders)
            order = contenders[k:] + contenders[:k]
            if rnd % 2:
                order.reverse()
            for c in order:
                scraper = Scraper(mport) if c["key"] == "metrics_rev" else None
                r = b.wrk_quiet(c, a.duration)
                if scraper is not None:
                    r["scrapes"], r["scrapes_bad"] = scraper.stop()
                runs[c["key"]].append(r)
                log("round %d/%d %-36s %7.0f req/s p50 %5.0f us p99 %6.0f us cpu %s "
                    "(proxy sys %.0f%%)%s%s%s" % (
                    rnd + 1, a.rounds, c["name"], r["rps"], r["p50_us"], r["p99_us"],
                    " ".join("%s=%.0f%%" % kv for kv in r["cpu"].items()), r["proxy_sys"],
                    " (try %d)" % r["tries"] if r["tries"] > 1 else "",
                    "  errors %d" % (r["errors"] - r["read"]) if r["errors"] > r["read"] else "",
                    "  server closes %d" % r["read"] if r["read"] else ""))
        res["rps"] = [{"key": c["key"], "name": c["name"], "threads": c["threads"],
                       "conns": c["conns"], "runs": runs[c["key"]]} for c in contenders]
        if "warpd_split" in runs:
            # The floor under split's cost: the same cut, made by a sender
            # that does nothing else, against the same origin.
            floor = {1: [], 3: []}
            for rnd in range(a.rounds):
                for pieces in ((1, 3) if rnd % 2 == 0 else (3, 1)):
                    floor[pieces].append(b.segfloor(pieces, a.duration))
                log("round %d/%d segfloor: 1 piece %.0f req/s %.1f us/req, 3 pieces %.0f req/s "
                    "%.1f us/req" % (rnd + 1, a.rounds, floor[1][-1]["rps"],
                                     floor[1][-1]["us_per_req"], floor[3][-1]["rps"],
                                     floor[3][-1]["us_per_req"]))
            res["floor"] = {str(k): v for k, v in floor.items()}

    if "tunnels" in parts:
        tun = {"socks5": [], "connect": []}
        for rnd in range(a.rounds):
            for kind in (("socks5", "connect") if rnd % 2 == 0 else ("connect", "socks5")):
                tun[kind].append(b.tunnels(kind, fwd, a.duration))
            log("round %d/%d tunnels: socks5 %.0f/s, connect %.0f/s" % (
                rnd + 1, a.rounds, tun["socks5"][-1]["per_sec"], tun["connect"][-1]["per_sec"]))
        res["tunnels"] = tun
    if "bulk" in parts:
        paths = [
            {"key": "direct", "name": "direct (the limit)", "port": o, "cpu_pids": []},
            {"key": "connect", "name": "warpd CONNECT tunnel", "port": o, "proxy": fwd.port,
             "tunnel": True, "cpu_pids": fwd.workers},
            {"key": "socks5", "name": "warpd SOCKS5 tunnel", "port": o, "socks": fwd.port,
             "cpu_pids": fwd.workers},
            {"key": "tcp", "name": "warpd tcp mode", "port": tcp.port, "cpu_pids": tcp.workers},
            {"key": "haproxy_tcp", "name": "HAProxy mode tcp", "port": hap.tcp_port,
             "cpu_pids": [hap.pid]},
            {"key": "splicefloor", "name": "splicefloor.c (the least a relay does)",
             "port": sfl.port, "cpu_pids": [sfl.pid]},
        ]
        samples = {p["key"]: [] for p in paths}
        for p in paths:  # warm-up: the file into the page cache, buffers allocated
            b.bulk_once(p)
        for rnd in range(a.rounds):
            order = paths[rnd % len(paths):] + paths[:rnd % len(paths)]
            for _ in range(a.bulk_reps):
                b.waited += wait_quiet(b.quiet_budget(3))
                for p in order:
                    samples[p["key"]].append(b.bulk_once(p))
            log("round %d/%d bulk: %s" % (rnd + 1, a.rounds, "  ".join(
                "%s %.0f MB/s" % (p["key"], median([s[0] for s in samples[p["key"]]]))
                for p in paths)))
        res["bulk"] = [{"key": p["key"], "name": p["name"], "samples": samples[p["key"]]}
                       for p in paths]
    if "profile" in parts:
        run_profile(b, a, res, contenders if "rps" in parts else [],
                    paths if "bulk" in parts else [])
    for d in (rev, rev2, fwd, split, split1, tcp, defrev, deffwd, ngx, hap, sq, tiny, rf1, rf3,
              sfl):
        if d:
            d.stop()


def run_shape(b, a, res):
    """Time to the first byte of an answer per shaping strategy, on new
    connections through warpd in forward mode: an HTTP request in absolute
    form to the origin, and a TLS ClientHello through CONNECT to a TLS
    origin; auto measured with a warm cache, beside the strategy it chose."""
    log("shape: starting the TLS origin and one warpd per strategy")
    tls = b.start_tls_origin()
    daemons = {}
    # No upstream pool: every request opens an upstream connection of its
    # own, so each measured flight is the first on its connection, the one a
    # strategy cuts (as a browser's first request to a site). The TLS origin
    # is not on 443: CONNECT shaping looks on every port.
    extra = "upstream_keepalive 0\ntls_split_ports any"
    # auto first, with its stats page: a port found free can be taken by
    # the time warpd binds it (a client's connection meanwhile), so it gets
    # three tries.
    for tries in range(3):
        mport = free_ports(1)[0]
        try:
            daemons["auto"] = b.start_warpd("warpd-shape-auto", "forward", shape="auto",
                                            connect_ports="any", extra=extra +
                                            "\nstats_listen 127.0.0.1:%d" % mport)
            break
        except RuntimeError as e:
            if tries == 2 or "in use" not in str(e):
                raise
    for s in SHAPES:
        if s != "auto":
            daemons[s] = b.start_warpd("warpd-shape-" + s, "forward", shape=s,
                                       connect_ports="any", extra=extra)
    # key: (the kind through warpd, the kind straight to the origin, target, first flight)
    intakes = {"http": ("http", "direct-http", b.origin.port, None),
               "tls": ("connect", "direct-tls", tls.port, tls.hello)}
    count = 300 if a.quick else 500

    def contender(s, key):
        kind, direct, target, _ = intakes[key]
        if s == "direct":
            return (direct, target, ())
        return (kind, daemons[s].port, daemons[s].workers)

    # Warm-up: up to 10 connections each, alone. auto's fill its cache, and
    # its counters say which strategy won for each intake. A contender that
    # took more than 20 ms or lost an answer is measured apart from the
    # others (warp's pauses; any stall), so that it does not hold them up.
    chosen, apart = {}, set()
    for s in ("direct",) + SHAPES:
        for key, (_, _, target, hello) in intakes.items():
            m0 = scrape(mport) if s == "auto" else None
            r = b.ttfb(target, 10, 0.5, 1, hello, [contender(s, key)], quiet=False)[0]
            if r["failed"] or r.get("max_us", 0) > 20000:
                apart.add((s, key))
            if s == "auto":
                wins = by_strategy(m0, scrape(mport), "warpd_shape_auto_wins_total")
                chosen[key] = max(wins, key=wins.get) if wins else None
    log("shape: auto chose %s; measured apart: %s" % (
        ", ".join("%s for %s" % (v, k) for k, v in chosen.items()),
        ", ".join("%s %s" % c for c in sorted(apart)) or "none"))
    combos = [(s, key) for s in ("direct",) + SHAPES for key in intakes]
    runs = {c: [] for c in combos}
    m0 = scrape(mport)
    for rnd in range(a.rounds):
        for key, (_, _, target, hello) in intakes.items():
            together = [c for c in combos if c[1] == key and c not in apart]
            k = rnd * 3 % len(together)
            together = together[k:] + together[:k]
            if rnd % 2:
                together.reverse()
            got = b.ttfb(target, count, a.duration, 5, hello,
                         [contender(*c) for c in together])
            for c, r in zip(together, got):
                runs[c].append(r)
                # A contender that stalled (oob against nginx, say) holds the
                # others up: from the next round on it is measured alone.
                if r["failed"] and c[0] != "direct":
                    apart.add(c)
            for c in [c for c in combos if c[1] == key and c in apart]:
                r = b.ttfb(target, count, a.duration, 5, hello, [contender(*c)])[0]
                r["apart"] = True
                runs[c].append(r)
        log("round %d/%d shape, p50 ms (http/tls): %s" % (rnd + 1, a.rounds, "  ".join(
            "%s %s" % (s, "/".join("%.2f" % (runs[(s, k)][-1]["p50_us"] / 1e3)
                                   if runs[(s, k)][-1]["n"] else "none" for k in intakes))
            for s in ("direct",) + SHAPES)))
    m1 = scrape(mport)
    res["shape"] = {
        "rows": [{"strategy": s, "intake": key, "runs": runs[(s, key)]} for s, key in combos],
        "auto": {"chosen": chosen,
                 # Every try auto made during the measured runs, by strategy:
                 # with a warm cache, only the chosen one.
                 "tries": by_strategy(m0, m1, "warpd_shape_auto_tries_total"),
                 "wins": by_strategy(m0, m1, "warpd_shape_auto_wins_total")},
        "count": count, "hello_bytes": os.path.getsize(tls.hello),
    }
    for d in daemons.values():
        d.stop()
    tls.stop()


def run_profile(b, a, res, contenders, paths):
    """Syscalls per request (and per 64 MiB) under strace -c: separate runs after
    the measurements, since strace slows the traced process several times."""
    res["profile"] = {"rps": [], "bulk": []}
    keys = ("warpd_rev", "nginx", "haproxy", "warpd_fwd", "warpd_split", "squid")
    for c in [c for c in contenders if c["key"] in keys]:
        r, calls = b.strace(c["cpu_pids"], lambda: b.wrk(c, 3))
        res["profile"]["rps"].append({"key": c["key"], "name": c["name"],
                                      "requests": r["requests"], "calls": calls})
        log("profile %-28s %6.1f syscalls/request" % (
            c["name"], sum(v[0] for v in calls.values()) / max(r["requests"], 1)))
    for p in [p for p in paths if p["cpu_pids"]]:
        r, calls = b.strace(p["cpu_pids"], lambda: b.bulk_once(p))
        res["profile"]["bulk"].append({"key": p["key"], "name": p["name"], "calls": calls})
        log("profile %-28s %6d syscalls per 64 MiB" % (
            p["name"], sum(v[0] for v in calls.values())))


def run_memory(b, a, res):
    half = b"GET /small HTTP/1.1\r\nHost: x\r\n"
    daemons = [("warpd", lambda: b.start_warpd("mem-warpd", "reverse")),
               ("nginx", lambda: b.start_nginx_proxy("mem-nginx")),
               ("haproxy", lambda: b.start_haproxy("mem-haproxy"))]
    res["mem"] = []
    for name, start in daemons:
        row = {"name": name}
        n = a.conns
        if name == "haproxy":
            n = min(n, b.haproxy_maxconn() - 50)
            if n < a.conns:
                log("memory: HAProxy can hold only %d connections under the open-file limit %d"
                    % (n, b.nofile))
        for kind, payload in (("idle", b""), ("half", half)):
            m = b.memory(name, start, n, payload)
            row[kind] = m
            log("memory %-8s %-4s: %d -> %d bytes RSS, %.0f B/conn (%d accepted, %d held, %.1f s)"
                % (name, kind, m["base"], m["after"], m["per_conn"], m["accepted"],
                   m["alive"], m["seconds"]))
        res["mem"].append(row)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as e:
        log("interrupted (%s); daemons stopped" % (e or "Ctrl-C"))
        sys.exit(130)
