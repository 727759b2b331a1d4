using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using LlmServer.Services.Accounting;
using LlmServer.Services.Masking;
using LlmServer.Tests.Infrastructure;
using LlmServer.Tests.Unit.Masking;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using NSubstitute;
using NSubstitute.ExceptionExtensions;
using static LlmServer.Tests.Integration.Pipeline.PipelineTestKit;

namespace LlmServer.Tests.Integration.Pipeline;

/// <summary>When the masking vault fails, the request is refused with 503 in the route's dialect and nothing goes upstream.</summary>
[TestFixture]
public sealed class MaskingFailClosedTests
{
    private LlmServerHost _host = null!;
    private HttpClient _http = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        var vault = Substitute.For<IMaskingVault>();
        vault.GetOrAddAsync(default!, default!, default).ThrowsAsyncForAnyArgs(new IOException("vault down"));
        vault.TryGetOriginalAsync(default!, default!, default).ThrowsAsyncForAnyArgs(new IOException("vault down"));
        _host = await Builder().WithServices(s => s.Replace(ServiceDescriptor.Singleton(vault))).StartAsync();
        _http = _host.Client();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _http.Dispose();
        await _host.DisposeAsync();
    }

    [SetUp]
    public void Reset() => _host.Reset();

    [TestCase(false)]
    [TestCase(true)]
    public async Task Messages_VaultDown_Returns503ApiError_NothingSentUpstream(bool stream)
    {
        var body = new JsonObject
        {
            ["model"] = ClaudeModel, ["max_tokens"] = 50, ["stream"] = stream,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = MaskingSessionTests.AwsScenario }),
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
        request.Headers.Add("x-session-id", "conv-7");

        using var response = await _http.SendAsync(request);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        var text = await response.Content.ReadAsStringAsync();
        var error = JsonNode.Parse(text)!;
        Assert.That((string?)error["type"], Is.EqualTo("error"));
        Assert.That((string?)error["error"]!["type"], Is.EqualTo("api_error"));
        Assert.That((string?)error["error"]!["message"], Does.Contain("masking").IgnoreCase);
        foreach (var original in MaskingSessionTests.AwsOriginals) Assert.That(text, Does.Not.Contain(original));
        Assert.That(_host.Fake.Requests.Where(r => r.Method == "POST"), Is.Empty, "never sent raw");
        var row = (await RowsAsync(_host, 1)).Single();
        Assert.That((row.Status, row.ErrorCode, row.KeyId), Is.EqualTo((503, "masking_unavailable", "master")));
    }

    [TestCase("/api/v1/chat")]
    [TestCase("/api/v1/chat/stream")]
    public async Task SessionChat_VaultDown_Returns503MaskingUnavailable_NothingSentUpstream(string path)
    {
        var body = new JsonObject { ["session_id"] = "s-fail", ["user_prompt"] = MaskingSessionTests.AwsScenario };

        using var response = await _http.PostAsync(path, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        var text = await response.Content.ReadAsStringAsync();
        var error = JsonNode.Parse(text)!;
        Assert.That((bool?)error["success"], Is.False);
        Assert.That((string?)error["error"]!["code"], Is.EqualTo("masking_unavailable"));
        Assert.That(error["trace_id"], Is.Not.Null);
        foreach (var original in MaskingSessionTests.AwsOriginals) Assert.That(text, Does.Not.Contain(original));
        Assert.That(_host.Fake.Requests.Where(r => r.Method == "POST"), Is.Empty, "never sent raw");
        var row = (await RowsAsync(_host, 1)).Single();
        Assert.That((row.Route, row.Status, row.ErrorCode), Is.EqualTo(("api_chat", 503, "masking_unavailable")));
    }
}
