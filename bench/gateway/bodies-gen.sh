#!/usr/bin/env bash
# Writes the chat-completion bodies bodies.sh sends, the same bytes on every run (a fixed pseudo-random
# sequence, no clock, no secrets: nothing in them is a value the masking detectors look for):
#   prose-1k.json prose-10k.json prose-100k.json prose-1m.json  one user message of clean Korean+English prose
#   agent-121k.json  a coding agent's turn: a long system prompt, 14 tool definitions, tool calls whose results
#                    are source files, and the next user message
#   bodies-gen.sh DIR
set -euo pipefail
DIR=${1:?output directory}
mkdir -p "$DIR"
export LC_ALL=C   # awk's length() counts bytes

# The masking bench's clean prose sentences (0 detections on 1 MB there) and a few more of the same kind.
SENTENCES='오늘 회의에서는 2024년 3분기 매출과 신규 기능 일정을 논의했습니다. 
The deployment pipeline finished in 12 minutes and all 348 tests passed. 
서울 지역의 트래픽이 지난주 대비 17% 증가했고, 응답 시간은 평균 230ms였습니다. 
Please review the pull request before Friday; the migration touches 3 tables. 
고객 문의는 대부분 결제 화면의 버튼 위치에 관한 것이었습니다. 
We moved the cache to a larger node, which cut p99 latency from 1.2 s to 0.4 s. 
다음 주에는 검색 기능의 정확도를 높이는 실험을 시작할 예정입니다. 
The team agreed to write the design notes before touching the storage layer. 
새 온보딩 문서는 신입 개발자가 첫날 환경을 준비하는 데 도움이 됩니다. 
Most of the slow pages were waiting on a single report query that ran twice. '

# prose BYTES: about BYTES bytes of prose (whole sentences in a fixed order, padded with spaces)
prose() {
  awk -v want="$1" -v text="$SENTENCES" 'BEGIN {
    n = split(text, s, "\n"); x = 20261202; out = 0
    while (1) {
      x = (x * 16807) % 2147483647; i = 1 + x % n
      if (out + length(s[i]) > want) break
      printf "%s", s[i]; out += length(s[i])
    }
    while (out < want) { printf " "; out++ }
  }'
}

# code BYTES SEED: C#-like source of about BYTES bytes once JSON-escaped (newlines and quotes count twice)
code() {
  awk -v want="$1" -v seed="$2" 'BEGIN {
    split("Order Invoice Customer Shipment Catalog Report Schedule Inventory Payment Review", noun, " ")
    split("Load Save Validate Merge Render Archive Publish Refresh", verb, " ")
    x = seed; out = 0; k = 0
    while (out < want) {
      x = (x * 16807) % 2147483647; a = noun[1 + x % 10]; b = verb[1 + int(x / 10) % 8]; k++
      n = split("namespace Contoso." a ";\n" \
        "\n" \
        "/// <summary>Keeps the " tolower(a) " records of one tenant and answers the queries the UI makes.</summary>\n" \
        "public sealed class " a "Service" k "(I" a "Store store, ILogger<" a "Service" k "> logger)\n" \
        "{\n" \
        "    public async Task<" a "?> " b "Async(" a "Id id, CancellationToken cancellationToken)\n" \
        "    {\n" \
        "        var item = await store.FindAsync(id, cancellationToken).ConfigureAwait(false);\n" \
        "        if (item is null)\n" \
        "        {\n" \
        "            logger.LogInformation(\"No " tolower(a) " with this id in the store\");\n" \
        "            return null;\n" \
        "        }\n" \
        "        var changed = item with { UpdatedAt = DateTimeOffset.UtcNow, Revision = item.Revision + 1 };\n" \
        "        await store.SaveAsync(changed, cancellationToken).ConfigureAwait(false);\n" \
        "        return changed;\n" \
        "    }\n" \
        "\n" \
        "    public IReadOnlyList<" a "> Filter(IEnumerable<" a "> items, string query) =>\n" \
        "        items.Where(i => i.Name.Contains(query, StringComparison.OrdinalIgnoreCase))\n" \
        "             .OrderBy(i => i.Name, StringComparer.Ordinal)\n" \
        "             .Take(50)\n" \
        "             .ToList();\n" \
        "}\n" \
        "\n", lines, "\n")
      for (j = 1; j < n && out < want; j++) {
        line = lines[j]; q = gsub(/"/, "\"", line)
        print line; out += length(line) + q + 2
      }
    }
  }'
}

