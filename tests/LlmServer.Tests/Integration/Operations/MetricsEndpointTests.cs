using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmServer.Services.Accounting;
using LlmServer.Services.Metrics;
using LlmServer.Tests.Infrastructure;
using LlmServer.Tests.Integration.Gateway;
using Microsoft.Extensions.DependencyInjection;

namespace LlmServer.Tests.Integration.Operations;

/// <summary>
/// Line checks on the Prometheus text exposition: one sample is a line <c>name{k="v",...} value</c>.
/// </summary>
internal static class Exposition
{
    /// <summary>The sample lines of <paramref name="name"/> (exactly that name) that carry every given label.</summary>
    public static List<string> Lines(string text, string name, params (string K, string V)[] labels) =>
        text.Split('\n')
            .Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal))
            .Where(l => labels.All(p => l.Contains($"{p.K}=\"{p.V}\"", StringComparison.Ordinal)))
            .ToList();

    /// <summary>The value of the one sample matching; fails when there is not exactly one.</summary>
    public static double Value(string text, string name, params (string K, string V)[] labels)
    {
        var lines = Lines(text, name, labels);
        Assert.That(lines, Has.Count.EqualTo(1), $"one sample of {name} with {string.Join(",", labels)} in:\n{text}");
        return lines.Count == 1 ? SampleValue(lines[0]) : double.NaN;
    }

    /// <summary>The value of one sample line (the first field after the labels; a timestamp may follow).</summary>
    public static double SampleValue(string line)
    {
        var rest = line.Contains('}') ? line[(line.LastIndexOf('}') + 1)..] : line[line.IndexOf(' ')..];
        return double.Parse(rest.Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }

    /// <summary>The declared type of a metric family (# TYPE line).</summary>
    public static string? Type(string text, string family) =>
        text.Split('\n').FirstOrDefault(l => l.StartsWith($"# TYPE {family} ", StringComparison.Ordinal))?.Split(' ')[3];

    /// <summary>Every sample line (comments and blanks left out).</summary>
    public static int SeriesCount(string text) => text.Split('\n').Count(l => l.Length > 0 && l[0] != '#');
}

