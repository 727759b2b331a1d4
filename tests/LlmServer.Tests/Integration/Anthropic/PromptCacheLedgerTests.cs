using System.Text.Json.Nodes;
using LlmServer.Services.Accounting;
using LlmServer.Tests.Integration.Gateway;
using Microsoft.Extensions.DependencyInjection;

namespace LlmServer.Tests.Integration.Anthropic;

/// <summary>
/// An upstream answering with prompt-cache usage (Anthropic reads and 5-minute / 1-hour writes, OpenAI cached
/// tokens): the client sees the cache in its own dialect, and the ledger row holds the split and its price
/// (the appsettings price table), on every route between the two dialects, plain and streamed.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class PromptCacheLedgerTests
{
    private const string Claude = "claude-haiku-4-5";
    private const string Translated = "gpt-4o-mini";
    private GatewayHost _host = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _host = await GatewayHost.StartWithAnthropicAsync(Claude);

    [OneTimeTearDown]
    public async Task StopAsync() => await _host.DisposeAsync();

    [SetUp]
    public void Reset()
    {
        _host.Fake.Reset();
        _host.Usage.Clear();
        _host.Fake.CachedTokens = 100;
        _host.Fake.CacheCreation5mTokens = 200;
        _host.Fake.CacheCreation1hTokens = 300;
    }

    /// <summary>claude-haiku-4-5 in appsettings.json: input 1.00, cache read 0.10, 5m write 1.25, 1h write 2.00, output 5.00 USD per 1M.</summary>
    private static decimal HaikuCost(UsageRecord row) =>
        decimal.Round(((row.InputTokens - 600) * 1.00m + 100 * 0.10m + 200 * 1.25m + 300 * 2.00m + row.OutputTokens * 5.00m) / 1_000_000m, 8);

    /// <summary>gpt-4o-mini in appsettings.json: input 0.15, cached 0.075, output 0.60 USD per 1M.</summary>
    private static decimal MiniCost(UsageRecord row, int cached) =>
        decimal.Round(((row.InputTokens - cached) * 0.15m + cached * 0.075m + row.OutputTokens * 0.60m) / 1_000_000m, 8);

    private async Task<string> PostAsync(string path, JsonObject body)
    {
        var (response, text) = await AgentRequests.PostAsync(_host, path, body.ToJsonString());
        Assert.That((int)response.StatusCode, Is.EqualTo(200), text);
        return text;
    }

    private static JsonObject Messages(string model, bool stream) => new()
    {
        ["model"] = model, ["max_tokens"] = 50, ["stream"] = stream,
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "cache me" }),
    };

    private static JsonObject Chat(string model, bool stream)
    {
        var body = new JsonObject
        {
            ["model"] = model, ["stream"] = stream,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "cache me" }),
        };
        if (stream) body["stream_options"] = new JsonObject { ["include_usage"] = true };
        return body;
    }

    /// <summary>Every usage object in a plain body or in the data lines of a stream.</summary>
    private static List<JsonObject> Usages(string text)
    {
        var found = new List<JsonObject>();
        void Collect(JsonNode? node)
        {
            switch (node)
            {
                case JsonObject o:
                    foreach (var (k, v) in o)
                    {
                        if (k == "usage" && v is JsonObject u) found.Add(u);
                        else Collect(v);
                    }
                    break;
                case JsonArray a:
                    foreach (var item in a) Collect(item);
                    break;
            }
        }
        if (!text.StartsWith("event:", StringComparison.Ordinal) && !text.StartsWith("data:", StringComparison.Ordinal))
        {
            Collect(JsonNode.Parse(text));
            return found;
        }
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith("data:", StringComparison.Ordinal) || line.Contains("[DONE]", StringComparison.Ordinal)) continue;
            Collect(JsonNode.Parse(line[5..]));
        }
        return found;
    }

    private void AssertAnthropicCacheRow(UsageRecord row)
    {
        Assert.That(row.Status, Is.EqualTo(200));
        Assert.That(row.CachedTokens, Is.EqualTo(100));
        Assert.That(row.CacheCreation5mTokens, Is.EqualTo(200));
        Assert.That(row.CacheCreation1hTokens, Is.EqualTo(300));
        Assert.That(row.InputTokens, Is.GreaterThan(600), "input counts every prompt token, cache included");
        Assert.That(row.CostUsd, Is.EqualTo(HaikuCost(row)));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task MessagesPassthrough_LedgerHasCacheReadsAndWritesByLifetime_PricedApart(bool stream)
    {
        var text = await PostAsync("/v1/messages", Messages(Claude, stream));

        var row = await _host.Usage.WaitForAsync(r => r.Route == "messages");
        AssertAnthropicCacheRow(row);
        Assert.That(Usages(text).Any(u => (long?)u["cache_creation"]?["ephemeral_1h_input_tokens"] == 300), Is.True, "passthrough: the client sees the upstream's usage");
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task ChatCompletionsOnAClaudeModel_ClientSeesCachedTokens_LedgerHasTheWrites(bool stream)
    {
        var text = await PostAsync("/v1/chat/completions", Chat(Claude, stream));

        var row = await _host.Usage.WaitForAsync(r => r.Route == "chat_completions");
        AssertAnthropicCacheRow(row);
        var usage = Usages(text).Last();
        Assert.That((long?)usage["prompt_tokens_details"]!["cached_tokens"], Is.EqualTo(100));
        Assert.That((long?)usage["prompt_tokens"], Is.EqualTo(row.InputTokens), "prompt_tokens = input + cache reads + cache writes");
        Assert.That((long?)usage["cache_creation_input_tokens"], Is.EqualTo(500));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task MessagesTranslatedToOpenAi_CachedTokensAreCacheReads_ForClientAndLedger(bool stream)
    {
        // NOTE: the fake's prompts are a few tokens long; OpenAI's cached tokens are part of them.
        _host.Fake.CachedTokens = 2;
        var text = await PostAsync("/v1/messages", Messages(Translated, stream));

        var row = await _host.Usage.WaitForAsync(r => r.Route == "messages");
        Assert.That(row.Upstream, Is.EqualTo("fake"));
        Assert.That(row.InputTokens, Is.GreaterThan(2));
        Assert.That(row.CachedTokens, Is.EqualTo(2));
        Assert.That(row.CacheCreation5mTokens + row.CacheCreation1hTokens, Is.Zero);
        Assert.That(row.CostUsd, Is.EqualTo(MiniCost(row, 2)));
        var usage = Usages(text).Last(u => u.ContainsKey("cache_read_input_tokens"));
        Assert.That((long?)usage["cache_read_input_tokens"], Is.EqualTo(2));
        Assert.That((long?)usage["input_tokens"], Is.EqualTo(row.InputTokens - 2), "Anthropic's input_tokens leave the cache out");
    }

    [Test]
    public async Task UsageApi_ShowsCacheWritesPerModel()
    {
        await PostAsync("/v1/messages", Messages(Claude, stream: false));
        var row = await _host.Usage.WaitForAsync(r => r.Route == "messages");
        // NOTE: the host captures rows in memory; hand this one to the server's real ledger store.
        await _host.Factory.Services.GetRequiredService<IUsageLedgerStore>().WriteBatchAsync([row], CancellationToken.None);

        using var http = _host.Client();
        var report = await WaitForReportAsync(http);

        var group = report["data"]!["groups"]!.AsArray().Single(g => (string?)g!["group"] == Claude)!;
        Assert.That((long?)group["cached_tokens"], Is.EqualTo(100));
        Assert.That((long?)group["cache_creation_5m_tokens"], Is.EqualTo(200));
        Assert.That((long?)group["cache_creation_1h_tokens"], Is.EqualTo(300));
        var rows = JsonNode.Parse(await http.GetStringAsync("/api/v1/usage/requests?limit=5"))!["data"]!["data"]!.AsArray();
        Assert.That(rows.Any(r => (long?)r!["cache_creation_1h_tokens"] == 300), Is.True);
    }

    private static async Task<JsonNode> WaitForReportAsync(HttpClient http)
    {
        for (var i = 0; i < 100; i++)
        {
            var report = JsonNode.Parse(await http.GetStringAsync("/api/v1/usage?group_by=model"))!;
            if (report["data"]?["groups"] is JsonArray groups && groups.Any(g => (string?)g!["group"] == Claude)) return report;
            await Task.Delay(50);
        }
        throw new AssertionException("the ledger never showed the row");
    }
}
