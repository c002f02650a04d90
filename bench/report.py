"""Turns bench.py's measurements into bench/results.md and bench/results.png
(also on its own: python3 bench/report.py bench/results.json [OUTDIR]).

Medians over the rounds, ratios against warpd, and the budget lines of
DESIGN.md section 6 and issue 14, each met or not met, with the range of
the same ratio taken round by round. The chart is drawn by gnuplot from
small data files written to the work directory (bench/results.gp).
"""

import os
import statistics
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def fmt_int(x):
    return "{:,}".format(int(round(x))).replace(",", " ")


def ratio(a, b):
    return "%.2fx" % (a / b) if b else "-"


def rps_rows(res):
    """Per row: median req/s and latencies, spread, errors, CPU%."""
    rows = {}
    for r in res.get("rps", []):
        runs = r["runs"]
        rps = [x["rps"] for x in runs]
        m = med(rps)
        rows[r["key"]] = {
            "name": r["name"], "rps": m,
            "spread": (max(rps) - min(rps)) / m * 100 if m else 0,
            "p50": med([x["p50_us"] for x in runs]) / 1000,
            "p99": med([x["p99_us"] for x in runs]) / 1000,
            "errors": sum(x["errors"] - x["read"] for x in runs),
            "closes": sum(x["read"] for x in runs),
            "per_round": rps,
            "cpu_proxy": med([x["cpu"]["proxy"] for x in runs]),
            "us_per_req": med([x["cpu"]["proxy"] * 1e4 / x["rps"] for x in runs if x["rps"]]),
            "us_round": [x["cpu"]["proxy"] * 1e4 / x["rps"] if x["rps"] else None for x in runs],
            "cpu_origin": med([x["cpu"]["origin"] for x in runs]),
            "cpu_wrk": med([x["cpu"]["wrk"] for x in runs]),
            "cpu_other": med([x["cpu"].get("other") for x in runs]),
            "repeated": sum(1 for x in runs if x.get("tries", 1) > 1),
            "segs": med([x.get("segs", 0.0) for x in runs]),
            "wrk": "-t%d -c%d" % (r["threads"], r["conns"]),
            "n": len(runs),
        }
    return rows


# The warpd row each row is compared with in the "warpd ÷ this" column.
REF = {"direct": "warpd_rev", "nginx": "warpd_rev", "haproxy": "warpd_rev",
       "nginx_var": "warpd_rev_var", "haproxy_var": "warpd_rev_var",
       "warpd_split": "warpd_fwd", "warpd_split1": "warpd_fwd", "squid": "warpd_fwd",
       "tinyproxy": "warpd_fwd", "defaults_rev": "warpd_rev", "defaults_fwd": "warpd_split",
       "metrics_rev": "warpd_rev", "relay_whole": "warpd_fwd", "relay_split": "warpd_split"}


def bulk_rows(res):
    rows = {}
    # The downloads of a path come round after round, bulk_reps in each.
    reps = res.get("info", {}).get("bulk_reps") or 0
    for p in res.get("bulk", []):
        mbs = [s[0] for s in p["samples"]]
        cpu = [s[1] for s in p["samples"]]
        m = med(mbs)
        q = statistics.quantiles(mbs, n=4) if len(mbs) > 1 else [m, m, m]
        k = reps if reps and len(mbs) % reps == 0 else len(mbs)
        rows[p["key"]] = {"name": p["name"], "mbs": m, "ms": 64 * 1.048576 / m * 1000,
                          "q1": q[0], "q3": q[2], "all": mbs,
                          "round_mbs": [med(mbs[i:i + k]) for i in range(0, len(mbs), k)],
                          "spread": (max(mbs) - min(mbs)) / m * 100,
                          # Ticks are 10 ms: the mean over all downloads resolves better.
                          "cpu": sum(cpu) / len(cpu),
                          "n": len(mbs)}
    return rows


def per_round(xs, ys):
    """x / y, round by round, of two lists of per-round figures (None: none)."""
    return [x / y for x, y in zip(xs, ys) if x is not None and y]


def rounds_text(rs, need=None):
    """The rounds' range of a ratio, " (per round MIN–MAX)" (" (1 round)"
    for one), and whether rounds fell on both sides of need."""
    if not rs:
        return "", False
    if len(rs) == 1:
        return " (1 round)", False
    return (" (per round %.2f–%.2f)" % (min(rs), max(rs)),
            need is not None and min(rs) < need < max(rs))


def rounds_range(rps, a, b, need):
    """Over the rounds, a's req/s over b's in the same round: the text
    " (per round MIN–MAX)" and whether rounds fell on both sides of need."""
    return rounds_text(per_round(rps[a]["per_round"], rps[b]["per_round"]), need)


def floor_rows(res):
    """Medians of the segfloor runs, by number of pieces (1, 3)."""
    rows = {}
    for k, runs in res.get("floor", {}).items():
        if runs:
            rows[int(k)] = {f: med([x[f] for x in runs])
                            for f in ("rps", "us_per_req", "segs", "origin_us_per_req")}
            rows[int(k)]["per_round"] = [x["rps"] for x in runs]
            rows[int(k)]["us_round"] = [x["us_per_req"] for x in runs]
    return rows if {1, 3} <= rows.keys() else {}


