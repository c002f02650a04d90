"""A routed path of network namespaces for the censor ladder (issue 12):

    client -- router1 -- censor -- router2 -- origin

Loopback never decrements a TTL, so the shaping tricks that count on a packet
dying at a router (disorder, fake) need real hops. Router1 and router2 are
namespaces with ip_forward on; the censor is a namespace whose two interfaces
have no address and are bridged in userspace by censor.py, so that it sees
every frame between the routers, can drop it or inject its own. Addresses are
of the benchmarking range 198.18.0.0/15 and exist only inside these
namespaces. Every name carries the test process's pid; close() removes the
processes (by pid) and the namespaces (by name) it made.

Choices: every veth has an MTU of 65000, so that the kernel never builds a
GSO super-frame from the small flights here (each TCP segment is one frame
that the censor reads whole); the client's default route has rto_min 20ms, so
that a retransmission (disorder, fake) costs tens of milliseconds, not 200."""

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import threading

CLONE_NEWNET = 0x40000000

# The addresses of the path (each /24 is one link).
CLIENT = "198.18.1.1"
ROUTER1_IN = "198.18.1.254"
ROUTER1_OUT = "198.18.2.1"
ROUTER2_IN = "198.18.2.2"
ROUTER2_OUT = "198.18.3.254"
ORIGIN = "198.18.3.1"
MTU = 65000
RTO_MIN_MS = 20


class PathError(Exception):
    pass


def unavailable():
    """None when this process can build the path, else why not."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not root: network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN"
    if not hasattr(socket, "AF_PACKET"):
        return "no AF_PACKET sockets on this system (the censor bridges with them)"
    if not os.access(_ip_cmd(), os.X_OK):
        return "no ip command (iproute2)"
    probe = "wdprobe-%d" % os.getpid()
    r = subprocess.run([_ip_cmd(), "netns", "add", probe], capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        return "cannot make a network namespace: %s" % r.stderr.strip()
    subprocess.run([_ip_cmd(), "netns", "del", probe], capture_output=True, timeout=10)
    return None


def _ip_cmd():
    """The ip command: on PATH, or where Debian puts it."""
    return shutil.which("ip") or shutil.which("ip", path="/usr/sbin:/sbin") or "/usr/sbin/ip"


_libc = None


def _setns(path):
    """Moves the calling thread into the network namespace at path."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns(%s): %s" % (path, os.strerror(e)))
    finally:
        os.close(fd)


