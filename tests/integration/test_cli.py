"""Integration tests of warpd's command line and configuration checking:
-h, -V, bad options, -t on good and bad files (exact file:line), -t never
binds, a bad config or a port in use at start leaves nothing behind,
command-line options override the file (-l, -H/-p, -w, -u), and the log
line format."""

import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wdtest as wd  # noqa: E402
from wdtest import check  # noqa: E402


def package_version():
    try:
        with open(os.path.join(wd.SRCDIR, "configure.ac")) as f:
            m = re.search(r"AC_INIT\(\[warpd\],\s*\[([^\]]+)\]", f.read())
            if m:
                return m.group(1)
    except OSError:
        pass
    return None


def port_is_free(port, host="127.0.0.1"):
    s = socket.socket(wd.family_of(host), socket.SOCK_STREAM)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def echo_ok(addr, banner=b""):
    """One session through warpd to an echo upstream works."""
    c = wd.connect(addr)
    try:
        if banner:
            got = wd.recv_exact(c, len(banner), 5)
            check(got == banner, "banner %r, expected %r" % (got, banner))
        c.sendall(b"ping\n")
        c.shutdown(socket.SHUT_WR)
        got = wd.recv_until_eof(c, 5)
        check(got == b"ping\n", "echo through %s returned %r" % (wd.addr_text(addr), got))
    finally:
        c.close()


OPTIONS = [
    "-c", "--config", "-t", "--test", "-l", "--listen", "-w", "--workers", "-m", "--mode",
    "-u", "--upstream", "-s", "--shape", "-v", "--verbose", "-q", "--quiet", "-V", "--version",
    "-h", "--help", "-H", "-p",
]


def test_help(t):
    for flag in ("-h", "--help"):
        r = t.run([flag])
        check(r.returncode == 0, "%s: %s" % (flag, r))
        text = r.stdout + r.stderr
        missing = [o for o in OPTIONS if not re.search(r"(?<![-\w])%s\b" % re.escape(o), text)]
        check(not missing, "%s output does not mention %s:\n%s" % (flag, missing, text))


def test_version(t):
    want = re.escape(package_version()) if package_version() else r"\d+\.\d+\.\d+"
    for flag in ("-V", "--version"):
        r = t.run([flag])
        check(r.returncode == 0, "%s: %s" % (flag, r))
        text = (r.stdout + r.stderr).strip()
        check(re.search(r"^warpd %s\b" % want, text, re.M), "%s printed %r, expected 'warpd %s'" % (flag, text, want))


def test_bad_options(t):
    port = wd.free_port()
    listen = "127.0.0.1:%d" % port
    cases = [
        ["-Z"],
        ["--bogus"],
        ["-w"],
        ["-w", "0"],
        ["-w", "many"],
        ["-w", "65"],
        ["-m", "sideways"],
        ["-s", "bogus"],
        ["-m", "tcp", "-u", "nohostport"],
        ["-m", "tcp", "-u", "127.0.0.1:0"],
        ["-l", "127.0.0.1:99999"],
        ["-l", "localhost:80"],
        ["-l"],
        ["-c"],
        ["stray-argument"],
    ]
    for extra in cases:
        # -l first, so that a case that wrongly starts a server uses our port.
        args = ["-l", listen, "-m", "tcp", "-u", "127.0.0.1:9"] + extra
        r = t.run(args, timeout=5)
        check(r.returncode == 2, "warpd %s: %s, expected status 2" % (" ".join(extra), r))
        lines = r.err_lines()
        check(len(lines) == 1,
              "warpd %s: expected one line on stderr, got %d: %r" % (" ".join(extra), len(lines), r.stderr))
        check(port_is_free(port), "warpd %s left %s bound" % (" ".join(extra), listen))


GOOD_CONFIG = """\
# every directive, with a comment after some of them
listen 127.0.0.1:{p1}
listen [::1]:{p2}   # IPv6 too

workers 2
mode tcp
upstream 127.0.0.1:9
shape warp
connect_timeout 1.5s
resolve_timeout 500ms
idle_timeout 2m
shutdown_timeout 10
max_connections 100
resolver 127.0.0.1:53
log stderr
log_level debug
access_log off
pidfile {tmp}/warpd.pid
"""