def shape_rows(res):
    """Per (strategy, intake) of the shape part: medians over the rounds of
    each round's time-to-first-byte percentiles (ms) and CPU per connection,
    the answers summed."""
    rows = {}
    for row in (res.get("shape") or {}).get("rows", []):
        runs = row["runs"]
        if not runs:
            continue
        # A round with no answer at all has no percentiles (None).
        p50 = [x["p50_us"] / 1e3 if x["n"] else None for x in runs]
        m = med(p50)
        got = [x for x in p50 if x is not None]
        answers = {}
        for x in runs:
            for k, v in x["answers"].items():
                answers[k] = answers.get(k, 0) + v
        rows[(row["strategy"], row["intake"])] = {
            "p50": m, "p90": med([x["p90_us"] / 1e3 for x in runs if x["n"]]), "per_round": p50,
            "spread": (max(got) - min(got)) / m * 100 if got and m else 0,
            "cpu": med([x.get("cpu_us") for x in runs]), "n": sum(x["n"] for x in runs),
            "failed": sum(x["failed"] for x in runs), "answers": answers,
            "apart": any(x.get("apart") for x in runs)}
    return rows


INTAKES = (("http", "HTTP forward"), ("tls", "CONNECT + TLS"))


def budgets(rps, bulk, mem, floor=None, shape=None, auto=None):
    out = []

    def line(text, measured, ok, noisy=False):
        res = "met" if ok else "**not met**"
        if noisy:
            res += " (within the noise)"
        out.append((text, measured, res))

    # Issue 14: 1.3x the better peer in the median, on /small and on /varied
    # alike, with CPU per request at most 0.75x the leaner peer's.
    for me, peers, text in (
            ("warpd_rev", ("nginx", "haproxy"), "reverse: >= 1.3x the better of nginx and HAProxy"),
            ("warpd_rev_var", ("nginx_var", "haproxy_var"),
             "the same with every response head different (/varied)")):
        if {me, *peers} <= rps.keys():
            best = max(peers, key=lambda k: rps[k]["rps"])
            r = rps[me]["rps"] / rps[best]["rps"]
            rr, noisy = rounds_range(rps, me, best, 1.3)
            line(text, "%s ÷ %s (%s) = %.2fx%s" % (fmt_int(rps[me]["rps"]), fmt_int(rps[best]["rps"]),
                                                  rps[best]["name"], r, rr), r >= 1.3, noisy)
            lean = min(peers, key=lambda k: rps[k]["us_per_req"] or float("inf"))
            if rps[lean]["us_per_req"]:
                c = rps[me]["us_per_req"] / rps[lean]["us_per_req"]
                rr, noisy = rounds_text(per_round(rps[me]["us_round"], rps[lean]["us_round"]),
                                        0.75)
                line("reverse%s: CPU per request <= 0.75x the leaner peer's"
                     % (", /varied" if "var" in me else ""),
                     "%.1f ÷ %.1f µs (%s) = %.2fx%s" % (rps[me]["us_per_req"],
                                                        rps[lean]["us_per_req"],
                                                        rps[lean]["name"], c, rr),
                     c <= 0.75, noisy)
    if {"relay_whole", "nginx", "haproxy"} <= rps.keys():
        # The least a proxy does (bench/relayfloor.c: read a head, write one,
        # pass the answer back) against the better peer: how far the lines
        # above can be met at all on this machine, and where warpd stands.
        best = max(("nginx", "haproxy"), key=lambda k: rps[k]["rps"])
        lean = min(("nginx", "haproxy"), key=lambda k: rps[k]["us_per_req"] or float("inf"))
        fl = rps["relay_whole"]
        mine = [("reverse", "warpd_rev"), ("forward", "warpd_fwd")]
        out.append(("the least a proxy can do against the better peer (bench/relayfloor.c, "
                    "not a budget)",
                    "%s ÷ %s req/s = %.2fx; CPU %.1f ÷ %.1f µs = %.2fx; warpd's CPU per request "
                    "÷ relayfloor's: %s" % (
                        fmt_int(fl["rps"]), fmt_int(rps[best]["rps"]), fl["rps"] / rps[best]["rps"],
                        fl["us_per_req"], rps[lean]["us_per_req"],
                        fl["us_per_req"] / rps[lean]["us_per_req"],
                        ", ".join("%s %.2fx" % (t, rps[k]["us_per_req"] / fl["us_per_req"])
                                  for t, k in mine if k in rps and fl["us_per_req"])),
                    "the proxy's floor"))
    if {"warpd_fwd", "squid", "tinyproxy"} <= rps.keys():
        for k, need in (("squid", 3.5), ("tinyproxy", 6.0)):
            r = rps["warpd_fwd"]["rps"] / rps[k]["rps"]
            rr, noisy = rounds_range(rps, "warpd_fwd", k, need)
            line("forward: >= %gx %s" % (need, k), "%s ÷ %s = %.2fx%s" % (
                fmt_int(rps["warpd_fwd"]["rps"]), fmt_int(rps[k]["rps"]), r, rr), r >= need, noisy)
    if {"warpd_fwd", "warpd_split"} <= rps.keys():
        r = rps["warpd_split"]["rps"] / rps["warpd_fwd"]["rps"]
        rr, noisy = rounds_range(rps, "warpd_split", "warpd_fwd", 0.85)
        # No longer a budget (issue 14): the floor below is the line.
        out.append(("forward: shape split against shape off (not a budget)",
                    "split ÷ off = %s ÷ %s = %.2f%s; TCP segments per request %.1f against %.1f" % (
                        fmt_int(rps["warpd_split"]["rps"]), fmt_int(rps["warpd_fwd"]["rps"]), r,
                        rr, rps["warpd_split"]["segs"], rps["warpd_fwd"]["segs"]), "informational"))
        if floor:
            # Issue 14: split's extra CPU per request over off, at most 1.15x
            # what a sender doing nothing else pays for the same extra segments.
            mine = rps["warpd_split"]["us_per_req"] - rps["warpd_fwd"]["us_per_req"]
            base = floor[3]["us_per_req"] - floor[1]["us_per_req"]
            if base > 0:
                extra = [s - f for s, f in zip(rps["warpd_split"]["us_round"],
                                               rps["warpd_fwd"]["us_round"])
                         if s is not None and f is not None]
                cut = [t - o for t, o in zip(floor[3]["us_round"], floor[1]["us_round"])]
                rr, noisy = rounds_text([m / b for m, b in zip(extra, cut) if b > 0], 1.15)
                line("forward: split's extra CPU per request <= 1.15x the floor's (segfloor.c)",
                     "%.1f µs against %.1f µs = %.2fx%s" % (mine, base, mine / base, rr),
                     mine <= 1.15 * base, noisy)
                if {"relay_whole", "relay_split"} <= rps.keys():
                    # The same extra for the least a proxy does (bench/relayfloor.c),
                    # scheduled like warpd: whether the segfloor line can be met at all.
                    rel = rps["relay_split"]["us_per_req"] - rps["relay_whole"]["us_per_req"]
                    if rel > 0:
                        rx = [s - w for s, w in zip(rps["relay_split"]["us_round"],
                                                    rps["relay_whole"]["us_round"])
                              if s is not None and w is not None]
                        rr, _ = rounds_text([m / r for m, r in zip(extra, rx) if r > 0])
                        out.append(("the same cut by the least a proxy can do (bench/relayfloor.c, "
                                    "not a budget)",
                                    "its extra CPU per request %.1f µs = %.2fx segfloor's; warpd's "
                                    "%.1f µs = %.2fx relayfloor's%s" % (rel, rel / base, mine,
                                                                          mine / rel, rr),
                                    "the proxy's floor"))
            f = floor[3]["rps"] / floor[1]["rps"]
            out.append(("the same cut by a sender that does nothing else (bench/segfloor.c, "
                        "not a budget)",
                        "3 pieces ÷ 1 = %.2f; its CPU per request %.1f → %.1f µs, warpd's %.1f → "
                        "%.1f µs" % (f, floor[1]["us_per_req"], floor[3]["us_per_req"],
                                     rps["warpd_fwd"]["us_per_req"],
                                     rps["warpd_split"]["us_per_req"]), "the floor"))
    if "direct" in bulk:
        # Issue 14: bulk through a tunnel at least 0.95 of the direct download.
        for k, text in (("connect", "CONNECT"), ("socks5", "SOCKS5"), ("tcp", "TCP mode")):
            if k in bulk:
                r = bulk[k]["mbs"] / bulk["direct"]["mbs"]
                rr, noisy = rounds_text(per_round(bulk[k]["round_mbs"],
                                                  bulk["direct"]["round_mbs"]), 0.95)
                line("bulk 64 MiB through %s: >= 0.95 of direct" % text,
                     "%.0f ÷ %.0f MB/s = %.2f%s" % (bulk[k]["mbs"], bulk["direct"]["mbs"], r, rr),
                     r >= 0.95, noisy)
    if {"direct", "splicefloor"} <= bulk.keys():
        # The least a relay does on this machine: what the 0.95 line asks of
        # any relay, and where warpd stands against it.
        f = bulk["splicefloor"]["mbs"] / bulk["direct"]["mbs"]
        mine = ", ".join("%s %.2f" % (t, bulk[k]["mbs"] / bulk["splicefloor"]["mbs"])
                         for k, t in (("connect", "CONNECT"), ("socks5", "SOCKS5"),
                                      ("tcp", "TCP mode")) if k in bulk)
        rr, _ = rounds_text(per_round(bulk["splicefloor"]["round_mbs"],
                                      bulk["direct"]["round_mbs"]))
        out.append(("bulk: the least a relay does (bench/splicefloor.c, not a budget)",
                    "%.0f ÷ %.0f MB/s = %.2f of direct%s; warpd ÷ this: %s" % (
                        bulk["splicefloor"]["mbs"], bulk["direct"]["mbs"], f, rr, mine),
                    "the relay's floor"))
    if "haproxy_tcp" in bulk:
        for k, text in (("connect", "CONNECT"), ("socks5", "SOCKS5"), ("tcp", "TCP mode")):
            if k in bulk:
                r = bulk[k]["mbs"] / bulk["haproxy_tcp"]["mbs"]
                # Downloads were made in turns, so the i-th of each path are neighbours.
                pairs = [x / y for x, y in zip(bulk[k]["all"], bulk["haproxy_tcp"]["all"])]
                q = statistics.quantiles(pairs, n=4) if len(pairs) > 1 else [r, r, r]
                rr, _ = rounds_text(per_round(bulk[k]["round_mbs"],
                                              bulk["haproxy_tcp"]["round_mbs"]))
                rr = (rr[:-1] + "; " if rr else " (") + "paired downloads: quartiles %.2f–%.2f)" % (
                    q[0], q[2])
                line("bulk 64 MiB through %s: >= HAProxy mode tcp" % text,
                     "%.0f ÷ %.0f MB/s = %.2fx%s" % (bulk[k]["mbs"], bulk["haproxy_tcp"]["mbs"], r,
                                                     rr),
                     r >= 1.0, q[0] < 1.0 < q[2])
    for row in mem:
        if row["name"] == "warpd":
            i, h = row["idle"]["per_conn"], row["half"]["per_conn"]
            # Issue 14's budgets: below nginx's idle figure, a sixth of its
            # partial-head one.
            line("memory: <= 512 B per idle connection",
                 "%s B (measured once, no rounds)" % fmt_int(i), i <= 512)
            line("memory: <= 1 536 B per connection holding half a head",
                 "%s B (measured once, no rounds)" % fmt_int(h), h <= 1536)
    defaults = [(k, ref, what) for k, ref, what in (
        ("defaults_rev", "warpd_rev", "reverse"),
        ("defaults_fwd", "warpd_split", "forward (shape split, its default)"))
        if {k, ref} <= rps.keys()]
    if defaults:
        texts, ok, noisy = [], True, False
        for k, ref, what in defaults:
            r = rps[k]["rps"] / rps[ref]["rps"]
            rr, nz = rounds_range(rps, k, ref, 0.9)
            texts.append("%s: %s ÷ %s = %.2fx%s" % (what, fmt_int(rps[k]["rps"]),
                                                    fmt_int(rps[ref]["rps"]), r, rr))
            ok, noisy = ok and r >= 0.9, noisy or nz
        line("defaults (no config file) within 10% of the tuned configuration",
             "; ".join(texts), ok, noisy)
    if {"metrics_rev", "warpd_rev"} <= rps.keys():
        r = rps["metrics_rev"]["rps"] / rps["warpd_rev"]["rps"]
        rr, noisy = rounds_range(rps, "metrics_rev", "warpd_rev", 0.97)
        line("metrics: the page scraped 10/s costs at most 3%",
             "%s ÷ %s = %.2fx%s" % (fmt_int(rps["metrics_rev"]["rps"]),
                                    fmt_int(rps["warpd_rev"]["rps"]), r, rr), r >= 0.97, noisy)
    if {"rev_w1_c100", "rev_w2_c100"} <= rps.keys():
        r = rps["rev_w2_c100"]["rps"] / rps["rev_w1_c100"]["rps"]
        rr, noisy = rounds_range(rps, "rev_w2_c100", "rev_w1_c100", 1.0)
        extra = ""
        if {"warpd_rev", "rev_w2"} <= rps.keys():
            extra = "; at -t1 -c50: %.2fx%s" % (rps["rev_w2"]["rps"] / rps["warpd_rev"]["rps"],
                                                rounds_range(rps, "rev_w2", "warpd_rev", 1.0)[0])
        line("2 workers serve more than 1 (wrk -t2 -c100)",
             "%s ÷ %s = %.2fx%s%s" % (fmt_int(rps["rev_w2_c100"]["rps"]),
                                      fmt_int(rps["rev_w1_c100"]["rps"]), r, rr, extra),
             r > 1.0, noisy)
    if shape and auto:
        # Issue 14: auto with a warm cache costs at most 15% over the
        # strategy it remembered, in time to first byte.
        texts, ok, noisy = [], True, False
        for key, what in INTAKES:
            ch = auto["chosen"].get(key)
            if ("auto", key) not in shape:
                continue
            if ch is None or (ch, key) not in shape:
                texts.append("%s: auto chose %s" % (what, ch or "nothing"))
                ok = False
                continue
            a, c = shape[("auto", key)], shape[(ch, key)]
            r = a["p50"] / c["p50"]
            rr, nz = rounds_text(per_round(a["per_round"], c["per_round"]), 1.15)
            texts.append("%s: %.3f ÷ %.3f ms (%s) = %.2fx%s" % (what, a["p50"], c["p50"], ch, r,
                                                                rr))
            ok, noisy = ok and r <= 1.15, noisy or nz
        if texts:
            line("shape auto, warm cache: time to first byte <= 1.15x the strategy it chose",
                 "; ".join(texts), ok, noisy)
    return out