class NetPath:
    """The five namespaces, their four links, addresses and routes.

    ns: role -> namespace name ("client", "router1", "censor", "router2",
    "origin"); censor_ifs: (interface towards router1, towards router2)."""

    ROLES = ("client", "router1", "censor", "router2", "origin")

    def __init__(self, tag=None):
        self.tag = tag or str(os.getpid())
        self.ip = _ip_cmd()
        self.ns = {r: "wdcl-%s-%s" % (self.tag, r) for r in self.ROLES}
        p = "wd" + self.tag
        # interface names: at most 15 bytes ("wd" + pid up to 7 digits + 4)
        self.ifs = {
            "client": p + "c",
            "r1a": p + "r1a",
            "r1b": p + "r1b",
            "xa": p + "xa",
            "xb": p + "xb",
            "r2a": p + "r2a",
            "r2b": p + "r2b",
            "origin": p + "o",
        }
        self.censor_ifs = (self.ifs["xa"], self.ifs["xb"])
        self.procs = []  # Popen objects started in the path, stopped by close()
        self.made = []  # namespaces made so far
        self.closed = False

    # ---- building ---------------------------------------------------------

    def sh(self, *argv, check=True, timeout=20):
        r = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise PathError("%s: %s" % (" ".join(argv), (r.stderr or r.stdout).strip()))
        return r

    def nsh(self, role, *argv, check=True):
        """A command inside the namespace of role, to completion."""
        return self.sh(self.ip, "netns", "exec", self.ns[role], *argv, check=check)

    def sysctl(self, role, key, value):
        """Writes /proc/sys/KEY (dots for slashes) in role's namespace, from a
        thread of ours that entered it (procfs's net/ follows the writer)."""
        path = "/proc/sys/" + key.replace(".", "/")

        def write():
            with open(path, "w") as f:
                f.write(str(value))
            with open(path) as f:
                return f.read().strip()

        got = self.call(role, write)
        if got != str(value):
            raise PathError("sysctl %s=%s in %s reads back %r" % (key, value, role, got))

    def up(self):
        """Makes everything; on failure removes what was made and raises."""
        try:
            self._up()
        except BaseException:
            self.close()
            raise
        return self

    def _up(self):
        for role in self.ROLES:
            self.sh(self.ip, "netns", "add", self.ns[role])
            self.made.append(self.ns[role])
        for role in self.ROLES:
            # No IPv6: no router solicitations or neighbour discovery crossing
            # the censor, whose log and capture then hold the test's flows only.
            self.sysctl(role, "net.ipv6.conf.all.disable_ipv6", 1)
            self.sysctl(role, "net.ipv6.conf.default.disable_ipv6", 1)
            self.sh(self.ip, "-n", self.ns[role], "link", "set", "lo", "up")
        links = (
            ("client", "client", "router1", "r1a"),
            ("router1", "r1b", "censor", "xa"),
            ("censor", "xb", "router2", "r2a"),
            ("router2", "r2b", "origin", "origin"),
        )
        for ra, ia, rb, ib in links:
            self.sh(self.ip, "link", "add", self.ifs[ia], "mtu", str(MTU), "netns", self.ns[ra], "type", "veth",
                    "peer", "name", self.ifs[ib], "mtu", str(MTU), "netns", self.ns[rb])
        addrs = (
            ("client", "client", CLIENT),
            ("router1", "r1a", ROUTER1_IN),
            ("router1", "r1b", ROUTER1_OUT),
            ("router2", "r2a", ROUTER2_IN),
            ("router2", "r2b", ROUTER2_OUT),
            ("origin", "origin", ORIGIN),
        )
        for role, i, a in addrs:
            self.sh(self.ip, "-n", self.ns[role], "addr", "add", a + "/24", "dev", self.ifs[i])
        for role, i in (("client", "client"), ("router1", "r1a"), ("router1", "r1b"), ("censor", "xa"),
                        ("censor", "xb"), ("router2", "r2a"), ("router2", "r2b"), ("origin", "origin")):
            self.sh(self.ip, "-n", self.ns[role], "link", "set", self.ifs[i], "up")
        for role in ("router1", "router2"):
            self.sysctl(role, "net.ipv4.ip_forward", 1)
        self.sh(self.ip, "-n", self.ns["client"], "route", "add", "default", "via", ROUTER1_IN,
                "rto_min", "%dms" % RTO_MIN_MS)
        self.sh(self.ip, "-n", self.ns["router1"], "route", "add", "198.18.3.0/24", "via", ROUTER2_IN)
        self.sh(self.ip, "-n", self.ns["router2"], "route", "add", "198.18.1.0/24", "via", ROUTER1_OUT)
        self.sh(self.ip, "-n", self.ns["origin"], "route", "add", "default", "via", ROUTER2_OUT)

    # ---- running things inside ---------------------------------------------

    def netns_path(self, role):
        return "/run/netns/" + self.ns[role]

    def call(self, role, fn, *args, timeout=20.0):
        """Runs fn(*args) in a new thread that first enters role's network
        namespace; returns its result or raises its exception. Sockets made
        there stay in that namespace whatever thread uses them later."""
        box = {}

        def run():
            try:
                _setns(self.netns_path(role))
                box["v"] = fn(*args)
            except BaseException as e:  # handed to the caller
                box["e"] = e

        th = threading.Thread(target=run, name="in-" + role, daemon=True)
        th.start()
        th.join(timeout)
        if th.is_alive():
            raise PathError("call in %s still running after %.0fs" % (role, timeout))
        if "e" in box:
            raise box["e"]
        return box["v"]

    def socket(self, role, family=socket.AF_INET, type=socket.SOCK_STREAM, proto=0):
        """A socket of role's namespace, usable from any thread."""
        return self.call(role, socket.socket, family, type, proto)

    def exec_argv(self, role):
        """The prefix that runs a command inside role's namespace."""
        return [self.ip, "netns", "exec", self.ns[role]]

    def popen(self, role, argv, **kw):
        """A process inside role's namespace, stopped (by pid) by close()."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(self.exec_argv(role) + list(argv), **kw)
        self.procs.append(p)
        return p

    def stop(self, p, timeout=5.0):
        """SIGTERM, then SIGKILL, of one process this path started."""
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                try:
                    p.wait(timeout)
                except subprocess.TimeoutExpired:
                    pass
            except OSError:
                pass
        for f in (p.stdout, p.stderr):
            if f:
                try:
                    f.close()
                except OSError:
                    pass
        if p in self.procs:
            self.procs.remove(p)

    def close(self):
        """Stops our processes by pid, then deletes our namespaces by name
        (which removes their interfaces). Safe to call twice."""
        for p in list(self.procs):
            self.stop(p)
        for name in reversed(self.made):
            self.sh(self.ip, "netns", "del", name, check=False)
        self.made = []
        self.closed = True
