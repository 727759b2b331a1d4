using System.Net;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Infrastructure;
using static LlmServer.Tests.Integration.Chat.ChatTestKit;

namespace LlmServer.Tests.Integration.Azure;

/// <summary>The session chat API against an Azure OpenAI resource (the fake speaking Azure's paths and api-key header).</summary>
[TestFixture]
[NonParallelizable]
public sealed class AzureSessionChatTests
{
    private const string AzureKey = "azure-resource-key-0123";

    /// <summary>The server pointed at the fake as an Azure resource (gpt-4o-mini mapped to chat-deployment).</summary>
    private sealed class AzureChat : IAsyncDisposable
    {
        private AzureChat(LlmServerHost host)
        {
            Host = host;
            Client = host.Client(null);
        }

        public LlmServerHost Host { get; }
        public FakeUpstreamServer Fake => Host.Fake;
        public HttpClient Client { get; }
        public CapturingUsageSink Usage => Host.Usage;

        public static async Task<AzureChat> StartAsync(string? apiVersion = null)
        {
            var fake = await FakeUpstreamServer.StartAsync();
            fake.ValidKeys.Add(AzureKey);
            var builder = LlmServerHostBuilder.Create().WithFakeUpstream(fake).WithSettings(s =>
            {
                s["LlmServer:AzureOpenAi:Endpoint"] = fake.BaseUrl;
                s["LlmServer:AzureOpenAi:ApiKey"] = AzureKey;
                s["LlmServer:AzureOpenAi:Deployments:gpt-4o-mini"] = "chat-deployment";
            });
            if (apiVersion is not null) builder.WithSetting("LlmServer:AzureOpenAi:ApiVersion", apiVersion);
            return new AzureChat(await builder.StartAsync());
        }

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            await Host.DisposeAsync();
            await Fake.DisposeAsync();
        }
    }

    private static RecordedRequest AzureCall(FakeUpstreamServer fake) =>
        fake.Requests.Single(r => r.Method == "POST" && r.Path.StartsWith("/openai/", StringComparison.Ordinal));

    [Test]
    public async Task Chat_OnTheV1Endpoint_AnswersWithTheDeploymentsReply_SentWithApiKeyHeader()
    {
        await using var s = await AzureChat.StartAsync();

        var response = await PostAsync(s.Client, "/api/v1/chat", """{"user_prompt":"hello azure","model":"gpt-4o-mini"}""");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var body = await BodyAsync(response);
        Assert.That((string?)body["output_text"], Is.EqualTo("Echo: hello azure"));
        Assert.That((long)body["input_tokens"]!, Is.GreaterThan(0));
        var call = AzureCall(s.Fake);
        Assert.That(call.Path, Is.EqualTo("/openai/v1/responses"));
        Assert.That(call.Headers["api-key"], Is.EqualTo(AzureKey));
        Assert.That(call.Headers.ContainsKey("authorization"), Is.False);
        Assert.That((string?)call.Json!["model"], Is.EqualTo("chat-deployment"), "the model is mapped to its Azure deployment");
        Assert.That((await s.Usage.WaitForAsync(_ => true)).Upstream, Is.EqualTo("azure"), "the ledger names the upstream that served it");
    }

    [Test]
    public async Task Chat_WithADatedApiVersion_UsesTheClassicResponsesPath()
    {
        await using var s = await AzureChat.StartAsync("2025-04-01-preview");

        var response = await PostAsync(s.Client, "/api/v1/chat", """{"user_prompt":"classic please"}""");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        Assert.That((string?)(await BodyAsync(response))["output_text"], Is.EqualTo("Echo: classic please"));
        Assert.That(AzureCall(s.Fake).Path, Is.EqualTo("/openai/responses?api-version=2025-04-01-preview"));
    }

    [Test]
    public async Task Background_OnTheClassicStyle_IsPolledFromTheResourcesResponsesApi()
    {
        await using var s = await AzureChat.StartAsync("2025-04-01-preview");

        var started = await BodyAsync(await PostAsync(s.Client, "/api/v1/chat", """{"user_prompt":"long job","background":true}"""));
        var id = (string?)started["response_id"];

        var polled = await s.Client.GetAsync($"/api/v1/chat/responses/{id}");

        Assert.That(polled.StatusCode, Is.EqualTo(HttpStatusCode.OK), await polled.Content.ReadAsStringAsync());
        Assert.That((string?)(await BodyAsync(polled))["output_text"], Is.EqualTo("Echo: long job"));
        var poll = s.Fake.Requests.Last();
        Assert.That(poll.Path, Is.EqualTo($"/openai/responses/{id}?api-version=2025-04-01-preview"));
        Assert.That(poll.Headers["api-key"], Is.EqualTo(AzureKey));
    }

    [Test]
    public async Task Stream_FromAzure_ArrivesInPiecesAndConcatenatesToTheAnswer()
    {
        await using var s = await AzureChat.StartAsync();

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/chat/stream") { Content = Json("""{"user_prompt":"one two three"}""") };
        using var response = await s.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var deltas = new List<string>();
        await foreach (var (name, data) in ReadSseAsync(await response.Content.ReadAsStreamAsync()))
        {
            if (name == "delta") deltas.Add((string)data["delta"]!);
        }

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(deltas, Has.Count.GreaterThan(1));
        Assert.That(string.Concat(deltas), Is.EqualTo("Echo: one two three"));
        Assert.That(AzureCall(s.Fake).Path, Is.EqualTo("/openai/v1/responses"));
    }

    [Test]
    public async Task WrongServerKey_Is502NamingTheAzureKeySetting_WithoutTheKey()
    {
        await using var s = await AzureChat.StartAsync();

        s.Fake.ValidKeys.Clear();
        s.Fake.ValidKeys.Add("some-other-key");

        var response = await PostAsync(s.Client, "/api/v1/chat", """{"user_prompt":"hi"}""", "en");
        var text = await response.Content.ReadAsStringAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadGateway), text);
        var body = await BodyAsync(new HttpResponseMessage { Content = new StringContent(text) });
        Assert.That((bool?)body["success"], Is.False);
        Assert.That((string?)body["error"]!["code"], Is.EqualTo("upstream_auth_failed"));
        Assert.That(text, Does.Contain("AZURE_OPENAI_API_KEY"));
        Assert.That(text, Does.Not.Contain(AzureKey));
        Assert.That(AzureCall(s.Fake).Path, Is.EqualTo("/openai/v1/responses"), "Azure answered the call with its 401");
    }

    [Test]
    public async Task WrongUserKey_Is401NamingTheField_WithoutTheKey()
    {
        await using var s = await AzureChat.StartAsync();

        var response = await PostAsync(s.Client, "/api/v1/chat",
            """{"user_prompt":"hi","use_user_api_key":true,"openai_api_key":"user-key-not-valid-987"}""", "en");
        var text = await response.Content.ReadAsStringAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), text);
        var body = await BodyAsync(new HttpResponseMessage { Content = new StringContent(text) });
        Assert.That((string?)body["error"]!["code"], Is.EqualTo("invalid_user_api_key"));
        Assert.That((string?)body["error"]!["message"], Does.Contain("openai_api_key"));
        Assert.That(text, Does.Not.Contain("user-key-not-valid-987"));
        Assert.That(AzureCall(s.Fake).Headers["api-key"], Is.EqualTo("user-key-not-valid-987"));
    }
}