def fmt_ms(x):
    if x != x:  # NaN: no answer in any round
        return "-"
    return "%.3f" % x if x < 10 else "%.0f" % x


def shape_section(res, shape):
    """The table of time to first byte per strategy and intake, and what it
    means."""
    sh = res["shape"]
    auto = sh.get("auto", {})
    chosen = auto.get("chosen", {})
    L = ["## Time to first byte per shaping strategy (bench/ttfb.c)", ""]
    L.append("| strategy | intake | TTFB p50 ms | p90 ms | spread over rounds | proxy CPU µs/req "
             "| ÷ off | answers |")
    L.append("|---|---|--:|--:|--:|--:|--:|---|")
    for key, what in INTAKES:
        off = shape.get(("off", key))
        for s in ("direct", "off", "split", "disorder", "fake", "oob", "tlsrec", "warp", "auto"):
            r = shape.get((s, key))
            if r is None:
                continue
            name = {"direct": "none: straight to the origin"}.get(s, s)
            if s == "auto":
                name = "auto, warm cache (chose %s)" % (chosen.get(key) or "nothing")
            if r["apart"]:
                name += " *"
            ans = ", ".join("%s ×%s" % (k, fmt_int(v))
                            for k, v in sorted(r["answers"].items(), key=lambda kv: -kv[1]))
            if r["failed"]:
                ans += "%s%d without an answer in 3 s" % ("; " if ans else "", r["failed"])
            L.append("| %s | %s | %s | %s | %.0f%% | %s | %s | %s |" % (
                name, what, fmt_ms(r["p50"]), fmt_ms(r["p90"]), r["spread"],
                "%.0f" % r["cpu"] if r["cpu"] == r["cpu"] else "-",
                ("%.2fx" if r["p50"] < 100 * off["p50"] else "%.0fx") % (r["p50"] / off["p50"])
                if off and off["p50"] and r["p50"] == r["p50"] else "-", ans))
    L.append("")
    L.append("One warpd per strategy, forward mode, 1 worker, `upstream_keepalive 0` (every "
             "request opens its own upstream connection, so every measured flight is the "
             "first of its connection, the one a strategy cuts) and `tls_split_ports any`. "
             "bench/ttfb.c opens one connection at a time and times the first byte of the "
             "answer. HTTP forward: `GET http://127.0.0.1:PORT/small` in absolute form with "
             "`Connection: close`, to the origin of the requests/s rows, timed from connect() "
             "to the first byte of the response. CONNECT + TLS: `CONNECT` to a TLS origin "
             "(nginx, 1 worker, a self-signed ECDSA P-256 certificate made by openssl for the "
             "run), then, after the 200, a real TLS 1.3 ClientHello of %d bytes with the server "
             "name bench.example (written once by Python's ssl module, the same bytes on every "
             "connection), timed from its write to the first byte of the ServerHello, after "
             "which the client resets the connection. The connections of one intake go to "
             "every contender in turn, one each, %s per contender and round, so that the "
             "machine's bursts fall on all of them alike; a contender whose warm-up answer took "
             "over 20 ms or never came is measured alone, for the run's duration and at least "
             "5 connections (marked *). Straight to the origin, the ClientHello's time "
             "includes nginx accepting the connection, which through warpd happened during "
             "the CONNECT. p50, p90: medians over the rounds of each round's "
             "percentiles; spread: (max - min) / median of the rounds' p50; proxy CPU: the "
             "warpd worker's CPU time (schedstat) per connection, for CONNECT the whole tunnel; "
             "÷ off: p50 against shape off on the same intake; answers: the origin's status "
             "codes, or hello for a ServerHello." % (sh.get("hello_bytes", 0),
                                                    fmt_int(sh.get("count", 0))))
    L.append("")
    tries = auto.get("tries", {})
    L.append("auto ran with a warm cache: before the measurement a few connections of each "
             "intake went through it, and its counters (`warpd_shape_auto_wins_total` on its "
             "stats page) show which strategy passed: %s. During the measured runs it tried %s. "
             "On loopback nothing blocks, so its first try, %s, passes." % (
                 ", ".join("%s for %s" % (chosen.get(k) or "nothing", w) for k, w in INTAKES),
                 ", ".join("%s %s times" % (k, fmt_int(v)) for k, v in sorted(tries.items()))
                 or "nothing", (chosen.get("http") or "?")))
    L.append("")
    notes = []
    fake = [(k, w, shape[("fake", k)]) for k, w in INTAKES if ("fake", k) in shape]
    odd = ["%s: %s of %s" % (w, fmt_int(sum(v for a, v in r["answers"].items()
                                            if a not in ("200", "hello"))), fmt_int(r["n"]))
           for k, w, r in fake]
    if odd:
        notes.append("On loopback no router lowers a TTL, so the fake piece of `fake` reaches "
                     "the origin and takes the real bytes' place (man warpd.conf, SHAPING): the "
                     "origin answered the fake request (403 for its Host) or a broken "
                     "ClientHello (a TLS alert) on some connections (%s); the time is still "
                     "that of a first answer." % "; ".join(odd))
    notes.append("disorder and fake wait until the piece with the low TTL has left the socket "
                 "before they send the rest; warp pauses 200-300 ms between the pieces of the "
                 "Host value; on a ClientHello it makes split's cut, without pauses.")
    oob = shape.get(("oob", "http"))
    if oob and oob["failed"]:
        notes.append("oob over HTTP: %d of %d connections got no answer within 3 s. When both "
                     "pieces have arrived before the origin (nginx) reads, its read stops at the "
                     "urgent byte's mark, it takes the short read for an empty socket and waits, "
                     "edge-triggered, for bytes that are already there (strace: a read of 28 "
                     "bytes, then epoll_wait until the connection closes); the request stalls "
                     "until more bytes, the end of the connection or nginx's header timeout "
                     "come. Any server that reads this way stalls on oob when the pieces arrive "
                     "together." % (
                         oob["failed"], oob["failed"] + oob["n"]))
    L.append(" ".join(notes))
    L.append("")
    return L


