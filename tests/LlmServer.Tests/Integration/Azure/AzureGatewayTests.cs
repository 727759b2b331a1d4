using System.ClientModel;
using LlmServer.Tests.Integration.Gateway;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Responses;

namespace LlmServer.Tests.Integration.Azure;

/// <summary>The gateway's azure_openai upstream, driven by the official OpenAI SDK, against the fake speaking Azure's paths.</summary>
[TestFixture]
[NonParallelizable]
public sealed class AzureGatewayTests
{
    private static Task<GatewayHost> StartAsync(string? apiVersion) => GatewayHost.StartAsync(s =>
    {
        s["LlmServer:Gateway:Upstreams:0:Kind"] = "azure_openai";
        s["LlmServer:Gateway:Upstreams:0:BaseUrl"] = s["LlmServer:Gateway:Upstreams:0:BaseUrl"]![..^"/v1".Length];
        if (apiVersion is not null) s["LlmServer:Gateway:Upstreams:0:ApiVersion"] = apiVersion;
    });

    private static OpenAIClientOptions Options(GatewayHost host) => new() { Endpoint = host.V1 };
    private static ApiKeyCredential Key => new(GatewayHost.MasterKey);

    private static void AssertAzureCall(GatewayHost host, string path)
    {
        var call = host.Fake.LastRequest;
        Assert.That(call.Path, Is.EqualTo(path));
        Assert.That(call.Headers["api-key"], Is.EqualTo(GatewayHost.UpstreamKey));
        Assert.That(call.Headers.ContainsKey("authorization"), Is.False, "the caller's key never reaches Azure");
    }

    [TestCase(null, "/openai/v1/chat/completions")]
    [TestCase("2024-10-21", "/openai/deployments/fake-vllm-model/chat/completions?api-version=2024-10-21")]
    public async Task ChatCompletion_ReachesTheAzurePathOfTheDeployment(string? apiVersion, string path)
    {
        await using var host = await StartAsync(apiVersion);
        host.Fake.ValidKeys.Add(GatewayHost.UpstreamKey);
        var client = new ChatClient("house", Key, Options(host));

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("hi azure")]);

        Assert.That(completion.Content[0].Text, Is.EqualTo("Echo: hi azure"));
        AssertAzureCall(host, path);
    }

    [TestCase(null, "/openai/v1/chat/completions")]
    [TestCase("2024-10-21", "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21")]
    public async Task StreamingChatCompletion_FromAzure_ConcatenatesToTheAnswer(string? apiVersion, string path)
    {
        await using var host = await StartAsync(apiVersion);
        var client = new ChatClient("gpt-4o-mini", Key, Options(host));
        var text = "";
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("one two three")]))
        {
            foreach (var part in update.ContentUpdate) text += part.Text;
        }

        Assert.That(text, Is.EqualTo("Echo: one two three"));
        AssertAzureCall(host, path);
    }

    [TestCase(null, "/openai/v1/responses")]
    [TestCase("2025-04-01-preview", "/openai/responses?api-version=2025-04-01-preview")]
    public async Task Responses_ReachTheAzureResponsesApi_WithTheDeploymentAsModel(string? apiVersion, string path)
    {
#pragma warning disable OPENAI001
        await using var host = await StartAsync(apiVersion);
        var client = new ResponsesClient(Key, new ResponsesClientOptions { Endpoint = host.V1 });

        ResponseResult response = await client.CreateResponseAsync(new CreateResponseOptions
        {
            Model = "house",
            InputItems = { ResponseItem.CreateUserMessageItem("respond please") },
        });
#pragma warning restore OPENAI001

        Assert.That(response.GetOutputText(), Is.EqualTo("Echo: respond please"));
        AssertAzureCall(host, path);
        Assert.That((string?)host.Fake.LastRequest.Json!["model"], Is.EqualTo("fake-vllm-model"));
    }

    [TestCase(null, "/openai/v1/responses/{0}")]
    [TestCase("2025-04-01-preview", "/openai/responses/{0}?api-version=2025-04-01-preview")]
    public async Task ResponseRetrieve_ReachesTheAzureResponsesApi(string? apiVersion, string pathFormat)
    {
#pragma warning disable OPENAI001
        await using var host = await StartAsync(apiVersion);
        var client = new ResponsesClient(Key, new ResponsesClientOptions { Endpoint = host.V1 });

        ResponseResult created = await client.CreateResponseAsync("gpt-4o-mini", "keep this", null);
        ResponseResult fetched = await client.GetResponseAsync(created.Id);
#pragma warning restore OPENAI001

        Assert.That(fetched.Id, Is.EqualTo(created.Id));
        Assert.That(fetched.GetOutputText(), Is.EqualTo("Echo: keep this"));
        AssertAzureCall(host, string.Format(System.Globalization.CultureInfo.InvariantCulture, pathFormat, created.Id));
    }

    [TestCase(null, "/openai/v1/chat/completions")]
    [TestCase("2024-10-21", "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21")]
    public async Task AnthropicMessages_AreTranslatedToTheAzureChatCompletionsOfTheDeployment(string? apiVersion, string path)
    {
        await using var host = await StartAsync(apiVersion);
        host.Fake.ValidKeys.Add(GatewayHost.UpstreamKey);
        using var http = host.Client();

        var response = await http.PostAsync("v1/messages", new StringContent(
            """{"model":"gpt-4o-mini","max_tokens":50,"messages":[{"role":"user","content":"claude client here"}]}""",
            System.Text.Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();

        Assert.That((int)response.StatusCode, Is.EqualTo(200), text);
        Assert.That((string?)System.Text.Json.Nodes.JsonNode.Parse(text)!["content"]![0]!["text"], Is.EqualTo("Echo: claude client here"));
        AssertAzureCall(host, path);
    }

    [Test]
    public async Task WrongAzureKey_Is401WithAnErrorBody_WithoutTheKey()
    {
        await using var host = await StartAsync(null);
        host.Fake.ValidKeys.Add("the-real-azure-key");
        using var http = host.Client();

        var response = await http.PostAsync("v1/chat/completions",
            new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", System.Text.Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();

        Assert.That((int)response.StatusCode, Is.EqualTo(401), text);
        Assert.That(System.Text.Json.Nodes.JsonNode.Parse(text)!["error"]!["message"], Is.Not.Null);
        Assert.That(text, Does.Not.Contain(GatewayHost.UpstreamKey));
    }
}
