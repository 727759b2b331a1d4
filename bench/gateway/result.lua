-- Shared by the bench/gateway wrk scripts (loaded with dofile): one machine-readable RESULT line per wrk run.
-- A script counts in thread globals (numbers, or the table `statuses` of status -> count) and calls
-- bench_result(summary, latency, {"name", ...}) from done(); the named counters are summed over threads.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- Counts one answer by status in the thread's `statuses` table (call it from response()).
function bench_count_status(status)
  statuses = statuses or {}
  statuses[status] = (statuses[status] or 0) + 1
end

function bench_result(summary, latency, counters)
  local e = summary.errors
  local line = string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d " ..
    "errors=%d connect_err=%d read_err=%d write_err=%d timeouts=%d bytes=%d",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout, e.connect, e.read, e.write, e.timeout, summary.bytes)
  for _, name in ipairs(counters or {}) do
    local total = 0
    for _, t in ipairs(threads) do total = total + (t:get(name) or 0) end
    line = line .. " " .. name .. "=" .. total
  end
  local hist, codes = {}, {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses") or {}) do
      if not hist[code] then table.insert(codes, code) end
      hist[code] = (hist[code] or 0) + n
    end
  end
  table.sort(codes)
  local parts = {}
  for _, code in ipairs(codes) do table.insert(parts, code .. ":" .. hist[code]) end
  line = line .. " statuses=" .. (#parts > 0 and table.concat(parts, ",") or "-")
  io.write(line .. "\n")
end

-- Ends the whole wrk run GRACE seconds from now (answers in flight arrive meanwhile). wrk sleeps out -d in its
-- main thread and only its SIGINT handler cuts that short (the threads notice within 100 ms). The shell
-- os.execute starts is wrk's child ($PPID); the signal is sent from the background, since system() ignores
-- SIGINT while it waits.
function bench_stop(grace)
  if not bench_stopping then
    bench_stopping = true
    os.execute("(sleep " .. (grace or 0) .. "; kill -INT $PPID) >/dev/null 2>&1 &")
  end
end