def test_check_good_file(t):
    p1, p2 = wd.free_port(), wd.free_port()
    cfg = t.config(GOOD_CONFIG.format(p1=p1, p2=p2, tmp=t.tmp))
    for args in (["-t", "-c", cfg], ["--test", "--config=" + cfg], ["--config", cfg, "--test"]):
        r = t.run(args)
        check(r.returncode == 0, "warpd %s: %s" % (" ".join(args), r))
        check("configuration OK" in r.stdout, "warpd %s: no 'configuration OK' on stdout: %s" % (" ".join(args), r))
    check(not os.path.exists(t.path("warpd.pid")), "-t wrote the pidfile")
    check(port_is_free(p1), "-t left 127.0.0.1:%d bound" % p1)


def test_shipped_config(t):
    """conf/warpd.conf must be valid and name every directive warpd knows
    (the directive table in src/config/), so the sample never falls behind."""
    conf = os.path.join(wd.SRCDIR, "conf", "warpd.conf")
    r = t.run(["-t", "-c", conf])
    check(r.returncode == 0 and "configuration OK" in r.stdout, "conf/warpd.conf: %s" % r)
    known = set()
    cdir = os.path.join(wd.SRCDIR, "src", "config")
    for name in sorted(os.listdir(cdir)):
        if name.endswith(".c"):
            with open(os.path.join(cdir, name)) as f:
                known |= set(re.findall(r'\{\s*\.name\s*=\s*"([a-z_]+)"', f.read()))
    check(len(known) > 20, "could not read the directive table: %r" % sorted(known))
    with open(conf) as f:
        text = f.read()
    listed = set(re.findall(r"^#?\s*([a-z_]+)\b", text, re.M))
    missing = sorted(known - listed)
    check(not missing, "conf/warpd.conf does not mention: %s" % ", ".join(missing))


# (file text, line of the error, words of which the message must contain
# one: the directive or the offending value)
BAD_FILES = [
    ("listen 127.0.0.1:{port}\nmode tcp\nlistne 127.0.0.1:1\nupstream 127.0.0.1:9\n", 3, ["listne"]),
    ("listen 127.0.0.1:{port}\nmode tcp\nupstream 127.0.0.1:9\nworkers zero\n", 4, ["workers", "zero"]),
    ("# comment\n\nconnect_timeout 5 parsecs\n", 3, ["connect_timeout", "parsecs"]),
    ("connect_timeout 5x\n", 1, ["connect_timeout", "5x"]),
    ("listen 127.0.0.1:99999\n", 1, ["listen", "99999"]),
    ("listen 127.0.0.1:{port}\nmode sideways\n", 2, ["mode", "sideways"]),
    ("log relative/path.log\n", 1, ["log", "relative/path.log"]),
    ("\n\nlog_level loud\n", 3, ["log_level", "loud"]),
    ("mode tcp\nupstream 127.0.0.1:9\nworkers\n", 3, ["workers"]),
    ("max_connections -5\n", 1, ["max_connections", "-5"]),
    ("mode tcp\nupstream nohost\n", 2, ["upstream", "nohost"]),
    ("mode tcp\nworkers 65\n", 2, ["workers", "65"]),
    ("access_log rel.log\n", 1, ["access_log", "rel.log"]),
    ("idle_timeout\t-1s\n", 1, ["idle_timeout", "-1s"]),
]


def test_check_bad_files(t):
    port = wd.free_port()
    for i, (text, line, word) in enumerate(BAD_FILES):
        cfg = t.config(text.format(port=port), "bad%d.conf" % i)
        r = t.run(["-t", "-c", cfg])
        what = "bad file %r" % text
        check(r.returncode == 2, "%s: %s, expected status 2" % (what, r))
        check("configuration OK" not in r.stdout, "%s: said configuration OK" % what)
        lines = r.err_lines()
        check(len(lines) == 1, "%s: expected one line on stderr, got %r" % (what, r.stderr))
        check("%s:%d:" % (cfg, line) in lines[0], "%s: %r does not contain %s:%d:" % (what, lines[0], cfg, line))
        check(any(x in lines[0] for x in word), "%s: %r mentions none of %r" % (what, lines[0], word))
    # The command line is checked too, and so is a missing file.
    r = t.run(["-t", "-c", t.path("missing.conf")])
    check(r.returncode == 2 and t.path("missing.conf") in r.stderr, "missing file: %s" % r)
    ok = t.config("listen 127.0.0.1:%d\n" % port, "ok.conf")
    r = t.run(["-t", "-c", ok, "-w", "0"])
    check(r.returncode == 2 and "configuration OK" not in r.stdout, "-t -w 0: %s" % r)