def write(res, outdir, workdir):
    info = res["info"]
    m = info["machine"]
    v = info["versions"]
    rps = rps_rows(res)
    bulk = bulk_rows(res)
    mem = res.get("mem", [])
    shape = shape_rows(res)
    L = []
    L.append("# warpd benchmark results%s" % (" (quick check)" if info["quick"] else ""))
    L.append("")
    L.append("Generated by `scripts/bench%s` on %s, commit `%s`." % (
        " --quick" if info["quick"] else "", info["date"], info["commit"]))
    L.append("Machine: %s CPU(s), %s, Linux %s; load average at the start %s." % (
        m["nproc"], m["cpu"], m["kernel"], m["load"]))
    L.append("Peers (Debian packages): nginx %s, HAProxy %s, squid %s, tinyproxy %s; "
             "wrk %s, curl %s." % (v["nginx"], v["haproxy"], v["squid"], v["tinyproxy"],
                                   v["wrk"], v["curl"]))
    L.append("")
    L.append("Everything runs on loopback on this one machine: wrk, the origin (nginx, 1 worker), "
             "and the proxy under test, each proxy with one worker process or thread "
             "(tinyproxy: one thread per client), keep-alive on both sides, logging off. "
             "Contenders are measured in turn, in a different order each round; "
             "%d round(s) of %d s per contender, figures are medians. Whole run: %.0f s, of "
             "which %.0f s waiting for other jobs on the machine to calm down."
             % (info["rounds"], info["duration"], info.get("elapsed", 0), info.get("waited", 0)))
    L.append("")
    if rps:
        L.append("## Requests per second: GET /small (%d-byte body), wrk --latency" % 22)
        L.append("")
        L.append("Rows marked /varied fetch the same body with an X-Request-Id field that differs "
                 "in every response, so that no two response heads are equal, as in real traffic. "
                 "warpd reads each head once, with its own strict pass (src/http/http.c), on "
                 "/varied as on /small; http-parser only checks that pass in the tests.")
        L.append("")
        L.append("| contender | wrk | req/s | spread | p50 ms | p99 ms | errors | server closes "
                 "| CPU% proxy | proxy CPU µs/req | CPU% origin | CPU% wrk | CPU% other "
                 "| TCP segments/req | warpd ÷ this |")
        L.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for k, r in rps.items():
            ref = REF.get(k)
            rt = ""
            if ref and ref in rps:
                rt = "%s (%s)" % (ratio(rps[ref]["rps"], r["rps"]),
                                  {"warpd_rev": "reverse", "warpd_rev_var": "reverse, /varied",
                                   "warpd_split": "forward, split"}.get(ref, "forward, off"))
            L.append("| %s | %s | %s | %.0f%% | %.2f | %.2f | %d | %s | %.0f | %s | %.0f | %.0f | %.0f "
                     "| %.2f | %s |" % (
                r["name"], r["wrk"], fmt_int(r["rps"]), r["spread"], r["p50"], r["p99"],
                r["errors"], fmt_int(r["closes"]), r["cpu_proxy"],
                "%.1f" % r["us_per_req"] if r["cpu_proxy"] else "-", r["cpu_origin"], r["cpu_wrk"],
                r["cpu_other"], r["segs"], rt))
        L.append("")
        L.append("spread: (max - min) / median of the rounds. errors: non-2xx answers, timeouts, "
                 "connect and write errors (wrk). server closes: connections the server closed, "
                 "which wrk counts as read errors; tinyproxy closes the client connection after "
                 "every response (no client keep-alive), its answers are complete. CPU%%: share "
                 "of one core used during the run by the proxy's worker(s), the origin's worker "
                 "and wrk; proxy CPU µs/req: the proxy's CPU time per request (user + system, "
                 "less sensitive to the machine's noise than req/s); CPU%% other: what the rest "
                 "of the machine used meanwhile (kernel threads, softirq time not charged to a "
                 "process, and other jobs on this shared machine; about 10%% when it is quiet). "
                 "A run during which the rest took more than 30%% of a CPU was repeated, at most "
                 "twice, after waiting for a quiet moment: %d of %d runs were. "
                 "TCP segments/req: every TCP segment the machine sent during the run "
                 "(/proc/net/snmp OutSegs), per request: 2 for a direct request and response, "
                 "4 through a proxy; shape split sends the head in 3 segments, and the origin's "
                 "kernel answers 2 small pushed segments with an ACK of its own, hence 7. "
                 "warpd ÷ this: above 1 means warpd is faster." % (
                     sum(r["repeated"] for r in rps.values()),
                     sum(r["n"] for r in rps.values())))
        L.append("")
    floor = floor_rows(res)
    if floor:
        L.append("## What split costs any sender (bench/segfloor.c)")
        L.append("")
        L.append("A small C program, not a proxy, sends the head warpd sends upstream for the "
                 "forward rows to the same origin over 50 keep-alive connections, and only "
                 "that: whole in one write, or cut as split cuts it (request line; up to one "
                 "byte into the Host value; the rest) in three writes with MSG_EOR. The "
                 "difference is the kernel's: the two extra segments, and the ACK the origin's "
                 "kernel sends at once after two small pushed segments.")
        L.append("")
        L.append("| head sent as | req/s | sender CPU µs/req | origin CPU µs/req "
                 "| TCP segments/req |")
        L.append("|---|--:|--:|--:|--:|")
        for k in (1, 3):
            r = floor[k]
            L.append("| %s | %s | %.1f | %.1f | %.2f |" % (
                "1 piece" if k == 1 else "3 pieces (split)", fmt_int(r["rps"]), r["us_per_req"],
                r["origin_us_per_req"], r["segs"]))
        L.append("")
        d = floor[3]["us_per_req"] - floor[1]["us_per_req"]
        text = ("Cutting the head costs this sender %.1f µs of CPU per request and %.0f%% of "
                "its requests per second (3 pieces ÷ 1 = %.2f)." % (
                    d, 100 * (1 - floor[3]["rps"] / floor[1]["rps"]),
                    floor[3]["rps"] / floor[1]["rps"]))
        if {"warpd_fwd", "warpd_split"} <= rps.keys():
            text += (" warpd's split costs it %.1f µs per request over shape off (%.1f → %.1f)." % (
                rps["warpd_split"]["us_per_req"] - rps["warpd_fwd"]["us_per_req"],
                rps["warpd_fwd"]["us_per_req"], rps["warpd_split"]["us_per_req"]))
        L.append(text)
        L.append("")
    if res.get("tunnels"):
        L.append("## New tunnels per second (bench/tunnels.c)")
        L.append("")
        L.append("| tunnel | tunnels/s | spread | proxy CPU µs per tunnel | failed |")
        L.append("|---|--:|--:|--:|--:|")
        for kind, name in (("socks5", "warpd SOCKS5"), ("connect", "warpd CONNECT")):
            xs = res["tunnels"].get(kind, [])
            if xs:
                v = [x["per_sec"] for x in xs]
                m = statistics.median(v)
                L.append("| %s | %s | %.0f%% | %.1f | %d |" % (
                    name, fmt_int(m), (max(v) - min(v)) / m * 100 if m else 0,
                    statistics.median([x["us_per_tunnel"] for x in xs]),
                    sum(x["failed"] for x in xs)))
        L.append("")
        L.append("20 connections at a time, each opening a tunnel to the origin (SOCKS5 with an "
                 "IPv4 address, or CONNECT), sending one GET /small through it, reading the answer "
                 "and closing; medians of the rounds.")
        L.append("")
    if shape:
        L += shape_section(res, shape)
    if bulk:
        L.append("## Bulk: one 64 MiB download (curl -o /dev/null), %d per path"
                 % next(iter(bulk.values()))["n"])
        L.append("")
        L.append("| path | MB/s | ms per 64 MiB | spread | proxy CPU s per 64 MiB "
                 "| CONNECT ÷ this | TCP ÷ this |")
        L.append("|---|--:|--:|--:|--:|--:|--:|")
        for k, r in bulk.items():
            c = ratio(bulk["connect"]["mbs"], r["mbs"]) if "connect" in bulk else "-"
            t = ratio(bulk["tcp"]["mbs"], r["mbs"]) if "tcp" in bulk else "-"
            L.append("| %s | %.0f | %.1f | %.0f%% | %.3f | %s | %s |" % (
                r["name"], r["mbs"], r["ms"], r["spread"], r["cpu"], c, t))
        L.append("")
        L.append("MB/s is 10^6 bytes per second, from curl's total time (connect and CONNECT "
                 "included); proxy CPU: the mean over all downloads. The CONNECT path goes through warpd in forward mode "
                 "(`curl -p -x`), SOCKS5 through the same port (`curl --socks5`), TCP mode through warpd `mode tcp`. "
                 "splicefloor.c is not a proxy to use: a relay reduced to two blocking splice(2) loops "
                 "through a pipe, a thread per direction, to show what any relay on this machine "
                 "pays.")
        L.append("")
    if mem:
        n = info["conns"]
        L.append("## Memory: worker RSS per connection, %s connections held" % fmt_int(n))
        L.append("")
        L.append("| daemon | connections | RSS before | idle: RSS after | idle B/conn "
                 "| half head: RSS after | half head B/conn | warpd ÷ this (idle, half) |")
        L.append("|---|--:|--:|--:|--:|--:|--:|--:|")
        w = next((r for r in mem if r["name"] == "warpd"), None)
        for r in mem:
            rt = ""
            if w and r is not w:
                rt = "%s, %s" % (ratio(w["idle"]["per_conn"], r["idle"]["per_conn"]),
                                 ratio(w["half"]["per_conn"], r["half"]["per_conn"]))
            L.append("| %s | %s | %s KiB | %s KiB | %s | %s KiB | %s | %s |" % (
                r["name"], fmt_int(r["idle"]["n"]), fmt_int(r["idle"]["base"] / 1024), fmt_int(r["idle"]["after"] / 1024),
                fmt_int(r["idle"]["per_conn"]), fmt_int(r["half"]["after"] / 1024),
                fmt_int(r["half"]["per_conn"]), rt))
        L.append("")
        L.append("A fresh daemon per test (warpd reverse with 1 worker, nginx and HAProxy as "
                 "above), warmed up with 20 requests; then that many connections from one Python "
                 "client, idle or each holding `GET /small HTTP/1.1\\r\\nHost: x\\r\\n` "
                 "(no blank line). B/conn = (VmRSS after - VmRSS before) / connections, of the "
                 "worker process; kernel socket memory is not in RSS. nginx allocates its "
                 "connection and event structures for all `worker_connections` (20 000 here) "
                 "when it starts, so they are in its RSS before and not in its B/conn; compare "
                 "the RSS after as well.%s Still held when RSS was read (idle/half): %s." % (
                     "" if all(r["idle"]["n"] >= n for r in mem) else
                     " HAProxy refuses to start unless the open-file limit (%s here; raising it "
                     "needs CAP_SYS_RESOURCE) covers two descriptors per connection, so it holds "
                     "fewer." % fmt_int(info.get("nofile", 0)),
                     ", ".join(
                         "%s %s/%s" % (r["name"], fmt_int(r["idle"]["alive"]),
                                       fmt_int(r["half"]["alive"])) for r in mem)))
        L.append("")
    prof = res.get("profile")
    if prof and prof["rps"]:
        L.append("## Syscalls per request (strace -c, a separate 3 s wrk run each)")
        L.append("")
        L.append("| contender | requests under strace | syscalls/request | of which failed "
                 "| per request, by syscall (failed) |")
        L.append("|---|--:|--:|--:|---|")
        for r in prof["rps"]:
            n = max(r["requests"], 1)
            tot = sum(v[0] for v in r["calls"].values())
            err = sum(v[1] for v in r["calls"].values())
            top = sorted(r["calls"].items(), key=lambda kv: -kv[1][0])
            parts = ["%s %.2f%s" % (k, v[0] / n, " (%.2f)" % (v[1] / n) if v[1] else "")
                     for k, v in top if v[0] / n >= 0.01][:7]
            L.append("| %s | %s | %.2f | %.2f | %s |" % (r["name"], fmt_int(r["requests"]),
                                                          tot / n, err / n, ", ".join(parts)))
        L.append("")
        L.append("Calls of the proxy's worker only (all threads for squid); strace slows it, so "
                 "the request counts are lower than above. A failed epoll_ctl is libev re-adding "
                 "a descriptor that is still registered (EEXIST); a failed recvfrom is EAGAIN.")
        L.append("")
    if prof and prof["bulk"]:
        L.append("## Syscalls per 64 MiB transfer (strace -c)")
        L.append("")
        L.append("| path | syscalls | by syscall |")
        L.append("|---|--:|---|")
        for r in prof["bulk"]:
            top = sorted(r["calls"].items(), key=lambda kv: -kv[1][0])
            L.append("| %s | %s | %s |" % (r["name"], fmt_int(sum(v[0] for v in r["calls"].values())),
                                          ", ".join("%s %s" % (k, fmt_int(v[0]))
                                                    for k, v in top[:6])))
        L.append("")
    bl = budgets(rps, bulk, mem, floor_rows(res), shape, (res.get("shape") or {}).get("auto"))
    if bl:
        L.append("## Budgets (DESIGN.md section 6)")
        L.append("")
        L.append("| budget | measured | result |")
        L.append("|---|---|---|")
        for text, measured, ok in bl:
            L.append("| %s | %s | %s |" % (text, measured, ok))
        L.append("")
        L.append("Ratios are of the medians. Per round: the lowest and highest of the same "
                 "ratio taken round by round (for bulk, of each round's median download; for "
                 "split against the floor, of each round's extra CPU over the floor's); memory "
                 "is measured once. Within the noise: some rounds (for bulk, a quarter "
                 "or more of the paired downloads) fell on the other side of the line, so this "
                 "result may flip from one run to the next.")
        L.append("")
        if {"warpd_rev", "nginx", "haproxy"} <= rps.keys():
            cpu = {k: rps[k]["us_per_req"] for k in ("warpd_rev", "nginx", "haproxy")}
            best = min(("nginx", "haproxy"), key=lambda k: cpu[k])
            L.append("The same comparison by CPU time per request, which the machine's noise "
                     "moves less (not a budget of DESIGN.md): warpd reverse %.1f µs, nginx %.1f µs, "
                     "HAProxy %.1f µs; the leaner peer uses %.2fx warpd's CPU per request." % (
                         cpu["warpd_rev"], cpu["nginx"], cpu["haproxy"],
                         cpu[best] / cpu["warpd_rev"]))
            L.append("")
    if rps or bulk or mem or shape:
        L.append("![requests/s, bulk MB/s, memory per connection and time to first byte]"
                 "(results.png)")
        L.append("")
    md = "\n".join(L)
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write(md)
    chart(rps, bulk, mem, outdir, workdir, info, shape)
    return md


