-- wrk script for slowstreams.sh (run with -t1 -c1): GET /health every PERIOD_MS (default 100) on one
-- keep-alive connection; the RESULT line's percentiles are /health's latency.
dofile((os.getenv("BENCH_LUA_DIR") or "bench/gateway") .. "/result.lua")
local period = tonumber(os.getenv("PERIOD_MS") or "100")
wrk.method = "GET"
wrk.path = "/health"

function delay()
  return period
end

function response(status, headers, body)
  bench_count_status(status)
end

function done(summary, latency, requests)
  bench_result(summary, latency)
end
