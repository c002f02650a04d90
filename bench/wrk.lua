-- wrk script used by scripts/bench for every requests/s row.
-- With BENCH_ABSOLUTE set (http://HOST:PORT/path) it sends absolute-form
-- requests, as a client configured to use a forward proxy does; the Host
-- header names the origin, not the proxy. done() prints one line, "BENCH"
-- followed by JSON, so bench.py does not have to parse wrk's text report
-- (latencies there are rounded to two decimals in varying units).
local target = os.getenv("BENCH_ABSOLUTE")
if target and target ~= "" then
   wrk.path = target
   wrk.headers["Host"] = target:match("^http://([^/]+)")
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
      '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
end
