-- wrk script for soak.sh: normal traffic, chat completions alternating non-stream and stream (MODEL, default
-- gpt-4o-mini); DELAY_MS > 0 waits that long between a connection's requests (a moderate rate: connections x
-- 1000 / DELAY_MS requests per second at most). Counts good answers (200 with a whole completion or a stream
-- that ends with [DONE]) and bad ones.
dofile((os.getenv("BENCH_LUA_DIR") or "bench/gateway") .. "/result.lua")
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
local model = os.getenv("MODEL") or "gpt-4o-mini"
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer sk-bench-0000000000000000" }
local function body(stream)
  return '{"model":"' .. model .. '","messages":[{"role":"system","content":"You are a helpful assistant."},' ..
    '{"role":"user","content":"What is the capital of France? Answer in two sentences."}],"max_tokens":64' ..
    (stream and ',"stream":true' or '') .. '}'
end
local requests
local n = 0
good, bad = 0, 0

-- NOTE: in init, not at load: wrk.format adds the Host header only once wrk knows the host.
function init(args)
  requests = { wrk.format("POST", "/v1/chat/completions", headers, body(false)),
               wrk.format("POST", "/v1/chat/completions", headers, body(true)) }
end

function request()
  n = n + 1
  return requests[n % 2 + 1]
end

if delay_ms > 0 then
  function delay() return delay_ms end
end

function response(status, h, b)
  bench_count_status(status)
  if status == 200 and b and (string.find(b, "data: [DONE]", 1, true) or string.find(b, '"chat.completion"', 1, true)) then
    good = good + 1
  else
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  bench_result(summary, latency, { "good", "bad" })
end
