using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using LlmServer.FakeUpstream;
using LlmServer.Services.Metrics;
using LlmServer.Tests.Integration.Gateway;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace LlmServer.Tests.Integration.Operations;

/// <summary>
/// Traces of a real exchange through the gateway to the fake upstream: a server span per request and a client
/// span per upstream attempt with the GenAI semantic-convention attributes, never the prompt.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class TracingTests
{
    private const string Prompt = "my number is 010-2222-3333, tell me a secret";

    [Test]
    public async Task ChatCompletion_IsOneServerSpanWithOneClientSpanPerAttempt_CarryingGenAiAttributesButNoPrompt()
    {
        var spans = new List<Activity>();
        await using var host = await GatewayHost.StartAsync(realLedger: true,
            services: s => s.AddOpenTelemetry().WithTracing(t => t.AddInMemoryExporter(spans)));
        using var http = host.Client();

        using var response = await http.PostAsJsonAsync("/v1/chat/completions",
            new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = Prompt } } });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var server = await WaitForAsync(spans, a => a.Kind == ActivityKind.Server && a.GetTagItem("gen_ai.request.model") is not null);

        Activity[] clients;
        lock (spans) clients = spans.Where(a => a.Source.Name == LlmServerTelemetry.SourceName && a.Kind == ActivityKind.Client).ToArray();
        Assert.That(clients, Has.Length.EqualTo(1), "one upstream attempt");
        var attempt = clients[0];
        Assert.Multiple(() =>
        {
            Assert.That(attempt.TraceId, Is.EqualTo(server.TraceId));
            Assert.That(attempt.ParentSpanId, Is.EqualTo(server.SpanId), "the attempt is a child of the exchange");
            Assert.That(attempt.DisplayName, Is.EqualTo("chat gpt-4o-mini"));
            Assert.That(attempt.GetTagItem("gen_ai.operation.name"), Is.EqualTo("chat"));
            Assert.That(attempt.GetTagItem("gen_ai.provider.name"), Is.EqualTo("openai_compatible"));
            Assert.That(attempt.GetTagItem("gen_ai.request.model"), Is.EqualTo("gpt-4o-mini"));
            Assert.That(attempt.GetTagItem("gen_ai.usage.input_tokens"), Is.GreaterThan(0L));
            Assert.That(attempt.GetTagItem("gen_ai.usage.output_tokens"), Is.GreaterThan(0L));
            Assert.That(attempt.GetTagItem("http.response.status_code"), Is.EqualTo(200));
            Assert.That(attempt.GetTagItem("server.address"), Is.EqualTo("127.0.0.1"));
            Assert.That(server.GetTagItem("gen_ai.operation.name"), Is.EqualTo("chat"));
            Assert.That(server.GetTagItem("gen_ai.usage.output_tokens"), Is.GreaterThan(0L));
            Assert.That(AllTagText(clients.Append(server)), Does.Not.Contain("010-2222").And.Not.Contain("secret"));
        });
    }

    [Test]
    public async Task MessagesAndSessionChat_EachGiveAClientSpanWithUsage_UnderTheServerSpan()
    {
        var spans = new List<Activity>();
        await using var host = await GatewayHost.StartAsync(s =>
        {
            s["LlmServer:OpenAi:ApiKey"] = "sk-server-trace-test";
            s["LlmServer:OpenAi:BaseUrl"] = s["LlmServer:Gateway:Upstreams:0:BaseUrl"];
        }, realLedger: true, services: s => s.AddOpenTelemetry().WithTracing(t => t.AddInMemoryExporter(spans)));
        using var http = host.Client();

        using var messages = await http.PostAsJsonAsync("/v1/messages",
            new { model = "gpt-4o-mini", max_tokens = 50, messages = new[] { new { role = "user", content = Prompt } } });
        using var chat = await http.PostAsJsonAsync("/api/v1/chat", new { user_prompt = Prompt, model = "gpt-4o-mini" });
        Assert.That(messages.StatusCode, Is.EqualTo(HttpStatusCode.OK), await messages.Content.ReadAsStringAsync());
        Assert.That(chat.StatusCode, Is.EqualTo(HttpStatusCode.OK), await chat.Content.ReadAsStringAsync());
        var messagesServer = await WaitForAsync(spans, a => a.Kind == ActivityKind.Server && Equals(a.GetTagItem("llmserver.route"), "messages"));
        var chatServer = await WaitForAsync(spans, a => a.Kind == ActivityKind.Server && Equals(a.GetTagItem("llmserver.route"), "api_chat"));

        Activity[] clients;
        lock (spans) clients = spans.Where(a => a.Source.Name == LlmServerTelemetry.SourceName).ToArray();
        var messagesAttempt = clients.Single(a => a.ParentSpanId == messagesServer.SpanId);
        var chatAttempt = clients.Single(a => a.ParentSpanId == chatServer.SpanId);
        Assert.Multiple(() =>
        {
            Assert.That(messagesAttempt.GetTagItem("gen_ai.request.model"), Is.EqualTo("gpt-4o-mini"));
            Assert.That(messagesAttempt.GetTagItem("gen_ai.usage.output_tokens"), Is.GreaterThan(0L));
            Assert.That(chatAttempt.GetTagItem("gen_ai.provider.name"), Is.EqualTo("openai"));
            Assert.That(chatAttempt.GetTagItem("gen_ai.request.model"), Is.EqualTo("gpt-4o-mini"));
            Assert.That(chatAttempt.GetTagItem("gen_ai.usage.input_tokens"), Is.GreaterThan(0L));
            Assert.That(chatServer.GetTagItem("gen_ai.usage.output_tokens"), Is.GreaterThan(0L));
            Assert.That(AllTagText(clients.Append(messagesServer).Append(chatServer)), Does.Not.Contain("010-2222").And.Not.Contain("secret"));
        });
    }

    [Test]
    public async Task UpstreamFailingThenRetried_GivesOneClientSpanPerAttempt_TheFailedOneMarkedAsError()
    {
        var spans = new List<Activity>();
        await using var host = await GatewayHost.StartAsync(realLedger: true,
            services: s => s.AddOpenTelemetry().WithTracing(t => t.AddInMemoryExporter(spans)));
        host.Fake.EnqueueFault(Fault.Http(503));
        using var http = host.Client();

        using var response = await http.PostAsJsonAsync("/v1/chat/completions",
            new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await WaitForAsync(spans, a => a.Kind == ActivityKind.Server && a.GetTagItem("gen_ai.request.model") is not null);

        Activity[] clients;
        lock (spans) clients = spans.Where(a => a.Source.Name == LlmServerTelemetry.SourceName).OrderBy(a => a.StartTimeUtc).ToArray();
        Assert.That(clients, Has.Length.EqualTo(2));
        Assert.That(clients[0].Status, Is.EqualTo(ActivityStatusCode.Error));
        Assert.That(clients[0].GetTagItem("http.response.status_code"), Is.EqualTo(503));
        Assert.That(clients[1].Status, Is.Not.EqualTo(ActivityStatusCode.Error));
        Assert.That(clients[1].GetTagItem("gen_ai.usage.output_tokens"), Is.GreaterThan(0L));
    }

    [Test]
    public async Task WithOtlpEndpoint_TracesAndMetricsReachARealReceiver_WithoutThePrompt()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var host = await GatewayHost.StartAsync(s =>
        {
            s["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Url;
            s["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
            s["OTEL_SERVICE_NAME"] = "llmserver-under-test";
            s["OTEL_BSP_SCHEDULE_DELAY"] = "100";
            s["OTEL_METRIC_EXPORT_INTERVAL"] = "200";
        }, realLedger: true);
        using var http = host.Client();

        using var response = await http.PostAsJsonAsync("/v1/chat/completions",
            new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = Prompt } } });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));

        // NOTE: OTLP/protobuf keeps strings as UTF-8 bytes, so attribute names and values can be found in the body.
        var traces = await receiver.WaitForAsync("/v1/traces", body => body.Contains("gen_ai.usage.output_tokens", StringComparison.Ordinal));
        var metrics = await receiver.WaitForAsync("/v1/metrics", body => body.Contains("llmserver_requests", StringComparison.Ordinal));
        Assert.Multiple(() =>
        {
            Assert.That(traces, Does.Contain("gen_ai.request.model").And.Contain("gpt-4o-mini").And.Contain("llmserver-under-test"));
            Assert.That(traces, Does.Not.Contain("010-2222").And.Not.Contain("secret"));
            Assert.That(metrics, Does.Contain("llmserver_request_duration_seconds"));
        });
    }

    private static string AllTagText(IEnumerable<Activity> activities) =>
        string.Join("\n", activities.SelectMany(a => a.TagObjects.Select(t => $"{t.Key}={t.Value}").Append(a.DisplayName)));

    private static async Task<Activity> WaitForAsync(List<Activity> spans, Func<Activity, bool> match)
    {
        // NOTE: the server span ends after the response is sent; wait a bounded number of short polls for it.
        for (var i = 0; i < 200; i++)
        {
            lock (spans)
            {
                var found = spans.FirstOrDefault(match);
                if (found is not null) return found;
            }
            await Task.Delay(25);
        }
        lock (spans) throw new AssertionException("no matching span among: " + string.Join(", ", spans.Select(s => s.DisplayName)));
    }

    /// <summary>An OTLP/HTTP receiver on loopback that keeps every export body.</summary>
    private sealed class OtlpReceiver : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly ConcurrentQueue<(string Path, string Body)> _received = new();

        private OtlpReceiver(WebApplication app) => _app = app;

        public string Url { get; private set; } = "";

        public static async Task<OtlpReceiver> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var receiver = new OtlpReceiver(app);
            app.MapPost("/v1/{signal}", async (HttpContext ctx) =>
            {
                using var ms = new MemoryStream();
                await ctx.Request.Body.CopyToAsync(ms);
                receiver._received.Enqueue((ctx.Request.Path.Value!, Encoding.UTF8.GetString(ms.ToArray())));
                ctx.Response.ContentType = "application/x-protobuf";
            });
            await app.StartAsync();
            receiver.Url = app.Urls.First();
            return receiver;
        }

        public async Task<string> WaitForAsync(string path, Func<string, bool> match)
        {
            for (var i = 0; i < 200; i++)
            {
                var all = string.Join("\n", _received.Where(r => r.Path == path).Select(r => r.Body));
                if (match(all)) return all;
                await Task.Delay(50);
            }
            throw new AssertionException($"nothing matching arrived on {path}; got {string.Join(", ", _received.Select(r => r.Path))}");
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
