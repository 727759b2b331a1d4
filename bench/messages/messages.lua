-- wrk script: POST a small Anthropic Messages request (or, with PATH_CHAT=1, the same prompt as an OpenAI chat
-- completion) so the two paths of one LlmServer instance are compared side by side.
-- Environment: STREAM=1 for "stream": true; PATH_CHAT=1 for /v1/chat/completions.
-- done() prints one line starting with "RESULT".
local stream = os.getenv("STREAM") == "1"
local chat = os.getenv("PATH_CHAT") == "1"

if chat then
  wrk.path = "/v1/chat/completions"
  wrk.body = '{"model":"gpt-4o-mini","messages":[' ..
    '{"role":"system","content":"You are a helpful assistant."},' ..
    '{"role":"user","content":"What is the capital of France? Answer in two sentences."}],' ..
    '"temperature":0.2,"max_tokens":64' .. (stream and ',"stream":true' or '') .. '}'
else
  wrk.path = "/v1/messages"
  wrk.body = '{"model":"gpt-4o-mini","system":"You are a helpful assistant.","messages":[' ..
    '{"role":"user","content":"What is the capital of France? Answer in two sentences."}],' ..
    '"temperature":0.2,"max_tokens":64' .. (stream and ',"stream":true' or '') .. '}'
  wrk.headers["anthropic-version"] = "2023-06-01"
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-0000000000000000"

local threads = {}
function setup(thread) table.insert(threads, thread) end

good, bad = 0, 0
local marker = chat and (stream and "[DONE]" or "chat.completion") or (stream and "message_stop" or "\"type\":\"message\"")
function response(status, headers, b)
  if status == 200 and b and string.find(b, marker, 1, true) then good = good + 1 else bad = bad + 1 end
end

function done(summary, latency, requests)
  local g, b = 0, 0
  for _, t in ipairs(threads) do g = g + (t:get("good") or 0); b = b + (t:get("bad") or 0) end
  io.write(string.format("RESULT rps=%.1f p50_us=%d p99_us=%d requests=%d non2xx=%d body_ok=%d body_bad=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    summary.requests, summary.errors.status, g, b))
end