/// <summary>GET /metrics on the real server: the OpenTelemetry Prometheus exporter's text with the recorded values.</summary>
[TestFixture]
public sealed class MetricsEndpointTests
{
    [Test]
    public async Task Metrics_AfterRecordedRequests_ShowEachRequestOnceUnderTheDocumentedNames()
    {
        using var app = new LlmServerApp();
        using var client = app.CreateClient();
        var sink = app.Services.GetRequiredService<IUsageSink>();
        var metrics = app.Services.GetRequiredService<LlmServerMetrics>();
        for (var i = 0; i < 3; i++)
        {
            sink.Record(new UsageRecord
            {
                Timestamp = DateTimeOffset.UtcNow, Route = "chat_completions", Model = "gpt-4o-mini", Status = 200,
                InputTokens = 100, CachedTokens = 40, OutputTokens = 20, ReasoningTokens = 5, CostUsd = 0.25m,
                LatencyMs = 30 + i * 1000, OverheadMs = 0.4, MaskedCounts = new Dictionary<string, int> { ["phone"] = 2 },
            });
        }
        sink.Record(new UsageRecord { Timestamp = DateTimeOffset.UtcNow, Route = "messages", Model = "we\"ird\\model\nx", Status = 429, LatencyMs = 1 });
        metrics.RecordUpstream("openai", "gpt-4o-mini", TimeSpan.FromMilliseconds(25), 200);
        metrics.RecordRetry("vllm");
        metrics.ObserveCircuitStates(() => [new("openai", 0), new("vllm", 2)]);

        var response = await client.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType!.MediaType, Is.EqualTo("text/plain"));
        Assert.Multiple(() =>
        {
            Assert.That(Exposition.Type(text, "llmserver_requests_total"), Is.EqualTo("counter"));
            Assert.That(Exposition.Value(text, "llmserver_requests_total", ("route", "chat_completions"), ("model", "gpt-4o-mini"), ("status", "200")), Is.EqualTo(3));
            Assert.That(Exposition.Value(text, "llmserver_requests_total", ("route", "messages"), ("model", "unknown"), ("status", "429")), Is.EqualTo(1),
                "a model the server does not serve counts under unknown");
            Assert.That(text, Does.Not.Contain("ird"), "the client's model string is not a label");
            Assert.That(Exposition.Type(text, "llmserver_request_duration_seconds"), Is.EqualTo("histogram"));
            Assert.That(Exposition.Value(text, "llmserver_request_duration_seconds_count", ("model", "gpt-4o-mini")), Is.EqualTo(3));
            Assert.That(Exposition.Value(text, "llmserver_request_duration_seconds_sum", ("model", "gpt-4o-mini")), Is.EqualTo(0.03 + 1.03 + 2.03).Within(1e-9));
            Assert.That(Exposition.Value(text, "llmserver_request_duration_seconds_bucket", ("model", "gpt-4o-mini"), ("le", "0.05")), Is.EqualTo(1));
            Assert.That(Exposition.Value(text, "llmserver_request_duration_seconds_bucket", ("model", "gpt-4o-mini"), ("le", "2.5")), Is.EqualTo(3));
            Assert.That(Exposition.Value(text, "llmserver_gateway_overhead_seconds_count", ("route", "chat_completions")), Is.EqualTo(3));
            Assert.That(Exposition.Value(text, "llmserver_tokens_total", ("type", "input"), ("model", "gpt-4o-mini")), Is.EqualTo(300));
            Assert.That(Exposition.Value(text, "llmserver_tokens_total", ("type", "cached"), ("model", "gpt-4o-mini")), Is.EqualTo(120));
            Assert.That(Exposition.Value(text, "llmserver_tokens_total", ("type", "reasoning"), ("model", "gpt-4o-mini")), Is.EqualTo(15));
            Assert.That(Exposition.Value(text, "llmserver_cost_usd_total", ("model", "gpt-4o-mini")), Is.EqualTo(0.75).Within(1e-12));
            Assert.That(Exposition.Value(text, "llmserver_masked_values_total", ("type", "phone")), Is.EqualTo(6));
            Assert.That(Exposition.Value(text, "llmserver_upstream_duration_seconds_count", ("upstream", "openai")), Is.EqualTo(1));
            Assert.That(Exposition.Value(text, "llmserver_upstream_retries_total", ("upstream", "vllm")), Is.EqualTo(1));
            Assert.That(Exposition.Value(text, "llmserver_circuit_state", ("upstream", "vllm")), Is.EqualTo(2));
            Assert.That(Exposition.Type(text, "llmserver_ledger_queue_depth"), Is.EqualTo("gauge"));
            Assert.That(Exposition.Value(text, "llmserver_process_memory_bytes"), Is.GreaterThan(0));
        });
    }

    [Test]
    public async Task Metrics_WithMasterKeySet_RefuseAScrapeWithoutTheKey()
    {
        await using var host = await GatewayHost.StartAsync();
        using var anonymous = host.Client(withKey: false);
        using var wrongKey = host.Client(withKey: false);
        wrongKey.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "sk-not-the-master-key");

        var none = await anonymous.GetAsync("/metrics");
        var wrong = await wrongKey.GetAsync("/metrics");

        Assert.Multiple(async () =>
        {
            Assert.That(none.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(none.Headers.WwwAuthenticate.ToString(), Does.StartWith("Bearer"));
            Assert.That(none.Content.Headers.ContentType!.MediaType, Is.EqualTo("text/plain"));
            Assert.That(await none.Content.ReadAsStringAsync(), Does.Contain("master key").And.Not.Contain("llmserver_"));
            Assert.That(wrong.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(await wrong.Content.ReadAsStringAsync(), Does.Not.Contain("llmserver_"));
        });
    }

    [Test]
    public async Task Metrics_WithMasterKeySet_AnswerTheMasterKeyAndRefuseAVirtualKey()
    {
        await using var host = await GatewayHost.StartAsync(realLedger: true);
        using var admin = host.Client();
        var created = await admin.PostAsJsonAsync("/api/v1/admin/keys", new { name = "scraper" });
        var virtualKey = (string)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["data"]!["key"]!;
        using var tenant = host.Client(withKey: false);
        tenant.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", virtualKey);

        var master = await admin.GetAsync("/metrics");
        var byTenant = await tenant.GetAsync("/metrics");

        Assert.That(master.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await master.Content.ReadAsStringAsync(), Does.Contain("llmserver_"));
        Assert.That(byTenant.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await byTenant.Content.ReadAsStringAsync(), Does.Not.Contain("llmserver_"));
    }

    [Test]
    public async Task Metrics_WithAllowAnonymous_AnswerAScrapeWithoutTheKey()
    {
        await using var host = await GatewayHost.StartAsync(s => s["LlmServer:Metrics:AllowAnonymous"] = "true");
        using var anonymous = host.Client(withKey: false);

        var response = await anonymous.GetAsync("/metrics");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("llmserver_process_memory_bytes"));
    }
}

