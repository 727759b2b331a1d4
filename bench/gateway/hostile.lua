-- wrk script for soak.sh: hostile requests of one KIND, each built by wrk.format (distinct paths, keys and model
-- names, so that nothing a server caches or labels by them stays small), until N were sent (run it with -t1).
--   KIND: malformed_json | oversize | huge_headers | unknown_model | random_path | invalid_key | deep_json
-- Prints RESULT with sent= and statuses= (answers by status; a 413/431 answer closes the connection, so some of
-- those show as socket errors or are not seen at all).
dofile((os.getenv("BENCH_LUA_DIR") or "bench/gateway") .. "/result.lua")
local kind = os.getenv("KIND") or "malformed_json"
local limit = tonumber(os.getenv("N") or "1000")
local master = "sk-bench-0000000000000000"
math.randomseed(20261202)

local function token(n)
  local t = {}
  for j = 1, n do
    local r = math.random(0, 35)
    t[j] = string.char(r < 10 and 48 + r or 87 + r)
  end
  return table.concat(t)
end
local function openai(key) return { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. (key or master) } end
local function anthropic(key) return { ["Content-Type"] = "application/json", ["x-api-key"] = key or master, ["anthropic-version"] = "2023-06-01" } end
local chat = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
local deep_arrays = '{"model":"gpt-4o-mini","messages":' .. string.rep("[", 5000) .. string.rep("]", 5000) .. '}'
local deep_objects = '{"model":"claude-haiku-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}],"metadata":' ..
  string.rep('{"a":', 3000) .. '1' .. string.rep("}", 3000) .. '}'
local just_over = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"x":' .. string.rep("[", 64) .. string.rep("]", 64) .. '}'
local big_prompt = string.rep("a", 2 * 1024 * 1024)