def chart(rps, bulk, mem, outdir, workdir, info, shape=None):
    short = {"direct": "origin direct", "warpd_rev": "warpd rev", "nginx": "nginx",
             "haproxy": "HAProxy", "warpd_fwd": "warpd fwd", "warpd_split": "warpd fwd split",
             "warpd_split1": "warpd fwd split 1st",
             "warpd_rev_var": "warpd rev /varied", "nginx_var": "nginx /varied",
             "haproxy_var": "HAProxy /varied",
             "squid": "squid", "tinyproxy": "tinyproxy", "rev_w2": "warpd rev 2w",
             "rev_w1_c100": "warpd rev -c100", "rev_w2_c100": "warpd rev 2w -c100",
             "defaults_rev": "warpd rev defaults", "defaults_fwd": "warpd fwd defaults",
             "metrics_rev": "warpd rev /metrics", "relay_whole": "relayfloor whole",
             "relay_split": "relayfloor split"}
    color = lambda name: "0x1f77b4" if name.startswith("warpd") else (
        "0x999999" if "direct" in name or "floor" in name else "0xff7f0e")
    with open(os.path.join(workdir, "rps.dat"), "w") as f:
        for k, r in rps.items():
            lab = short.get(k, k)
            f.write('"%s" %s %.0f %.0f %.0f\n' % (lab, color(lab), r["rps"], min(r["per_round"]),
                                                 max(r["per_round"])))
    with open(os.path.join(workdir, "bulk.dat"), "w") as f:
        # Short labels, so that six bars fit; the colour goes by what the path is.
        lab = {"direct": ("direct", "direct"), "connect": ("CONNECT", "warpd"),
               "socks5": ("SOCKS5", "warpd"), "tcp": ("tcp mode", "warpd"),
               "haproxy_tcp": ("HAProxy tcp", "HAProxy"), "splicefloor": ("splicefloor", "floor")}
        for k, r in bulk.items():
            name, kind = lab.get(k, (k, k))
            f.write('"%s" %s %.0f %.0f %.0f\n' % (name, color(kind), r["mbs"], r["q1"], r["q3"]))
    with open(os.path.join(workdir, "mem.dat"), "w") as f:
        for r in mem:
            f.write('"%s" %.0f %.0f\n' % (r["name"], r["idle"]["per_conn"], r["half"]["per_conn"]))
    title = "warpd bench, %s, commit %s, %s CPUs" % (info["date"], info["commit"],
                                                     info["machine"]["nproc"])
    shape = shape or {}
    with open(os.path.join(workdir, "ttfb.dat"), "w") as f:
        for s in ("direct", "off", "split", "disorder", "fake", "oob", "tlsrec", "warp", "auto"):
            if (s, "http") in shape or (s, "tls") in shape:
                f.write('"%s" %s\n' % ("origin direct" if s == "direct" else s, " ".join(
                    "%.4f" % x if x == x else "NaN"  # NaN: no answer, no bar
                    for k in ("http", "tls") for x in (
                        (shape[(s, k)]["p50"], shape[(s, k)]["p90"]) if (s, k) in shape
                        else (float("nan"),) * 2))))
    r = subprocess.run(["gnuplot", "-e", "dir='%s'; out='%s'; ttl='%s'; hasrps=%d; hasbulk=%d; "
                        "hasmem=%d; hasttfb=%d" % (workdir, os.path.join(outdir, "results.png"),
                                                   title, bool(rps), bool(bulk), bool(mem),
                                                   bool(shape)),
                        os.path.join(HERE, "results.gp")], capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise RuntimeError("gnuplot failed:\n" + r.stderr)


if __name__ == "__main__":
    # Redraws results.md and results.png from a results.json:
    # python3 bench/report.py bench/results.json [OUTDIR]
    import json
    import sys
    import tempfile

    with open(sys.argv[1]) as f:
        data = json.load(f)
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(sys.argv[1]))
    with tempfile.TemporaryDirectory() as tmp:
        print(write(data, out, tmp))