def test_check_unknown_user(t):
    """An unknown user name is a bad value: reported with its file:line."""
    cfg = t.config("mode tcp\nupstream 127.0.0.1:9\nuser no_such_user_wdtest\n")
    r = t.run(["-t", "-c", cfg])
    check(r.returncode == 2, "unknown user: %s" % r)
    check(len(r.err_lines()) == 1 and "no_such_user_wdtest" in r.stderr, "unknown user: %r" % r.stderr)
    check("%s:3:" % cfg in r.stderr, "the error %r does not give %s:3:" % (r.stderr.strip(), cfg))


def test_check_whole_file_error(t):
    """warpd.conf(5): a problem with the file as a whole (mode tcp without
    an upstream) is reported on one line with the name of the file."""
    cfg = t.config("listen 127.0.0.1:%d\nmode tcp\n" % wd.free_port(), "noupstream.conf")
    for args in (["-t", "-c", cfg], ["-c", cfg]):
        r = t.run(args)
        check(r.returncode == 2, "warpd %s, mode tcp without upstream: %s" % (" ".join(args), r))
        check(len(r.err_lines()) == 1, "expected one line on stderr, got %r" % r.stderr)
        check(cfg in r.stderr, "the error %r does not name the file %s" % (r.stderr.strip(), cfg))


def test_check_does_not_bind(t):
    """-t next to a running server: the port is held by another socket, and
    -t must still say OK and leave that socket's queue alone."""
    holder = t.add(socket.socket())
    holder.bind(("127.0.0.1", 0))
    holder.listen(8)
    port = holder.getsockname()[1]
    client = t.connect(("127.0.0.1", port))
    cfg = t.config("listen 127.0.0.1:%d\nmode tcp\nupstream 127.0.0.1:9\nworkers 2\n" % port)
    r = t.run(["-t", "-c", cfg])
    check(r.returncode == 0 and "configuration OK" in r.stdout, "-t with the port in use: %s" % r)
    r = t.run(["-t", "-l", "127.0.0.1:%d" % port, "-m", "tcp", "-u", "127.0.0.1:9"])
    check(r.returncode == 0 and "configuration OK" in r.stdout, "-t -l with the port in use: %s" % r)
    holder.settimeout(2)
    conn, _ = holder.accept()
    t.add(conn)
    client.sendall(b"still here")
    check(wd.recv_exact(conn, 10, 2) == b"still here", "the queued connection was disturbed")


def test_bad_config_at_start(t):
    port = wd.free_port()
    cfg = t.config("listen 127.0.0.1:%d\nbogus_directive 1\nmode tcp\nupstream 127.0.0.1:9\n" % port)
    r = t.run(["-c", cfg])
    check(r.returncode == 2, "bad config at start: %s, expected status 2" % r)
    lines = r.err_lines()
    check(len(lines) == 1, "expected one line on stderr, got %r" % r.stderr)
    check("%s:2:" % cfg in lines[0], "%r does not contain %s:2:" % (lines[0], cfg))
    check(port_is_free(port), "a bad config left 127.0.0.1:%d bound" % port)
    check(not wd.procs_with_arg(cfg), "processes left running with %s" % cfg)


def test_port_in_use(t):
    holder = t.add(socket.socket())
    holder.bind(("127.0.0.1", 0))
    holder.listen(8)
    port = holder.getsockname()[1]
    cfg = t.config("listen 127.0.0.1:%d\nmode tcp\nupstream 127.0.0.1:9\nworkers 2\n" % port)
    r = t.run(["-c", cfg])
    check(r.returncode == 1, "port in use: %s, expected status 1" % r)
    check("127.0.0.1:%d" % port in r.stderr, "the error does not name 127.0.0.1:%d: %r" % (port, r.stderr))
    check("Address already in use" in r.stderr, "the error does not say 'Address already in use': %r" % r.stderr)
    check(not wd.procs_with_arg(cfg), "processes left running with %s" % cfg)


def test_listen_override(t):
    echo = t.echo()
    p1, p2, p3 = wd.free_port(), wd.free_port(), wd.free_port()
    cfg = t.config("listen 127.0.0.1:%d\nmode tcp\nupstream %s\nworkers 1\n" % (p1, echo.text))
    w = t.warpd(["-l", "127.0.0.1:%d" % p2], config=cfg, nworkers=1)
    line = w.wait_log("listening on ")
    check("127.0.0.1:%d" % p2 in line and ":%d" % p1 not in line, "listening line %r (file %d, -l %d)" % (line, p1, p2))
    echo_ok(("127.0.0.1", p2))
    check(wd.connect_result(("127.0.0.1", p1)) == "refused", "the file's listen address is still served")
    w.stop()
    # Several -l, one a bare port (127.0.0.1), on fresh ports.
    p2 = wd.free_port()
    w = t.warpd(["-l", str(p2), "--listen=127.0.0.1:%d" % p3], config=cfg, nworkers=1)
    echo_ok(("127.0.0.1", p2))
    echo_ok(("127.0.0.1", p3))
    check(wd.connect_result(("127.0.0.1", p1)) == "refused", "the file's listen address is still served")


