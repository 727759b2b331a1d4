using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using static LlmServer.Tests.Integration.Pipeline.PipelineTestKit;

namespace LlmServer.Tests.Integration.Ownership;

/// <summary>
/// Ownership where data outlives one process: history written before sessions had owners stays readable by the
/// operator after an upgrade, an open server is one owner, and a background response started on one instance is
/// polled (restored, turn stored once) on another that shares the data directory and the vault.
/// </summary>
[TestFixture]
public sealed class OwnershipAcrossInstancesTests
{
    private FakeUpstreamServer _fake = null!;
    private string _dataDir = "";

    [SetUp]
    public async Task StartAsync()
    {
        _fake = await FakeUpstreamServer.StartAsync();
        _dataDir = Path.Combine(Path.GetTempPath(), "llmserver-owners-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_dataDir);
    }

    [TearDown]
    public async Task StopAsync()
    {
        await _fake.DisposeAsync();
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dataDir, recursive: true); } catch (IOException) { }
    }

    /// <summary>One instance on the shared data directory and SQLite vault (the fake stays the fixture's).</summary>
    private Task<LlmServerHost> SharedAsync(bool masterKey = true)
    {
        var builder = Builder().WithFakeUpstream(_fake).WithSettings(s =>
        {
            s["LlmServer:Storage:DataDir"] = _dataDir;
            s["LlmServer:Masking:Vault"] = "sqlite";
        });
        if (!masterKey) builder.WithSetting("LlmServer:Auth:MasterKey", "");
        return builder.WithRealLedger().StartAsync();
    }

    private void WriteHistoryTheOldWay(string session, string text)
    {
        // The chat.db layout from before sessions had owners.
        using var c = new SqliteConnection($"Data Source={Path.Combine(_dataDir, "chat.db")}");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            CREATE TABLE chat_messages (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, role TEXT NOT NULL,
              content TEXT NOT NULL, created_at TEXT NOT NULL);
            CREATE INDEX ix_chat_messages_session ON chat_messages (session_id, id);
            INSERT INTO chat_messages (session_id, role, content, created_at) VALUES ($s, 'user', $t, '2026-11-01T00:00:00.0000000+00:00');
            """;
        cmd.Parameters.AddWithValue("$s", session);
        cmd.Parameters.AddWithValue("$t", text);
        cmd.ExecuteNonQuery();
    }

    [Test]
    public async Task HistoryStoredBeforeOwnership_BelongsToTheOperator_AfterTheUpgrade()
    {
        WriteHistoryTheOldWay("legacy-session", "업그레이드 전에 저장된 대화");
        await using var app = await SharedAsync();
        using var master = app.Client(Master);
        var (key, _) = await CreateKeyAsync(master, new { name = "tenant" });
        using var tenant = app.Client(key);

        var own = JsonNode.Parse(await master.GetStringAsync("/api/v1/chat/sessions/legacy-session"))!["messages"]!.AsArray();
        using var foreign = await tenant.GetAsync("/api/v1/chat/sessions/legacy-session");

        Assert.That((string?)own[0]!["content"], Is.EqualTo("업그레이드 전에 저장된 대화"));
        Assert.That(foreign.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public async Task OpenServer_IsOneOwner_ThatKeepsTheHistoryStoredBeforeOwnership()
    {
        WriteHistoryTheOldWay("legacy-open", "인증 없이 쓰던 대화");
        await using var app = await SharedAsync(masterKey: false);
        using var anyone = app.Client(null);

        using var chat = await anyone.PostAsync("/api/v1/chat", new StringContent(
            new JsonObject { ["session_id"] = "legacy-open", ["user_prompt"] = "이어서" }.ToJsonString(), Encoding.UTF8, "application/json"));
        var history = JsonNode.Parse(await anyone.GetStringAsync("/api/v1/chat/sessions/legacy-open"))!["messages"]!.AsArray();

        Assert.That(chat.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(history.Select(m => (string?)m!["content"]), Is.EqualTo(new[] { "인증 없이 쓰던 대화", "이어서", "Echo: 이어서" }));
    }

    [Test]
    public async Task BackgroundResponse_StartedOnOneInstance_IsPolledOnAnother_RestoredAndStoredOnce()
    {
        await using var first = await SharedAsync();
        await using var second = await SharedAsync();
        using var master1 = first.Client(Master);
        var (key, _) = await CreateKeyAsync(master1, new { name = "tenant" });
        using var on1 = first.Client(key);
        using var on2 = second.Client(key);
        using var master2 = second.Client(Master);
        const string prompt = "서버 i-0abc1234def567890 상태 확인";

        using var started = await on1.PostAsync("/api/v1/chat", new StringContent(new JsonObject
        {
            ["session_id"] = "bg-shared", ["user_prompt"] = prompt, ["background"] = true,
        }.ToJsonString(), Encoding.UTF8, "application/json"));
        var id = (string)JsonNode.Parse(await started.Content.ReadAsStringAsync())!["response_id"]!;
        Assert.That(_fake.Requests.Single(r => r.Method == "POST").Body, Does.Not.Contain("i-0abc1234def567890"));

        var polled1 = JsonNode.Parse(await on2.GetStringAsync($"/api/v1/chat/responses/{id}"))!;
        var polled2 = JsonNode.Parse(await on1.GetStringAsync($"/api/v1/chat/responses/{id}"))!;
        using var byMaster = await master2.GetAsync($"/api/v1/chat/responses/{id}");
        var history = JsonNode.Parse(await on2.GetStringAsync("/api/v1/chat/sessions/bg-shared"))!["messages"]!.AsArray();

        Assert.That((string?)polled1["output_text"], Is.EqualTo("Echo: " + prompt), "restored on the instance that did not start it");
        Assert.That((string?)polled2["output_text"], Is.EqualTo("Echo: " + prompt));
        Assert.That(byMaster.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "even the master key is another owner");
        Assert.That(history.Select(m => (string?)m!["content"]), Is.EqualTo(new[] { prompt, "Echo: " + prompt }), "one turn, although polled twice on two instances");
    }
}
