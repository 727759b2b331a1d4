-- wrk script for slowstreams.sh (run with -t1 -cSTREAMS): every connection opens one streaming chat completion
-- and holds it until the upstream ends it; the run ends once STREAMS streams have ended (a connection whose
-- stream ended early sends another meanwhile, cut when the run ends). A stream is completed when it answered 200
-- and ended with data: [DONE]; anything else is failed (socket errors are in errors=).
dofile((os.getenv("BENCH_LUA_DIR") or "bench/gateway") .. "/result.lua")
local streams = tonumber(os.getenv("STREAMS") or "2000")
wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.body = '{"model":"gpt-4o-mini","stream":true,"max_tokens":512,"messages":[{"role":"user","content":"Tell me a long story."}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-0000000000000000"
completed, failed = 0, 0

function response(status, headers, body)
  bench_count_status(status)
  if status == 200 and body and string.find(body, "data: [DONE]", 1, true) then
    completed = completed + 1
  else
    failed = failed + 1
  end
  if completed + failed >= streams then bench_stop(0) end
end

function done(summary, latency, requests)
  bench_result(summary, latency, { "completed", "failed" })
end
