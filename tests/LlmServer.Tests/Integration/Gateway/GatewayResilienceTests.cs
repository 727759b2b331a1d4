using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;

namespace LlmServer.Tests.Integration.Gateway;

/// <summary>Each mapped upstream failure, played by the fake upstream's fault queue.</summary>
[TestFixture]
[NonParallelizable]
public sealed class GatewayResilienceTests
{
    private GatewayHost _host = null!;
    private FakeUpstreamServer _backup = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _backup = await FakeUpstreamServer.StartAsync();
        _host = await GatewayHost.StartAsync(s =>
        {
            s["LlmServer:Gateway:Upstreams:1:Name"] = "backup";
            s["LlmServer:Gateway:Upstreams:1:Kind"] = "openai_compatible";
            s["LlmServer:Gateway:Upstreams:1:BaseUrl"] = _backup.V1Url;
            s["LlmServer:Gateway:Upstreams:1:Models:0"] = "backup-only";
            s["LlmServer:Gateway:Models:1:Name"] = "ha-model";
            s["LlmServer:Gateway:Models:1:Deployments:0:Upstream"] = "fake";
            s["LlmServer:Gateway:Models:1:Deployments:0:Model"] = "primary-name";
            s["LlmServer:Gateway:Models:1:Deployments:0:Weight"] = "1";
            s["LlmServer:Gateway:Models:1:Deployments:1:Upstream"] = "backup";
            s["LlmServer:Gateway:Models:1:Deployments:1:Model"] = "backup-name";
            s["LlmServer:Gateway:Models:1:Deployments:1:Weight"] = "0";
        });
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _backup.DisposeAsync();
    }

    [SetUp]
    public void Reset()
    {
        _host.Fake.Reset();
        _backup.Reset();
    }

    private static StringContent Chat(string model = "gpt-4o-mini", bool stream = false) =>
        new($$"""{"model":"{{model}}","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"one two three four"}]}""", Encoding.UTF8, "application/json");

    private async Task<(int Status, JsonNode? Json, string Text, HttpResponseMessage Response)> PostAsync(StringContent content)
    {
        using var http = _host.Client();
        var response = await http.PostAsync("v1/chat/completions", content);
        var text = await response.Content.ReadAsStringAsync();
        JsonNode? json = null;
        try { json = JsonNode.Parse(text); } catch (System.Text.Json.JsonException) { }
        return ((int)response.StatusCode, json, text, response);
    }

    [Test]
    public async Task Upstream5xxTwiceThenOk_IsRetriedAndSucceeds()
    {
        _host.Fake.EnqueueFault(Fault.Http(500), 2);

        var (status, json, _, _) = await PostAsync(Chat());

        Assert.That(status, Is.EqualTo(200));
        Assert.That((string?)json!["choices"]![0]!["message"]!["content"], Is.EqualTo("Echo: one two three four"));
        Assert.That(_host.Fake.Requests, Has.Count.EqualTo(3));
    }

    [Test]
    public async Task Upstream5xxOnEveryAttempt_Returns502_WithoutInternalAddresses()
    {
        _host.Fake.EnqueueFault(Fault.Http(503), 3);

        var (status, json, text, _) = await PostAsync(Chat());

        Assert.That(status, Is.EqualTo(502));
        Assert.That(json!["error"]!.AsObject().Select(p => p.Key), Is.EquivalentTo(new[] { "message", "type", "param", "code" }));
        Assert.That(text, Does.Not.Contain("fake-internal").And.Not.Contain("127.0.0.1").And.Not.Contain(" at "));
        Assert.That(_host.Fake.Requests, Has.Count.EqualTo(3), "at most 3 attempts");
    }

    [Test]
    public async Task Upstream429WithRetryAfterBeyondCap_Returns429AtOnce()
    {
        _host.Fake.EnqueueFault(Fault.Http(429, retryAfter: "120"));

        var (status, json, _, response) = await PostAsync(Chat());

        Assert.That(status, Is.EqualTo(429));
        Assert.That((string?)json!["error"]!["code"], Is.EqualTo("upstream_rate_limited"));
        Assert.That(response.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(120)));
        Assert.That(_host.Fake.Requests, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task Upstream4xx_IsReturnedVerbatimWithoutRetry()
    {
        _host.Fake.EnqueueFault(Fault.Http(422));

        var (status, _, text, _) = await PostAsync(Chat());

        Assert.That(status, Is.EqualTo(422));
        Assert.That(text, Does.Contain("fake upstream fault 422"));
        Assert.That(_host.Fake.Requests, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task FailingDeployment_MovesToNextDeploymentOfSameModel()
    {
        _host.Fake.EnqueueFault(Fault.Http(500));

        var (status, _, _, _) = await PostAsync(Chat("ha-model"));

        Assert.That(status, Is.EqualTo(200));
        Assert.That((string?)_host.Fake.LastRequest.Json!["model"], Is.EqualTo("primary-name"));
        Assert.That(_backup.Requests, Has.Count.EqualTo(1));
        Assert.That((string?)_backup.LastRequest.Json!["model"], Is.EqualTo("backup-name"));
    }

    [Test]
    public async Task SlowFirstByte_Returns504()
    {
        _host.Fake.EnqueueFault(Fault.Slow(TimeSpan.FromSeconds(10)));

        var (status, json, _, _) = await PostAsync(Chat());

        Assert.That(status, Is.EqualTo(504));
        Assert.That((string?)json!["error"]!["code"], Is.EqualTo("upstream_timeout"));
    }

    [Test]
    public async Task ConnectionReset_Returns502()
    {
        _host.Fake.EnqueueFault(Fault.ResetConnection());

        var (status, json, _, _) = await PostAsync(Chat());

        Assert.That(status, Is.EqualTo(502));
        Assert.That((string?)json!["error"]!["type"], Is.EqualTo("server_error"));
    }

    [Test]
    public async Task MalformedUpstreamJson_Returns502()
    {
        _host.Fake.EnqueueFault(Fault.Malformed());

        var (status, json, _, _) = await PostAsync(Chat());

        Assert.That(status, Is.EqualTo(502));
        Assert.That((string?)json!["error"]!["code"], Is.EqualTo("upstream_invalid_response"));
    }

    [Test]
    public async Task CutStream_EndsWithErrorEvent_AndNoDone()
    {
        // NOTE: a delay lets the headers and first chunks reach the gateway before the reset (Linux drops unread data on RST).
        _host.Fake.ChunkDelay = TimeSpan.FromMilliseconds(100);
        _host.Fake.EnqueueFault(Fault.Cut(afterChunks: 2));

        var (status, _, text, _) = await PostAsync(Chat(stream: true));

        Assert.That(status, Is.EqualTo(200));
        Assert.That(text, Does.Not.Contain("[DONE]"));
        var last = text.TrimEnd('\n').Split("\n\n")[^1];
        Assert.That(last, Does.StartWith("data: {\"error\":"));
        Assert.That(JsonNode.Parse(last["data: ".Length..])!["error"]!["code"]!.GetValue<string>(), Is.EqualTo("upstream_disconnected"));
    }

    [Test]
    public async Task StallMidStream_IdleTimeoutEndsStreamWithErrorEvent()
    {
        _host.Fake.EnqueueFault(Fault.Stall(afterChunks: 2, TimeSpan.FromSeconds(5)));
        var clock = Stopwatch.StartNew();

        var (status, _, text, _) = await PostAsync(Chat(stream: true));

        Assert.That(status, Is.EqualTo(200));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(4)), "the 1 s idle timeout did not fire");
        Assert.That(text, Does.Not.Contain("[DONE]"));
        Assert.That(text, Does.Contain("\"code\":\"upstream_timeout\""));
    }

    [Test]
    public async Task SlowButSteadyStream_LongerThanTheIdleTimeout_IsRelayedWhole()
    {
        // NOTE: every gap (400 ms) is under the 1 s idle timeout while the whole stream takes well over it.
        _host.Fake.ChunkDelay = TimeSpan.FromMilliseconds(400);
        var clock = Stopwatch.StartNew();

        var (status, _, text, _) = await PostAsync(Chat(stream: true));

        Assert.That(status, Is.EqualTo(200));
        Assert.That(clock.Elapsed, Is.GreaterThan(TimeSpan.FromSeconds(1.5)), "the stream was not longer than the idle timeout");
        Assert.That(text, Does.Contain("data: [DONE]"));
        Assert.That(text, Does.Not.Contain("\"error\""));
    }

    [Test]
    public async Task UnreachableUpstream_Returns502AfterRetries()
    {
        var dead = await FakeUpstreamServer.StartAsync();
        var deadUrl = dead.V1Url;
        await dead.DisposeAsync();
        await using var host = await GatewayHost.StartAsync(fake: await FakeUpstreamServer.StartAsync(), configure: s =>
            s["LlmServer:Gateway:Upstreams:0:BaseUrl"] = deadUrl);
        using var http = host.Client();

        var response = await http.PostAsync("v1/chat/completions", Chat());
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.That((int)response.StatusCode, Is.EqualTo(502));
        Assert.That((string?)json["error"]!["code"], Is.EqualTo("upstream_unreachable"));
        Assert.That(json.ToJsonString(), Does.Not.Contain(new Uri(deadUrl).Port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Test]
    public async Task EveryCircuitOpen_Returns503_WithoutCallingUpstream()
    {
        // NOTE: the breaker's window and break run on the server's clock, which stands still here.
        await using var host = await GatewayHost.StartAsync(s =>
        {
            s["LlmServer:Gateway:Retry:MaxAttempts"] = "1";
            s["LlmServer:Gateway:CircuitBreaker:MinimumThroughput"] = "2";
            s["LlmServer:Gateway:CircuitBreaker:FailureRatio"] = "0.5";
            s["LlmServer:Gateway:CircuitBreaker:BreakSeconds"] = "30";
        }, services: s => s.Replace(ServiceDescriptor.Singleton<TimeProvider>(new FakeTimeProvider(DateTimeOffset.UtcNow))));
        host.Fake.EnqueueFault(Fault.Http(500), 2);
        using var http = host.Client();

        var first = await http.PostAsync("v1/chat/completions", Chat());
        var second = await http.PostAsync("v1/chat/completions", Chat());
        var third = await http.PostAsync("v1/chat/completions", Chat());
        var json = JsonNode.Parse(await third.Content.ReadAsStringAsync())!;

        Assert.That(((int)first.StatusCode, (int)second.StatusCode), Is.EqualTo((502, 502)));
        Assert.That((int)third.StatusCode, Is.EqualTo(503));
        Assert.That((string?)json["error"]!["code"], Is.EqualTo("upstream_unavailable"));
        Assert.That(host.Fake.Requests, Has.Count.EqualTo(2));
    }
}
