using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Infrastructure;

namespace LlmServer.Tests.Conformance;

/// <summary>
/// The coding agents users point at LlmServer, run as the real CLIs from npm (tests/agent-clients): Claude Code
/// (`claude -p`) on /v1/messages, passed through to an Anthropic upstream and translated to an OpenAI-compatible
/// one, and Codex (`codex exec`, a custom provider on the Responses API). Each runs a real tool round trip: the
/// fake upstream asks for a shell command, the agent runs it, and its output comes back through the gateway.
/// Throwaway homes, telemetry and update checks off, bounded time.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class CodingAgentCliTests
{
    private const string MasterKey = "sk-agent-cli-master";
    private const string Marker = "llmserver-tool-roundtrip-7431";
    private static readonly TimeSpan RunLimit = TimeSpan.FromSeconds(120);

    private string _clients = "";
    private FakeUpstreamServer _fake = null!;
    private LlmServerApp _app = null!;
    private string _baseUrl = "";
    private string _home = "";

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _clients = Environment.GetEnvironmentVariable("LLMSERVER_TEST_AGENT_CLIENTS") ?? "";
        if (_clients.Length == 0)
        {
            Assert.Ignore("LLMSERVER_TEST_AGENT_CLIENTS is not set: run through scripts/test.sh, which installs Claude Code and Codex from npm.");
        }
        _fake = await FakeUpstreamServer.StartAsync();
        // NOTE: Claude Code's system prompt and tools alone are about 11k tokens; a coding model's context is far larger than the fake's default.
        _fake.MaxModelLen = 131072;
        _app = new LlmServerApp(new Dictionary<string, string?>
        {
            ["LlmServer:Auth:MasterKey"] = MasterKey,
            ["LlmServer:Anthropic:ApiKey"] = "sk-ant-upstream-key",
            ["LlmServer:Anthropic:BaseUrl"] = _fake.BaseUrl,
            ["LlmServer:Vllm:BaseUrl"] = _fake.V1Url,
            ["LlmServer:OpenAi:BaseUrl"] = _fake.V1Url,
            ["LlmServer:OpenAi:ApiKey"] = "sk-openai-upstream-key",
        });
        _app.UseKestrel(0);
        _app.StartServer();
        using var probe = _app.CreateClient();
        _baseUrl = probe.BaseAddress!.ToString().TrimEnd('/');
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
        if (_fake is not null) await _fake.DisposeAsync();
    }

    [SetUp]
    public void SetUp()
    {
        _fake.Reset();
        _home = Path.Combine(Path.GetTempPath(), "llmserver-agent-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_home);
    }

    [TearDown]
    public void TearDown()
    {
        try { Directory.Delete(_home, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    [TestCase("claude-sonnet-4-5", "/v1/messages", TestName = "ClaudeCode_Passthrough_RunsAToolRoundTrip_JsonOutput")]
    [TestCase("fake-vllm-model", "/v1/chat/completions", TestName = "ClaudeCode_TranslatedToOpenAiCompatible_RunsAToolRoundTrip_JsonOutput")]
    public async Task ClaudeCode_ToolRoundTrip(string model, string upstreamPath)
    {
        _fake.ToolCalls.Add(new ScriptedToolCall("Bash", $$"""{"command":"echo {{Marker}}","description":"Print the marker"}"""));

        var run = await RunAsync("claude", ["-p", "Run the marker command and tell me what it printed.", "--output-format", "json",
            "--model", model, "--allowedTools", "Bash(echo:*)"], ClaudeEnvironment());

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        var result = JsonNode.Parse(LastJsonLine(run.Stdout))!;
        Assert.That((bool?)result["is_error"], Is.False, run.ToString());
        Assert.That((string?)result["result"], Does.Contain(Marker), "the command's output went up as a tool result and came back in the answer");
        var calls = _fake.Requests.Where(r => r.Method == "POST" && r.Path.EndsWith(upstreamPath, StringComparison.Ordinal)).ToList();
        Assert.That(calls, Has.Count.GreaterThanOrEqualTo(2), "the tool call and the answer after it both went through the gateway");
        Assert.That(calls.Any(r => r.Body.Contains(Marker, StringComparison.Ordinal) && r.Body.Contains(upstreamPath == "/v1/messages" ? "tool_result" : "\"tool\"", StringComparison.Ordinal)),
            "the tool's result reached the upstream in its own dialect");
        var session = (string?)result["session_id"];
        var rows = await LedgerRowsAsync(session!, calls.Count);
        Assert.That(rows.Select(r => (string?)r!["route"]), Is.All.EqualTo("messages"), "the ledger groups the agent's turns under its session id");
    }

    /// <summary>The ledger rows of one session (the ledger writes in batches: waits until they are there).</summary>
    private async Task<List<JsonNode?>> LedgerRowsAsync(string sessionId, int atLeast)
    {
        using var http = _app.CreateClient();
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", MasterKey);
        List<JsonNode?> rows = [];
        for (var i = 0; i < 50; i++)
        {
            var page = JsonNode.Parse(await http.GetStringAsync("/api/v1/usage/requests?limit=200"))!;
            rows = page["data"]!["data"]!.AsArray().Where(r => (string?)r?["session_id"] == sessionId).ToList();
            if (rows.Count >= atLeast) return rows;
            await Task.Delay(100);
        }
        Assert.Fail($"the ledger has {rows.Count} rows for session {sessionId}, expected {atLeast}");
        return rows;
    }

    [Test]
    public async Task ClaudeCode_StreamJsonOutput_EndsWithASuccessfulResult()
    {
        // NOTE: a scripted call to a tool Claude Code does not offer: the fake answers with text.
        _fake.ToolCalls.Add(new ScriptedToolCall("not-offered", "{}"));
        var run = await RunAsync("claude", ["-p", "안녕하세요, 한 줄로 답해 주세요.", "--output-format", "stream-json", "--verbose",
            "--model", "claude-sonnet-4-5"], ClaudeEnvironment());

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        var events = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        var last = events[^1];
        Assert.That((string?)last["type"], Is.EqualTo("result"));
        Assert.That((string?)last["subtype"], Is.EqualTo("success"), run.ToString());
        Assert.That((string?)last["result"], Does.Contain("안녕하세요"));
    }

    [Test]
    public async Task Codex_Exec_OnTheResponsesApi_RunsAToolRoundTrip_AndResumes()
    {
        WriteCodexConfig();
        // NOTE: Codex names its shell tool differently across releases; the fake calls whichever one it offers.
        _fake.ToolCalls.Add(new ScriptedToolCall("exec_command", $$"""{"cmd":"echo {{Marker}}"}"""));
        _fake.ToolCalls.Add(new ScriptedToolCall("shell_command", $$"""{"command":"echo {{Marker}}"}"""));
        _fake.ToolCalls.Add(new ScriptedToolCall("shell", $$"""{"command":["echo","{{Marker}}"]}"""));
        var work = Directory.CreateDirectory(Path.Combine(_home, "work")).FullName;

        var first = await RunAsync("codex", ["exec", "--skip-git-repo-check", "--cd", work, "Run the marker command."], CodexEnvironment());

        Assert.That(first.ExitCode, Is.EqualTo(0), first.ToString());
        var responses = _fake.Requests.Where(r => r.Method == "POST" && r.Path.EndsWith("/v1/responses", StringComparison.Ordinal)).ToList();
        Assert.That(responses.Any(r => r.Body.Contains("function_call_output", StringComparison.Ordinal) && r.Body.Contains(Marker, StringComparison.Ordinal)),
            "the command ran and its output went back up; tools offered: " + string.Join(",", responses.FirstOrDefault()?.Json?["tools"]?.AsArray().Select(t => (string?)t?["name"]) ?? []));
        Assert.That(first.Stdout + first.Stderr, Does.Contain(Marker));

        _fake.Reset();
        var resumed = await RunAsync("codex", ["exec", "--skip-git-repo-check", "--cd", work, "resume", "--last", "무엇을 출력했나요?"], CodexEnvironment());

        Assert.That(resumed.ExitCode, Is.EqualTo(0), resumed.ToString());
        Assert.That(resumed.Stdout, Does.Contain("무엇을 출력했나요?"), "the resumed session's answer came through");
        var resumedCall = _fake.Requests.First(r => r.Method == "POST" && r.Path.EndsWith("/v1/responses", StringComparison.Ordinal));
        Assert.That(resumedCall.Body, Does.Contain(Marker), "resume sent the earlier turns, tool output included");
    }

    private Dictionary<string, string> ClaudeEnvironment() => new()
    {
        ["HOME"] = _home,
        ["ANTHROPIC_BASE_URL"] = _baseUrl,
        ["ANTHROPIC_API_KEY"] = MasterKey,
        ["DISABLE_TELEMETRY"] = "1",
        ["DISABLE_AUTOUPDATER"] = "1",
        ["DISABLE_ERROR_REPORTING"] = "1",
        ["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1",
    };

    private Dictionary<string, string> CodexEnvironment() => new()
    {
        ["HOME"] = _home,
        ["CODEX_HOME"] = Path.Combine(_home, ".codex"),
        ["LLMSERVER_KEY"] = MasterKey,
        ["RUST_LOG"] = "error",
    };

    private void WriteCodexConfig()
    {
        var dir = Directory.CreateDirectory(Path.Combine(_home, ".codex")).FullName;
        File.WriteAllText(Path.Combine(dir, "config.toml"), $"""
            model = "gpt-4o-mini"
            model_provider = "llmserver"
            approval_policy = "never"
            sandbox_mode = "read-only"

            [model_providers.llmserver]
            name = "LlmServer"
            base_url = "{_baseUrl}/v1"
            env_key = "LLMSERVER_KEY"
            wire_api = "responses"
            request_max_retries = 0
            stream_max_retries = 0
            """);
    }

    private static string LastJsonLine(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last(l => l.TrimStart().StartsWith('{'));

    private sealed record Run(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
    }

    private async Task<Run> RunAsync(string cli, IEnumerable<string> args, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(Path.Combine(_clients, "node_modules", ".bin", cli))
        {
            WorkingDirectory = _home,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("ANTHROPIC_", StringComparison.Ordinal) || k.StartsWith("OPENAI_", StringComparison.Ordinal) || k.StartsWith("CLAUDE", StringComparison.Ordinal) || k.StartsWith("CODEX", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }
        foreach (var (k, v) in environment) start.Environment[k] = v;
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(RunLimit);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{cli} did not finish within {RunLimit.TotalSeconds} s:\n{await stdout}\n{await stderr}");
        }
        return new Run(process.ExitCode, await stdout, await stderr);
    }
}
