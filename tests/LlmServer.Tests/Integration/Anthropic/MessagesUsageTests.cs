using System.Text;
using LlmServer.Tests.Infrastructure;

namespace LlmServer.Tests.Integration.Anthropic;

/// <summary>Every /v1/messages call that reached an upstream leaves one usage row with the upstream's token counts.</summary>
[TestFixture]
public sealed class MessagesUsageTests
{
    private LlmServerHost _host = null!;
    private HttpClient _http = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _host = await LlmServerHostBuilder.Create().WithAnthropic("sk-ant-upstream").WithVllm().StartAsync();
        _http = _host.Client(null);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _http.Dispose();
        await _host.DisposeAsync();
    }

    [TestCase("claude-sonnet-4-5", false)]
    [TestCase("claude-sonnet-4-5", true)]
    [TestCase("fake-vllm-model", false)]
    [TestCase("fake-vllm-model", true)]
    public async Task Call_RecordsOneRowWithUpstreamUsage(string model, bool stream)
    {
        _host.Reset();
        _host.Fake.CachedTokens = 2;
        var body = $$"""{"model":"{{model}}","max_tokens":20,"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"토큰 세기 test"}]}""";
        using var response = await _http.PostAsync("/v1/messages", new StringContent(body, Encoding.UTF8, "application/json"));
        _ = await response.Content.ReadAsStringAsync();

        await _host.Usage.WaitForCountAsync(1);
        await _host.IdleAsync();
        Assert.That(_host.Usage.Records, Has.Count.EqualTo(1));
        var row = _host.Usage.Records.Single();
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
