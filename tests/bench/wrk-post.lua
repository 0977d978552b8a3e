-- wrk script for scripts/bench: by default POSTs a 600-byte body (about a
-- CMP ir) as application/pkixcmp (the transport-ceiling rows); with the
-- environment variable WRK_GET=1 it sends plain GETs (the OCSP GET row).
-- Prints one machine-readable line at the end (latencies in ms).
if os.getenv("WRK_GET") == "1" then
	wrk.method = "GET"
else
	wrk.method = "POST"
	wrk.body = string.rep("x", 600)
	wrk.headers["Content-Type"] = "application/pkixcmp"
end

function done(summary, latency, requests)
	local e = summary.errors
	local errors = e.connect + e.read + e.write + e.status + e.timeout
	local secs = summary.duration / 1e6
	local ok = summary.requests - e.status
	io.write(string.format(
	    "wrkresult done=%d errors=%d secs=%.2f tx/s=%.1f p50_ms=%.3f " ..
	    "p99_ms=%.3f max_ms=%.3f\n",
	    ok, errors, secs, ok / secs,
	    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
	    latency.max / 1000))
end
