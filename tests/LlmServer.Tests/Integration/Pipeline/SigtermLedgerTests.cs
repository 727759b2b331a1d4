using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using LlmServer.External;
using LlmServer.External.Operations;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Infrastructure;

namespace LlmServer.Tests.Integration.Pipeline;

/// <summary>
/// The real built server as a child process: a burst of streamed /api/v1/chat and /v1/messages requests, SIGTERM
/// while they run, then the SQLite ledger holds a row for every request that got an answer — none lost on shutdown.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class SigtermLedgerTests
{
    private const int Requests = 24;

    [Test]
    public async Task Sigterm_UnderLoad_LosesNoLedgerRow()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("SIGTERM is sent with kill(1); Linux only.");
        await using var fake = await FakeUpstreamServer.StartAsync();
        fake.ChunkSize = 4;
        fake.ChunkDelay = TimeSpan.FromMilliseconds(40);
        var dataDir = NewDataDir();
        var port = ServerProcess.FreePort();
        var (server, output) = StartServer(fake, dataDir, port);
        using var serverProcess = server;
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
            await WaitHealthyAsync(http, server, output);

            var sent = 0;
            var tasks = Enumerable.Range(0, Requests).Select(async i =>
            {
                using var request = i % 2 == 0
                    ? new HttpRequestMessage(HttpMethod.Post, "/api/v1/chat/stream")
                    {
                        Content = new StringContent(new JsonObject { ["session_id"] = $"sig-{i}", ["user_prompt"] = $"질문 {i}: 서버 i-1234567890abcdef0 상태를 길게 설명해 주세요" }.ToJsonString(), Encoding.UTF8, "application/json"),
                    }
                    : new HttpRequestMessage(HttpMethod.Post, "/v1/messages")
                    {
                        Content = new StringContent(new JsonObject
                        {
                            ["model"] = "claude-sonnet-4-5", ["max_tokens"] = 200, ["stream"] = true,
                            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = $"질문 {i}: 서버 vpc-0a1b2c3d4e5f67890 상태를 설명해 주세요" }),
                        }.ToJsonString(), Encoding.UTF8, "application/json"),
                    };
                Interlocked.Increment(ref sent);
                try
                {
                    using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                    try { _ = await response.Content.ReadAsStringAsync(); } catch (Exception e) when (e is HttpRequestException or IOException) { }
                    return true;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }).ToArray();

            // Let the burst get under way (upstream streams are running), then ask the server to stop.
            for (var i = 0; i < 200 && fake.Requests.Count(r => r.Method == "POST") < Requests / 2; i++) await Task.Delay(10);
            Assert.That(fake.Requests.Count(r => r.Method == "POST"), Is.GreaterThan(0), "requests were in flight when SIGTERM came");
            using (var kill = Process.Start("kill", ["-TERM", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();

            var answered = (await Task.WhenAll(tasks)).Count(ok => ok);
            using var exitWait = new CancellationTokenSource(TimeSpan.FromSeconds(45));
            await server.WaitForExitAsync(exitWait.Token);
            Assert.That(server.ExitCode, Is.EqualTo(0), "graceful exit; output:\n" + output);

            await using var db = new SqliteOpsDatabase(Path.Combine(dataDir, SqliteOpsDatabase.FileName));
            var rows = await new SqlUsageLedgerStore(db).CountAsync(CancellationToken.None);
            Assert.That(answered, Is.GreaterThan(0));
            Assert.That(rows, Is.GreaterThanOrEqualTo(answered), $"every answered request has its row ({answered} answered of {sent} sent)");
            Assert.That(rows, Is.LessThanOrEqualTo(sent), "no request recorded twice");
            TestContext.Out.WriteLine($"sent {sent}, answered {answered}, ledger rows {rows}");
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(dataDir, recursive: true); } catch (IOException) { }
        }
    }

    [Test]
    public async Task Sigterm_StreamsLongerThanTheDrain_AreCancelledAtItsEnd_AndEachLeavesAShutdownRow()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("SIGTERM is sent with kill(1); Linux only.");
        await using var fake = await FakeUpstreamServer.StartAsync();
        // Two characters every 250 ms: each answer streams for well over ten seconds, the drain is two.
        fake.ChunkSize = 2;
        fake.ChunkDelay = TimeSpan.FromMilliseconds(250);
        var dataDir = NewDataDir();
        var port = ServerProcess.FreePort();
        var (server, output) = StartServer(fake, dataDir, port,
            new Dictionary<string, string> { ["LlmServer__Shutdown__DrainSeconds"] = "2" });
        using var serverProcess = server;
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
            await WaitHealthyAsync(http, server, output);
            const string prompt = "서버 상태를 아주 길게, 한 줄씩 천천히 설명해 주세요. 가능한 한 자세하게 부탁합니다.";
            HttpRequestMessage[] requests =
            [
                new(HttpMethod.Post, "/api/v1/chat/stream")
                {
                    Content = new StringContent(new JsonObject { ["user_prompt"] = prompt }.ToJsonString(), Encoding.UTF8, "application/json"),
                },
                new(HttpMethod.Post, "/v1/chat/completions")
                {
                    Content = new StringContent(new JsonObject
                    {
                        ["model"] = "gpt-4o-mini", ["stream"] = true,
                        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = prompt }),
                    }.ToJsonString(), Encoding.UTF8, "application/json"),
                },
                new(HttpMethod.Post, "/v1/messages")
                {
                    Content = new StringContent(new JsonObject
                    {
                        ["model"] = "claude-sonnet-4-5", ["max_tokens"] = 200, ["stream"] = true,
                        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = prompt }),
                    }.ToJsonString(), Encoding.UTF8, "application/json"),
                },
            ];
            var streams = requests.Select(async request =>
            {
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                try { _ = await response.Content.ReadAsStringAsync(); } catch (Exception e) when (e is HttpRequestException or IOException) { }
            }).ToArray();
            for (var i = 0; i < 300 && fake.Requests.Count(r => r.Method == "POST") < requests.Length; i++) await Task.Delay(10);
            await Task.Delay(300);
            var stopping = Stopwatch.StartNew();
            using (var kill = Process.Start("kill", ["-TERM", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();

            using var exitWait = new CancellationTokenSource(TimeSpan.FromSeconds(45));
            await server.WaitForExitAsync(exitWait.Token);
            await Task.WhenAll(streams);

            Assert.That(server.ExitCode, Is.EqualTo(0), "graceful exit; output:\n" + output);
            Assert.That(stopping.Elapsed, Is.GreaterThan(TimeSpan.FromSeconds(1.5)), "the running streams were given the drain");
            await using var db = new SqliteOpsDatabase(Path.Combine(dataDir, SqliteOpsDatabase.FileName));
            await using var c = await db.OpenAsync(CancellationToken.None);
            var rows = (await Dapper.SqlMapper.QueryAsync<(string Route, long Status, string? ErrorCode)>(c,
                "SELECT route, status, error_code FROM usage_ledger ORDER BY route")).ToList();
            Assert.That(rows.Select(r => r.Route), Is.EquivalentTo(new[] { "api_chat", "chat_completions", "messages" }), "one row per cut stream; output:\n" + output);
            Assert.That(rows.Select(r => (r.Status, r.ErrorCode)), Is.All.EqualTo((499L, (string?)"server_shutdown")));
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(dataDir, recursive: true); } catch (IOException) { }
        }
    }

    private static string NewDataDir()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "llmserver-sigterm-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dataDir);
        return dataDir;
    }

    /// <summary>The built server as a child process on <paramref name="port"/>, upstreams on the fake.</summary>
    private static (Process Server, StringBuilder Output) StartServer(FakeUpstreamServer fake, string dataDir, int port, IDictionary<string, string>? environment = null)
    {
        var settings = new Dictionary<string, string>
        {
            ["OPENAI_BASE_URL"] = fake.V1Url,
            ["OPENAI_API_KEY"] = "sk-server-sigterm",
            ["ANTHROPIC_BASE_URL"] = fake.BaseUrl,
            ["ANTHROPIC_API_KEY"] = "sk-ant-sigterm",
            ["LOG_LEVEL"] = "Warning",
        };
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) settings[k] = v;
        var server = Process.Start(ServerProcess.StartInfo(port, dataDir, settings))!;
        var output = new StringBuilder();
        server.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        server.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        return (server, output);
    }

    private static async Task WaitHealthyAsync(HttpClient http, Process server, StringBuilder output)
    {
        for (var i = 0; i < 300; i++)
        {
            if (server.HasExited) Assert.Fail("server exited at start:\n" + output);
            try
            {
                using var r = await http.GetAsync("/health");
                if ((int)r.StatusCode < 500) return;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
        Assert.Fail("server did not become healthy:\n" + output);
    }
}
