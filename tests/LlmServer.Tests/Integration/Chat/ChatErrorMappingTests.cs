using System.Net;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Infrastructure;
using static LlmServer.Tests.Integration.Chat.ChatTestKit;

namespace LlmServer.Tests.Integration.Chat;

/// <summary>Every upstream failure maps to one status and the session API's error body, never a 500.</summary>
[TestFixture]
public sealed class ChatErrorMappingTests : SessionChatFixture
{
    private static async Task AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(status), text);
        var body = await BodyAsync(new HttpResponseMessage { Content = new StringContent(text) });
        Assert.That((bool?)body["success"], Is.False);
        Assert.That((string?)body["error"]!["code"], Is.EqualTo(code));
        Assert.That((string?)body["error"]!["message"], Is.Not.Empty);
        Assert.That((string?)body["trace_id"], Is.Not.Empty);
    }

    [Test]
    public async Task BadUserKey_Is401WithClearMessage_AndKeyNotEchoed()
    {
        Fake.ValidKeys.Add(ServerKey);

        var response = await PostAsync(Http, "/api/v1/chat", """{"user_prompt":"hi","use_user_api_key":true,"openai_api_key":"sk-wrong-user-key-123"}""", "en");

        await AssertErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_user_api_key");
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(text, Does.Contain("openai_api_key"));
        Assert.That(text, Does.Not.Contain("sk-wrong-user-key-123"));
    }

    [Test]
    public async Task UpstreamRateLimit_Is429WithRetryAfter()
    {
        Fake.EnqueueFault(Fault.Http(429, retryAfter: "7"));

        var response = await PostAsync(Http, "/api/v1/chat", """{"user_prompt":"hi"}""");

        await AssertErrorAsync(response, HttpStatusCode.TooManyRequests, "upstream_rate_limited");
        Assert.That(response.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(7)));
        Assert.That(ResponsesCalls(Fake), Has.Count.EqualTo(1), "a Retry-After beyond the cap is not slept on");
    }

    [Test]
    public async Task Upstream500OnEveryAttempt_Is502WithoutUpstreamInternals()
    {
        Fake.EnqueueFault(Fault.Http(500), 3);

        var response = await PostAsync(Http, "/api/v1/chat", """{"user_prompt":"hi"}""");

        await AssertErrorAsync(response, HttpStatusCode.BadGateway, "upstream_error");
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Not.Contain("fake-internal.local"));
    }

    [Test]
    public async Task UpstreamMalformedJson_Is502()
    {
        Fake.EnqueueFault(Fault.Malformed());

        var response = await PostAsync(Http, "/api/v1/chat", """{"user_prompt":"hi"}""");

        await AssertErrorAsync(response, HttpStatusCode.BadGateway, "upstream_invalid_response");
    }

    [Test]
    public async Task UpstreamConnectionReset_Is502()
    {
        Fake.EnqueueFault(Fault.ResetConnection());

        var response = await PostAsync(Http, "/api/v1/chat", """{"user_prompt":"hi"}""");

        await AssertErrorAsync(response, HttpStatusCode.BadGateway, "upstream_unreachable");
    }

    [Test]
    public async Task SlowUpstream_Is504AfterConfiguredTimeout()
    {
        await using var app = App(Fake, new Dictionary<string, string?> { ["LlmServer:OpenAi:TimeoutSeconds"] = "2" });
        using var client = app.CreateClient();
        // NOTE: warm the connection first so a cold start on a busy machine is not mistaken for the timeout.
        Assert.That((await PostAsync(client, "/api/v1/chat", """{"user_prompt":"warm"}""")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Fake.EnqueueFault(Fault.Slow(TimeSpan.FromSeconds(20)));

        var response = await PostAsync(client, "/api/v1/chat", """{"user_prompt":"hi"}""", "en");

        await AssertErrorAsync(response, HttpStatusCode.GatewayTimeout, "upstream_timeout");
        Assert.That((string?)(await BodyAsync(response))["error"]!["message"], Does.Contain("2 s"));
    }

    [Test]
    public async Task StreamStallingUpstream_EndsWithTimeoutErrorEvent()
    {
        await using var app = App(Fake, new Dictionary<string, string?> { ["LlmServer:OpenAi:TimeoutSeconds"] = "2" });
        using var client = app.CreateClient();
        Assert.That((await PostAsync(client, "/api/v1/chat", """{"user_prompt":"warm"}""")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Fake.EnqueueFault(Fault.Stall(afterChunks: 5, TimeSpan.FromSeconds(20)));

        var response = await client.PostAsync("/api/v1/chat/stream", Json("""{"user_prompt":"a b c d e f"}"""));
        var text = await response.Content.ReadAsStringAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(text, Does.Contain("event: error"));
        Assert.That(text, Does.Contain("upstream_timeout"));
        Assert.That(text, Does.Not.Contain("event: done"));
    }

    [Test]
    public void InvalidChatSetting_FailsAtStartNamingIt()
    {
        using var app = App(Fake, new Dictionary<string, string?> { ["LlmServer:Chat:Temperature"] = "5" });

        var ex = Assert.Catch(() => app.CreateClient());

        Assert.That(ex!.ToString(), Does.Contain("Temperature"));
    }

    [Test]
    public async Task UnreachableUpstream_Is502NamingTheSetting()
    {
        await using var app = new LlmServerApp(new Dictionary<string, string?>
        {
            ["LlmServer:OpenAi:BaseUrl"] = $"http://127.0.0.1:{ClosedPort()}/v1",
            ["LlmServer:OpenAi:ApiKey"] = ServerKey,
        });
        using var client = app.CreateClient();

        var response = await PostAsync(client, "/api/v1/chat", """{"user_prompt":"hi"}""", "en");

        await AssertErrorAsync(response, HttpStatusCode.BadGateway, "upstream_unreachable");
        Assert.That((string?)(await BodyAsync(response))["error"]!["message"], Does.Contain("OPENAI_BASE_URL"));
    }
}