local kinds = {
  malformed_json = {
    function(i) return wrk.format("POST", "/v1/chat/completions", openai(), '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi ' .. i .. '"}') end,
    function(i) return wrk.format("POST", "/v1/messages", anthropic(), "this is not json " .. i) end,
    function(i) return wrk.format("POST", "/api/v1/chat", openai(), '{"session_id":"s-' .. i .. '","user_prompt":') end,
    function(i) return wrk.format("POST", "/v1/chat/completions", openai(), '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"\255\254\253 ' .. i .. '"}]}') end,
    function(i) return wrk.format("POST", "/v1/chat/completions", openai(), '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"\\ud800 ' .. i .. '"}]}') end,
    function(i) return wrk.format("POST", "/v1/chat/completions", openai(), '{"model":"gpt-4o-mini","model":"gpt-4o","messages":[{"role":"user","content":"' .. i .. '"}]}') end,
    function(i) return wrk.format("POST", "/v1/embeddings", openai(), "[1,2," .. i .. "]") end,
    function(i) local h = openai(); h["Content-Type"] = "text/plain; charset=latin1"; return wrk.format("POST", "/v1/responses", h, '{"model":"gpt-4o-mini","input":"' .. i .. '"}') end,
  },
  oversize = { -- the session chat API's limit is 1 MB as shipped (the /v1 limit, 32 MB, is sized for coding agents)
    function(i) return wrk.format("POST", "/api/v1/chat", openai(), '{"session_id":"big-' .. i .. '","user_prompt":"' .. big_prompt .. '"}') end,
    function(i) return wrk.format("POST", "/api/v1/chat/stream", openai(), '{"session_id":"big-' .. i .. '","user_prompt":"' .. big_prompt .. '"}') end,
  },
  huge_headers = {
    function(i) local h = openai(); h["X-Filler"] = string.rep("h", 64 * 1024); return wrk.format("GET", "/v1/models", h) end,
    function(i) local h = openai(); for j = 1, 150 do h["X-Header-" .. j] = token(12) end; return wrk.format("POST", "/v1/chat/completions", h, chat) end,
    function(i) local h = openai(); h["Cookie"] = "c=" .. string.rep("k", 24 * 1024) .. i; return wrk.format("POST", "/v1/chat/completions", h, chat) end,
    function(i) return wrk.format("GET", "/v1/models?q=" .. string.rep("u", 16 * 1024) .. i, openai()) end,
  },
  unknown_model = {
    function(i) return wrk.format("POST", "/v1/chat/completions", openai(), '{"model":"hostile-model-' .. i .. '-' .. token(6) .. '","messages":[{"role":"user","content":"hi"}]}') end,
    function(i) return wrk.format("POST", "/v1/messages", anthropic(), '{"model":"claude-hostile-' .. i .. '","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}') end,
    function(i) return wrk.format("POST", "/v1/embeddings", openai(), '{"model":"embed-hostile-' .. i .. '","input":"hi"}') end,
    function(i) return wrk.format("POST", "/v1/chat/completions", openai(), '{"model":"hostile-stream-' .. i .. '","stream":true,"messages":[{"role":"user","content":"hi"}]}') end,
  },
  random_path = {
    function(i) return wrk.format("GET", "/v1/" .. token(10) .. "/" .. i, openai()) end,
    function(i) return wrk.format("POST", "/api/v1/" .. token(8), openai(), "{}") end,
    function(i) return wrk.format("GET", "/" .. token(12) .. ".php", {}) end,
    function(i) return wrk.format("DELETE", "/v1/chat/completions/" .. token(16), openai()) end,
    function(i) return wrk.format("GET", "/dashboard/" .. token(8) .. "/" .. i, {}) end,
    function(i) return wrk.format("PUT", "/docs/" .. token(8), {}, "x") end,
    function(i) return wrk.format("GET", "/v1/models/" .. token(14), openai()) end,
    function(i) return wrk.format("GET", "/api/v1/chat/sessions/" .. token(20), openai()) end,
  },
  invalid_key = {
    function(i) return wrk.format("POST", "/v1/chat/completions", openai("sk-hostile-" .. i .. "-" .. token(24)), chat) end,
    function(i) return wrk.format("POST", "/v1/messages", anthropic("sk-ant-hostile-" .. token(32)), '{"model":"gpt-4o-mini","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}') end,
    function(i) return wrk.format("POST", "/api/v1/chat", openai("sk-" .. token(40)), '{"session_id":"k-' .. i .. '","user_prompt":"hi"}') end,
    function(i) return wrk.format("GET", "/metrics", openai("sk-metrics-" .. token(16))) end,
    function(i) return wrk.format("POST", "/v1/chat/completions", { ["Content-Type"] = "application/json" }, chat) end,
    function(i) return wrk.format("POST", "/v1/chat/completions", { ["Content-Type"] = "application/json", ["Authorization"] = "Basic " .. token(20) }, chat) end,
  },
  deep_json = {
    function(i) return wrk.format("POST", "/v1/chat/completions", openai(), deep_arrays) end,
    function(i) return wrk.format("POST", "/v1/messages", anthropic(), deep_objects) end,
    function(i) return wrk.format("POST", "/api/v1/chat", openai(), '{"session_id":"d-' .. i .. '","user_prompt":"hi","x":' .. string.rep("[", 3000) .. string.rep("]", 3000) .. '}') end,
    function(i) return wrk.format("POST", "/v1/chat/completions", openai(), just_over) end,
  },
}
local builders = assert(kinds[kind], "unknown KIND " .. kind)

-- After the N-th request a connection sends nothing more (only one that reconnects after a closed connection
-- does, counted in sent), and the run ends a second later, once the answers in flight have arrived.
-- NOTE: wrk calls request() once per thread to check the script before the run and never sends that request,
-- so the first call is not counted.
sent = 0
local calls = 0
function request()
  calls = calls + 1
  if calls > 1 then sent = sent + 1 end
  if sent >= limit then bench_stop(1) end
  return builders[sent % #builders + 1](sent)
end

function delay()
  return bench_stopping and 60000 or 0
end

function response(status, headers, body)
  bench_count_status(status)
end

function done(summary, latency, requests)
  bench_result(summary, latency, { "sent" })
end