# system prompt of about BYTES bytes: numbered sections of agent rules
rules() {
  awk -v want="$1" 'BEGIN {
    r[1] = "Read the files you are about to change before you change them, and keep each edit as small as the task allows."
    r[2] = "Run the tests that cover the code you touched, and report the command you ran and what it printed."
    r[3] = "Prefer the libraries the project already uses; do not add a dependency to save a few lines."
    r[4] = "When a command fails, read the whole error before trying again, and say what you changed in between."
    r[5] = "Keep the user informed in short sentences: what you found, what you will do next, and why."
    r[6] = "Never rewrite history that others may have pulled, and never delete files you did not create."
    r[7] = "Ask before running anything that leaves the machine or changes shared state outside the working copy."
    r[8] = "Name things after what they mean in the domain, and write comments that say why, not what."
    x = 7; out = 0; sec = 0
    while (out < want) {
      sec++; h = "## Section " sec ": working rules"; print h; out += length(h) + 2
      for (j = 0; j < 6 && out < want; j++) { x = (x * 16807) % 2147483647; l = "- " r[1 + x % 8]; print l; out += length(l) + 2 }
    }
  }'
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# prose-SIZE.json: the message is sized so that the whole body is SIZE bytes
for spec in 1k:1024 10k:10240 100k:102400 1m:1048576; do
  name=${spec%%:*}; size=${spec##*:}
  envelope() { jq -cn --rawfile p "$1" '{model:"gpt-4o-mini",messages:[{role:"system",content:"You are a helpful assistant."},{role:"user",content:$p}],max_tokens:64}'; }
  : >"$tmp/empty"
  overhead=$(envelope "$tmp/empty" | wc -c)
  prose $((size - overhead + 1)) >"$tmp/prose"   # overhead counts jq's newline
  envelope "$tmp/prose" | head -c -1 >"$DIR/prose-$name.json"   # no trailing newline: the body is SIZE bytes
done

# agent-121k.json: system prompt ~24 KB, tools ~12 KB, four source files as tool results filling the rest
target=123904
rules 24000 >"$tmp/system"
agent() { # the body with the four tool results read from $tmp/code1..4
  jq -cn --rawfile system "$tmp/system" --rawfile c1 "$tmp/code1" --rawfile c2 "$tmp/code2" \
    --rawfile c3 "$tmp/code3" --rawfile c4 "$tmp/code4" --rawfile tests "$tmp/tests" '
  def tool($name; $what; $props; $required): {type:"function", function:{name:$name,
    description:("\($what) " + ("The result is returned as plain text; long outputs are cut at 20,000 characters and say so. Paths are relative to the repository root. " * 3)),
    parameters:{type:"object", properties:$props, required:$required, additionalProperties:false}}};
  def str($d): {type:"string", description:$d};
  def call($id; $name; $args): {role:"assistant", content:null, tool_calls:[{id:$id, type:"function", function:{name:$name, arguments:($args|tojson)}}]};
  {model:"gpt-4o-mini", max_tokens:1024, temperature:0,
   messages:[
    {role:"system", content:$system},
    {role:"user", content:"The order export drops customers whose name has an accent. Find the cause, fix it, and add a test."},
    call("call_read_1"; "read_file"; {path:"src/Orders/OrderService.cs"}), {role:"tool", tool_call_id:"call_read_1", content:$c1},
    call("call_read_2"; "read_file"; {path:"src/Customers/CustomerService.cs"}), {role:"tool", tool_call_id:"call_read_2", content:$c2},
    call("call_grep_3"; "search_code"; {query:"OrdinalIgnoreCase", path:"src"}), {role:"tool", tool_call_id:"call_grep_3", content:$c3},
    call("call_read_4"; "read_file"; {path:"src/Reports/ReportService.cs"}), {role:"tool", tool_call_id:"call_read_4", content:$c4},
    call("call_test_5"; "run_tests"; {filter:"Export"}), {role:"tool", tool_call_id:"call_test_5", content:$tests},
    {role:"user", content:"Good. Now make the filter culture-aware and show me the diff before you run the tests again."}],
   tools:[
    tool("read_file"; "Reads a file of the working copy."; {path:str("file path"), start_line:{type:"integer"}, end_line:{type:"integer"}}; ["path"]),
    tool("write_file"; "Writes a whole file, creating folders as needed."; {path:str("file path"), content:str("the new content")}; ["path","content"]),
    tool("edit_file"; "Replaces one exact, unique string in a file."; {path:str("file path"), old:str("text to replace"), new:str("replacement")}; ["path","old","new"]),
    tool("list_dir"; "Lists a folder, two levels deep."; {path:str("folder path")}; ["path"]),
    tool("search_code"; "Searches the working copy for a literal string."; {query:str("the string"), path:str("folder to search")}; ["query"]),
    tool("run_command"; "Runs a shell command in the working copy and returns its output."; {command:str("the command"), timeout_seconds:{type:"integer"}}; ["command"]),
    tool("run_tests"; "Runs the test suite or the tests matching a filter."; {filter:str("test name filter")}; []),
    tool("git_diff"; "Shows the uncommitted changes."; {path:str("limit to this path")}; []),
    tool("git_log"; "Shows recent commits."; {count:{type:"integer"}}; []),
    tool("git_commit"; "Commits the staged changes."; {message:str("commit message")}; ["message"]),
    tool("open_issue"; "Reads an issue of the tracker."; {number:{type:"integer"}}; ["number"]),
    tool("build"; "Builds the solution in Release."; {project:str("project path")}; []),
    tool("format"; "Formats the files changed since the last commit."; {}; []),
    tool("ask_user"; "Asks the user a question and waits for the answer."; {question:str("the question")}; ["question"])]}'
}
prose 3000 >"$tmp/tests"
for i in 1 2 3 4; do : >"$tmp/code$i"; done
rest=$(( (target - $(agent | wc -c)) / 4 ))
for i in 1 2 3 4; do code "$rest" "$i" >"$tmp/code$i"; done
agent | head -c -1 >"$DIR/agent-121k.json"

for f in prose-1k prose-10k prose-100k agent-121k prose-1m; do
  printf '%s %s\n' "$f" "$(wc -c <"$DIR/$f.json")"
done
