using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using LlmServer.External.Operations;
using LlmServer.Services.Accounting;
using LlmServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace LlmServer.Tests.Integration.Operations;

/// <summary>The ledger through the real server: rows recorded on the hot path land in SQLite, the usage API reads them.</summary>
[TestFixture]
public sealed class LedgerAndUsageApiTests
{
    private static UsageRecord Row(int i, string model, string key, decimal? cost, string? body = null) => new()
    {
        Timestamp = DateTimeOffset.UtcNow,
        KeyId = key,
        SessionId = "sess-" + (i % 3),
        Route = "chat_completions",
        Model = model,
        Upstream = "openai",
        Status = i % 10 == 9 ? 502 : 200,
        InputTokens = 10,
        OutputTokens = 5,
        CostUsd = cost,
        LatencyMs = 20,
        OverheadMs = 0.2,
        Body = body,
    };

    [Test]
    public async Task HostStopUnderLoad_WritesEveryQueuedRow()
    {
        var dir = OpsTestDatabases.NewTempDir();
        try
        {
            const int threads = 4;
            const int perThread = 5_000;
            var app = new LlmServerApp(new Dictionary<string, string?>
            {
                ["LlmServer:Storage:DataDir"] = dir,
                ["LlmServer:Operations:Ledger:BatchSize"] = "200",
                ["LlmServer:Operations:Ledger:FlushIntervalMs"] = "1000",
            });
            _ = app.Server; // start the host
            var sink = app.Services.GetRequiredService<IUsageSink>();
            Assert.That(sink, Is.TypeOf<ChannelUsageSink>());
            await Task.WhenAll(Enumerable.Range(0, threads).Select(t => Task.Run(() =>
            {
                for (var i = 0; i < perThread; i++)
                {
                    sink.Record(Row(i, "gpt-4o-mini", "k" + t, 0.000001m));
                }
            })));
            var queued = ((ChannelUsageSink)sink).QueueDepth;

            app.Dispose(); // host StopAsync: what SIGTERM triggers

            var store = new SqlUsageLedgerStore(new SqliteOpsDatabase(Path.Combine(dir, SqliteOpsDatabase.FileName)));
            Assert.That(await store.CountAsync(CancellationToken.None), Is.EqualTo(threads * perThread));
            TestContext.Out.WriteLine($"rows still queued when stop began: {queued}");
        }
        finally
        {
            OpsTestDatabases.DeleteDir(dir);
        }
    }

    [Test]
    public async Task BodiesAreDroppedUnlessLogBodiesIsOn()
    {
        foreach (var logBodies in new[] { false, true })
        {
            using var app = new LlmServerApp(new Dictionary<string, string?>
            {
                ["LlmServer:Operations:LogBodies"] = logBodies ? "true" : "false",
                ["LlmServer:Operations:Ledger:FlushIntervalMs"] = "20",
            });
            _ = app.Server;
            app.Services.GetRequiredService<IUsageSink>().Record(Row(0, "gpt-4o", "k", null, body: "내 주민번호는 ..."));
            var store = app.Services.GetRequiredService<IUsageLedgerStore>();
            var rows = await WaitForRowsAsync(store, 1);

            Assert.That(rows[0].Record.Body, logBodies ? Is.EqualTo("내 주민번호는 ...") : Is.Null);
        }
    }

