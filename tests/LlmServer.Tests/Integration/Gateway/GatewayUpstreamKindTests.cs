using System.Text;
using System.Text.Json.Nodes;

namespace LlmServer.Tests.Integration.Gateway;

/// <summary>Each upstream kind authenticates its own way; a kind that cannot take OpenAI-wire requests says so.</summary>
[TestFixture]
[NonParallelizable]
public sealed class GatewayUpstreamKindTests
{
    private static StringContent Chat(string model) =>
        new($$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json");

    [Test]
    public async Task AzureOpenAiUpstream_GetsApiKeyHeader_NotBearer()
    {
        await using var host = await GatewayHost.StartAsync(s => s["LlmServer:Gateway:Upstreams:0:Kind"] = "azure_openai");
        using var http = host.Client();

        var response = await http.PostAsync("v1/chat/completions", Chat("gpt-4o-mini"));

        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        Assert.That(host.Fake.LastRequest.Headers["api-key"], Is.EqualTo(GatewayHost.UpstreamKey));
        Assert.That(host.Fake.LastRequest.Headers.ContainsKey("authorization"), Is.False);
    }

    [Test]
    public async Task AnthropicModelOnChatCompletions_IsTranslatedToMessages_AndAnsweredAsChatCompletion()
    {
        var fake = await LlmServer.FakeUpstream.FakeUpstreamServer.StartAsync();
        await using var host = await GatewayHost.StartAsync(s =>
        {
            s["LlmServer:Gateway:Upstreams:1:Name"] = "claude";
            s["LlmServer:Gateway:Upstreams:1:Kind"] = "anthropic";
            s["LlmServer:Gateway:Upstreams:1:BaseUrl"] = fake.BaseUrl;
            s["LlmServer:Gateway:Upstreams:1:ApiKey"] = "sk-ant-upstream";
            s["LlmServer:Gateway:Upstreams:1:Models:0"] = "claude-haiku-4-5";
        }, fake);
        using var http = host.Client();

        var response = await http.PostAsync("v1/chat/completions", Chat("claude-haiku-4-5"));
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        Assert.That((string?)json["object"], Is.EqualTo("chat.completion"));
        Assert.That((string?)json["choices"]![0]!["message"]!["content"], Is.EqualTo("Echo: hi"));
        Assert.That(host.Fake.LastRequest.Path, Is.EqualTo("/v1/messages"));
        Assert.That(host.Fake.LastRequest.ApiKey, Is.EqualTo("sk-ant-upstream"));
    }

    [Test]
    public async Task InvalidUpstreamConfiguration_FailsAtStartNamingTheSetting()
    {
        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(async () =>
        {
            await using var host = await GatewayHost.StartAsync(s => s["LlmServer:Gateway:Upstreams:0:Kind"] = "mystery");
        });

        Assert.That(ex!.Message, Does.Contain("LlmServer:Gateway:Upstreams:0:Kind"));
    }
}
