using System.Net;
using LlmServer.Services.Accounting;
using LlmServer.Services.Metrics;
using LlmServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace LlmServer.Tests.Integration.Operations;

/// <summary>GET /metrics on the real server parses as Prometheus text and carries the recorded values.</summary>
[TestFixture]
public sealed class MetricsEndpointTests
{
    [Test]
    public async Task Metrics_AfterRecordedRequests_ParseStrictlyAndCountEachRequestOnce()
    {
        using var app = new LlmServerApp();
        using var client = app.CreateClient();
        var sink = app.Services.GetRequiredService<IUsageSink>();
        var metrics = app.Services.GetRequiredService<LlmServerMetrics>();
        const string oddModel = "we\"ird\\model\nx";
        for (var i = 0; i < 3; i++)
        {
            sink.Record(new UsageRecord
            {
                Timestamp = DateTimeOffset.UtcNow, Route = "chat_completions", Model = "gpt-4o-mini", Status = 200,
                InputTokens = 100, CachedTokens = 40, OutputTokens = 20, ReasoningTokens = 5, CostUsd = 0.25m,
                LatencyMs = 30 + i * 1000, OverheadMs = 0.4, MaskedCounts = new Dictionary<string, int> { ["phone"] = 2 },
            });
        }
        sink.Record(new UsageRecord { Timestamp = DateTimeOffset.UtcNow, Route = "messages", Model = oddModel, Status = 429, LatencyMs = 1 });
        metrics.RecordUpstream("openai", "gpt-4o-mini", TimeSpan.FromMilliseconds(25), 200);
        metrics.RecordRetry("vllm");
        metrics.ObserveCircuitStates(() => [new("openai", 0), new("vllm", 2)]);

        var response = await client.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType!.ToString(), Does.StartWith("text/plain; version=0.0.4"));
        var families = PrometheusTextParser.Parse(text);
        double Value(string family, string sample, params (string K, string V)[] labels) =>
            families[family].Samples.Single(s => s.Name == sample && labels.All(l => s.Labels.TryGetValue(l.K, out var v) && v == l.V)).Value;

        Assert.Multiple(() =>
        {
            Assert.That(families["llmserver_requests_total"].Type, Is.EqualTo("counter"));
            Assert.That(Value("llmserver_requests_total", "llmserver_requests_total", ("route", "chat_completions"), ("model", "gpt-4o-mini"), ("status", "200")), Is.EqualTo(3));
            Assert.That(Value("llmserver_requests_total", "llmserver_requests_total", ("model", oddModel), ("status", "429")), Is.EqualTo(1), "label values are escaped and round-trip");
            Assert.That(families["llmserver_request_duration_seconds"].Type, Is.EqualTo("histogram"));
            Assert.That(Value("llmserver_request_duration_seconds", "llmserver_request_duration_seconds_count", ("model", "gpt-4o-mini")), Is.EqualTo(3));
            Assert.That(Value("llmserver_request_duration_seconds", "llmserver_request_duration_seconds_sum", ("model", "gpt-4o-mini")), Is.EqualTo(0.03 + 1.03 + 2.03).Within(1e-9));
            Assert.That(Value("llmserver_request_duration_seconds", "llmserver_request_duration_seconds_bucket", ("model", "gpt-4o-mini"), ("le", "0.05")), Is.EqualTo(1));
            Assert.That(Value("llmserver_request_duration_seconds", "llmserver_request_duration_seconds_bucket", ("model", "gpt-4o-mini"), ("le", "2.5")), Is.EqualTo(3));
            Assert.That(Value("llmserver_gateway_overhead_seconds", "llmserver_gateway_overhead_seconds_count", ("route", "chat_completions")), Is.EqualTo(3));
            Assert.That(Value("llmserver_tokens_total", "llmserver_tokens_total", ("type", "input"), ("model", "gpt-4o-mini")), Is.EqualTo(300));
            Assert.That(Value("llmserver_tokens_total", "llmserver_tokens_total", ("type", "cached"), ("model", "gpt-4o-mini")), Is.EqualTo(120));
            Assert.That(Value("llmserver_tokens_total", "llmserver_tokens_total", ("type", "reasoning"), ("model", "gpt-4o-mini")), Is.EqualTo(15));
            Assert.That(Value("llmserver_cost_usd_total", "llmserver_cost_usd_total", ("model", "gpt-4o-mini")), Is.EqualTo(0.75).Within(1e-12));
            Assert.That(Value("llmserver_masked_values_total", "llmserver_masked_values_total", ("type", "phone")), Is.EqualTo(6));
            Assert.That(Value("llmserver_upstream_duration_seconds", "llmserver_upstream_duration_seconds_count", ("upstream", "openai")), Is.EqualTo(1));
            Assert.That(Value("llmserver_upstream_retries_total", "llmserver_upstream_retries_total", ("upstream", "vllm")), Is.EqualTo(1));
            Assert.That(Value("llmserver_circuit_state", "llmserver_circuit_state", ("upstream", "vllm")), Is.EqualTo(2));
            Assert.That(families["llmserver_ledger_queue_depth"].Type, Is.EqualTo("gauge"));
            Assert.That(Value("llmserver_process_memory_bytes", "llmserver_process_memory_bytes"), Is.GreaterThan(0));
        });
    }

    [Test]
    public void Parser_RejectsWhatTheFormatForbids()
    {
        Assert.Throws<FormatException>(() => PrometheusTextParser.Parse("# TYPE a counter\na{x=\"unterminated} 1\n"));
        Assert.Throws<FormatException>(() => PrometheusTextParser.Parse("# TYPE a counter\na{x=\"bad\\t\"} 1\n"));
        Assert.Throws<FormatException>(() => PrometheusTextParser.Parse("# TYPE a counter\na 1\na 2\n"));
        Assert.Throws<FormatException>(() => PrometheusTextParser.Parse("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"));
        Assert.Throws<FormatException>(() => PrometheusTextParser.Parse("b 1\n"));
        Assert.Throws<FormatException>(() => PrometheusTextParser.Parse("# TYPE a counter\na one\n"));
        Assert.That(PrometheusTextParser.Parse("# HELP a x\\ny\n# TYPE a gauge\na{l=\"q\\\"\\\\\\n\"} -Inf\n")["a"].Samples[0].Labels["l"], Is.EqualTo("q\"\\\n"));
    }
}

/// <summary>Client-chosen label values cannot grow the exposition without bound.</summary>
[TestFixture]
public sealed class MetricsCardinalityTests
{
    [Test]
    public void ManyDistinctModels_AreCappedIntoAnOverflowSeries()
    {
        using var meters = new TestMeterFactory();
        using var metrics = new LlmServerMetrics(meters);
        using var collector = new PrometheusCollector(metrics);
        var extra = 50;
        for (var i = 0; i < PrometheusCollector.MaxSeriesPerInstrument + extra; i++)
        {
            metrics.RecordUsage(new UsageRecord { Route = "messages", Model = "m" + i, Status = 200, LatencyMs = 1 });
        }

        var families = PrometheusTextParser.Parse(collector.Write());
        var requests = families["llmserver_requests_total"].Samples;

        Assert.That(requests, Has.Count.EqualTo(PrometheusCollector.MaxSeriesPerInstrument + 1));
        Assert.That(requests.Single(s => s.Labels.ContainsKey("overflow")).Value, Is.EqualTo(extra));
        Assert.That(requests.Sum(s => s.Value), Is.EqualTo(PrometheusCollector.MaxSeriesPerInstrument + extra), "nothing is lost");
    }
}
