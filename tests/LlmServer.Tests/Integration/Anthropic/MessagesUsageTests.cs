using System.Collections.Concurrent;
using System.Text;
using LlmServer.FakeUpstream;
using LlmServer.Services.Accounting;
using LlmServer.Tests.Infrastructure;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace LlmServer.Tests.Integration.Anthropic;

/// <summary>Every /v1/messages call that reached an upstream leaves one usage row with the upstream's token counts.</summary>
[TestFixture]
public sealed class MessagesUsageTests
{
    private sealed class CapturingSink : IUsageSink
    {
        public ConcurrentQueue<UsageRecord> Rows { get; } = new();

        public void Record(UsageRecord record) => Rows.Enqueue(record);
    }

    private readonly CapturingSink _sink = new();
    private FakeUpstreamServer _fake = null!;
    private LlmServerApp _app = null!;
    private HttpClient _http = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _fake = await FakeUpstreamServer.StartAsync();
        _app = new LlmServerApp(new Dictionary<string, string?>
        {
            ["LlmServer:Anthropic:ApiKey"] = "sk-ant-upstream",
            ["LlmServer:Anthropic:BaseUrl"] = _fake.BaseUrl,
            ["LlmServer:Vllm:BaseUrl"] = _fake.V1Url,
        });
        _http = _app.WithWebHostBuilder(b => b.ConfigureTestServices(s => s.AddSingleton<IUsageSink>(_sink))).CreateClient();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _http.Dispose();
        await _app.DisposeAsync();
        await _fake.DisposeAsync();
    }

    [TestCase("claude-sonnet-4-5", false)]
    [TestCase("claude-sonnet-4-5", true)]
    [TestCase("fake-vllm-model", false)]
    [TestCase("fake-vllm-model", true)]
    public async Task Call_RecordsOneRowWithUpstreamUsage(string model, bool stream)
    {
        while (_sink.Rows.TryDequeue(out _)) { }
        _fake.CachedTokens = 2;
        var body = $$"""{"model":"{{model}}","max_tokens":20,"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"토큰 세기 test"}]}""";
        using var response = await _http.PostAsync("/v1/messages", new StringContent(body, Encoding.UTF8, "application/json"));
        _ = await response.Content.ReadAsStringAsync();

        for (var i = 0; i < 40 && _sink.Rows.IsEmpty; i++) await Task.Delay(50);
        Assert.That(_sink.Rows, Has.Count.EqualTo(1));
        var row = _sink.Rows.Single();
        Assert.That(row.Route, Is.EqualTo("messages"));
        Assert.That(row.Model, Is.EqualTo(model));
        Assert.That(row.Upstream, Is.EqualTo(model.StartsWith("claude-") ? "anthropic" : "vllm"));
        Assert.That(row.Status, Is.EqualTo(200));
        Assert.That(row.Stream, Is.EqualTo(stream));
        Assert.That(row.InputTokens, Is.GreaterThan(2));
        Assert.That(row.CachedTokens, Is.EqualTo(2));
        Assert.That(row.OutputTokens, Is.GreaterThan(0));
    }
}