def test_warp_aliases(t):
    echo = t.echo()
    p1, p2, p3 = wd.free_port(), wd.free_port(), wd.free_port()
    cfg = t.config("listen 127.0.0.1:%d\nmode tcp\nupstream %s\nworkers 1\n" % (p1, echo.text))
    w = t.warpd(["-H", "127.0.0.1", "-p", str(p2)], config=cfg, nworkers=1)
    echo_ok(("127.0.0.1", p2))
    check(wd.connect_result(("127.0.0.1", p1)) == "refused", "-H/-p did not replace the file's listen")
    w.stop()
    w = t.warpd(["-p", str(p3)], config=cfg, nworkers=1)
    line = w.wait_log("listening on ")
    check("127.0.0.1:%d" % p3 in line, "-p %d alone: listening line %r" % (p3, line))
    echo_ok(("127.0.0.1", p3))


def test_options_override_file(t):
    a = t.echo(banner=b"A")
    b = t.echo(banner=b"B")
    port = wd.free_port()
    cfg = t.config("listen 127.0.0.1:%d\nmode tcp\nupstream %s\nworkers 3\n" % (port, a.text))
    w = t.warpd(["--workers=1", "--upstream", b.text], config=cfg, nworkers=1)
    echo_ok(("127.0.0.1", port), banner=b"B")
    check(a.accepted == 0, "the file's upstream was used")
    w.stop()
    port = wd.free_port()
    cfg = t.config("listen 127.0.0.1:%d\nmode tcp\nupstream %s\nworkers 3\n" % (port, a.text), "two.conf")
    w = t.warpd(["-w", "2", "-u", b.text], config=cfg, nworkers=2)
    echo_ok(("127.0.0.1", port), banner=b"B")
    check(a.accepted == 0, "the file's upstream was used")


def test_log_line_format(t):
    echo = t.echo()
    w, addr = t.start_tcp(echo.text, workers=2)
    echo_ok(addr)
    wd.wait_until(lambda: w.access_lines(), 5, "an access line")
    w.stop()
    bad = [l for l in w.text() if not wd.LOG_RE.match(l)]
    check(not bad, "log lines not in '<timestamp> <tag>[<pid>] <level>: <message>' form: %r" % bad[:3])
    line = w.wait_log("listening on ")
    m = wd.LOG_RE.match(line)
    check(m.group("tag") == "supervisor" and int(m.group("pid")) == w.pid and m.group("level") == "info",
          "listening line %r: expected supervisor[%d] info" % (line, w.pid))
    check("%s:%d" % addr in line, "listening line %r does not give %s:%d" % (line, addr[0], addr[1]))
    for l in w.text():
        m = wd.LOG_RE.match(l)
        if m.group("tag").startswith("worker"):
            check(int(m.group("pid")) in w.seen, "%r: pid is not one of the workers %s" % (l, sorted(w.seen)))
        else:
            check(int(m.group("pid")) == w.pid, "%r: supervisor line with another pid" % l)


def test_verbose_and_quiet(t):
    """-v lowers the log threshold (debug lines appear); -q logs errors only."""
    echo = t.echo()
    w, addr = t.start_tcp(echo.text, workers=1, args=["-v"])
    echo_ok(addr)
    w.stop()
    check(any(wd.LOG_RE.match(l) and wd.LOG_RE.match(l).group("level") == "debug" for l in w.text()),
          "-v: no debug line in %r" % w.text()[:5])
    port = wd.free_port()
    cfg = t.tcp_config(port, echo.text, workers=1, name="quiet.conf")
    w = t.warpd(["-q"], config=cfg, ready=False)
    wd.wait_until(lambda: wd.connect_result(("127.0.0.1", port)) == "ok", 10, "-q: the port to accept")
    echo_ok(("127.0.0.1", port))
    w.stop()
    levels = [(l, wd.LOG_RE.match(l)) for l in w.text()]
    noisy = [l for l, m in levels if not (m and m.group("level") in ("error", "access"))]
    check(not noisy, "-q: lines other than errors: %r" % noisy[:3])


if __name__ == "__main__":
    wd.main(globals())