/// <summary>What clients send cannot grow /metrics: made-up model names share one series.</summary>
[TestFixture]
public sealed class MetricsCardinalityTests
{
    [Test]
    public async Task ThousandsOfMadeUpModels_KeepTheSeriesCountBounded_AndARealModelStillGetsItsOwnSeries()
    {
        await using var host = await GatewayHost.StartAsync(realLedger: true);
        using var http = host.Client();
        const int madeUp = 2100;
        var next = -1;
        var workers = Enumerable.Range(0, 8).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < madeUp)
            {
                using var r = await http.PostAsJsonAsync("/v1/chat/completions",
                    new { model = $"made-up-{i}-010-2222-{i % 10000:D4}", messages = new[] { new { role = "user", content = "hi" } } });
                Assert.That((int)r.StatusCode, Is.InRange(400, 499));
            }
        });
        await Task.WhenAll(workers);
        using var real = await http.PostAsJsonAsync("/v1/chat/completions",
            new { model = "gpt-4o", messages = new[] { new { role = "user", content = "hi" } } });
        Assert.That(real.StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var text = await WaitForAsync(http, t => Exposition.Lines(t, "llmserver_requests_total", ("model", "gpt-4o")).Count == 1
            && Exposition.Lines(t, "llmserver_requests_total", ("model", "unknown")).Sum(Exposition.SampleValue) >= madeUp);

        var requestSeries = Exposition.Lines(text, "llmserver_requests_total");
        Assert.Multiple(() =>
        {
            Assert.That(Exposition.Value(text, "llmserver_requests_total", ("route", "chat_completions"), ("model", "gpt-4o"), ("status", "200")), Is.EqualTo(1),
                "the real model used after the flood has its own series");
            Assert.That(requestSeries, Has.Count.LessThanOrEqualTo(5), string.Join("\n", requestSeries));
            Assert.That(text, Does.Not.Contain("made-up"));
            Assert.That(Exposition.SeriesCount(text), Is.LessThan(400), "the whole exposition stays small");
        });
    }

    [Test]
    public async Task MadeUpModelsThatTheUpstreamAccepts_GetOwnSeriesOnlyUpToTheCap()
    {
        // NOTE: with no server key the session chat API sends a caller's own key with any model name to its upstream
        // (the gateway has no table for it), and the fake upstream accepts them all.
        await using var host = await GatewayHost.StartAsync(s =>
        {
            s["LlmServer:OpenAi:ApiKey"] = "";
            s["LlmServer:OpenAi:BaseUrl"] = s["LlmServer:Gateway:Upstreams:0:BaseUrl"];
        }, realLedger: true);
        using var http = host.Client();
        const int names = MetricLabels.MaxLearnedModels + 40;
        for (var i = 0; i < names; i++)
        {
            using var r = await http.PostAsJsonAsync("/api/v1/chat",
                new { user_prompt = "hi", model = $"accepted-model-{i}", use_user_api_key = true, openai_api_key = "sk-caller-cardinality" });
            Assert.That(r.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        var text = await WaitForAsync(http, t => Exposition.Lines(t, "llmserver_requests_total", ("route", "api_chat")).Sum(Exposition.SampleValue) >= names);

        var series = Exposition.Lines(text, "llmserver_requests_total", ("route", "api_chat"));
        Assert.That(series, Has.Count.EqualTo(MetricLabels.MaxLearnedModels + 1), "the learned names plus unknown");
        Assert.That(Exposition.Value(text, "llmserver_requests_total", ("route", "api_chat"), ("model", "unknown")), Is.EqualTo(names - MetricLabels.MaxLearnedModels));
    }

    private static async Task<string> WaitForAsync(HttpClient http, Func<string, bool> done)
    {
        // NOTE: usage rows reach the metrics as each response completes; poll a bounded number of scrapes.
        var text = "";
        for (var i = 0; i < 100; i++)
        {
            text = await http.GetStringAsync("/metrics");
            if (done(text)) return text;
            await Task.Delay(50);
        }
        return text;
    }
}