    [Test]
    public async Task UsageApi_GroupsTotalsAndPagesRecentRequests()
    {
        const string master = "mk-usage";
        using var app = new LlmServerApp(new Dictionary<string, string?>
        {
            ["LlmServer:Auth:MasterKey"] = master,
            ["LlmServer:Operations:Ledger:FlushIntervalMs"] = "20",
        });
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", master);
        var sink = app.Services.GetRequiredService<IUsageSink>();
        for (var i = 0; i < 10; i++)
        {
            sink.Record(Row(i, i < 6 ? "gpt-4o-mini" : "gpt-4o", i < 3 ? "vk_a" : "vk_b", 0.0001m));
        }
        await WaitForRowsAsync(app.Services.GetRequiredService<IUsageLedgerStore>(), 10);

        var byModel = JsonNode.Parse(await client.GetStringAsync("/api/v1/usage?group_by=model"))!["data"]!;
        var groups = byModel["groups"]!.AsArray();
        Assert.That(groups.Select(g => ((string)g!["group"]!, (long)g["requests"]!)), Is.EquivalentTo(new[] { ("gpt-4o", 4L), ("gpt-4o-mini", 6L) }));
        Assert.That((decimal)byModel["total"]!["cost_usd"]!, Is.EqualTo(0.001m));
        Assert.That((long)byModel["total"]!["errors"]!, Is.EqualTo(1));
        Assert.That((long)byModel["total"]!["input_tokens"]!, Is.EqualTo(100));

        var byKey = JsonNode.Parse(await client.GetStringAsync("/api/v1/usage?group_by=key&from=2020-01-01"))!["data"]!["groups"]!.AsArray();
        Assert.That(byKey.Single(g => (string)g!["group"]! == "vk_a")!["requests"]!.GetValue<long>(), Is.EqualTo(3));
        var bySession = JsonNode.Parse(await client.GetStringAsync("/api/v1/usage?group_by=session"))!["data"]!["groups"]!.AsArray();
        Assert.That(bySession, Has.Count.EqualTo(3));
        var byDay = JsonNode.Parse(await client.GetStringAsync("/api/v1/usage?group_by=day"))!["data"]!["groups"]!.AsArray();
        Assert.That((string)byDay.Single()!["group"]!, Is.EqualTo(DateTime.UtcNow.ToString("yyyy-MM-dd")));

        var seen = new List<long>();
        string? cursor = null;
        do
        {
            var page = JsonNode.Parse(await client.GetStringAsync("/api/v1/usage/requests?limit=4" + (cursor is null ? "" : "&cursor=" + cursor)))!["data"]!;
            seen.AddRange(page["data"]!.AsArray().Select(r => (long)r!["id"]!));
            cursor = (string?)page["next_cursor"];
        }
        while (cursor is not null);
        Assert.That(seen, Has.Count.EqualTo(10));
        Assert.That(seen, Is.Ordered.Descending);

        var series = JsonNode.Parse(await client.GetStringAsync("/api/v1/usage/timeseries?bucket=minute&by=model"))!["data"]!["points"]!.AsArray();
        Assert.That(series.Sum(p => (long)p!["totals"]!["requests"]!), Is.EqualTo(10));
        Assert.That(series.Select(p => (string)p!["group"]!).Distinct(), Is.EquivalentTo(new[] { "gpt-4o", "gpt-4o-mini" }));

        var status = JsonNode.Parse(await client.GetStringAsync("/api/v1/status"))!["data"]!;
        Assert.That((string)status["status"]!, Is.EqualTo("ok"));
        var components = status["components"]!.AsArray();
        Assert.That(components.Select(c => (string)c!["name"]!), Is.SupersetOf(new[] { "database", "ledger" }));
        Assert.That((double)components.Single(c => (string)c!["name"]! == "ledger")!["data"]!["rows"]!, Is.EqualTo(10));
        Assert.That((long)status["process"]!["working_set_bytes"]!, Is.GreaterThan(0));

        var bad = await client.GetAsync("/api/v1/usage?group_by=color");
        Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((string)JsonNode.Parse(await bad.Content.ReadAsStringAsync())!["error"]!["code"]!, Is.EqualTo("invalid_request"));

        using var anonymous = app.CreateClient();
        Assert.That((await anonymous.GetAsync("/api/v1/usage")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    private static async Task<IReadOnlyList<StoredUsageRecord>> WaitForRowsAsync(IUsageLedgerStore store, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var rows = await store.ListRecentAsync(count + 10, null, 0, null, CancellationToken.None);
            if (rows.Count >= count || DateTime.UtcNow > deadline)
            {
                Assert.That(rows, Has.Count.EqualTo(count));
                return rows;
            }
            await Task.Delay(20);
        }
    }
}
