using System.ClientModel;
using LlmServer.FakeUpstream;
using OpenAI;
using OpenAI.Chat;

namespace LlmServer.Tests.Infrastructure;

/// <summary>The fake upstream itself must speak the wire format the official SDKs parse.</summary>
[TestFixture]
public sealed class FakeUpstreamSdkTests
{
    private FakeUpstreamServer _fake = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _fake = await FakeUpstreamServer.StartAsync();

    [OneTimeTearDown]
    public async Task StopAsync() => await _fake.DisposeAsync();

    [SetUp]
    public void ResetFake() => _fake.Reset();

    [Test]
    public async Task OpenAiSdk_ChatCompletion_ParsesFakeReplyAndUsage()
    {
        var client = new ChatClient("gpt-4o-mini", new ApiKeyCredential("sk-test"), new OpenAIClientOptions { Endpoint = new Uri(_fake.V1Url) });

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("안녕하세요")]);

        Assert.That(completion.Content[0].Text, Is.EqualTo("Echo: 안녕하세요"));
        Assert.That(completion.Usage.TotalTokenCount, Is.GreaterThan(0));
        Assert.That(_fake.LastRequest.ApiKey, Is.EqualTo("sk-test"));
    }

    [Test]
    public async Task OpenAiSdk_StreamingChat_ConcatenatesToReply()
    {
        var client = new ChatClient("gpt-4o-mini", new ApiKeyCredential("sk-test"), new OpenAIClientOptions { Endpoint = new Uri(_fake.V1Url) });
        var text = "";
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("one two three")]))
        {
            foreach (var part in update.ContentUpdate) text += part.Text;
        }
        Assert.That(text, Is.EqualTo("Echo: one two three"));
    }

    [Test]
    public async Task Status500Fault_IsServedOnceThenOk()
    {
        _fake.EnqueueFault(Fault.Http(500));
        using var http = new HttpClient();
        var first = await http.PostAsync(_fake.V1Url + "/chat/completions", new StringContent("""{"model":"m","messages":[{"role":"user","content":"x"}]}"""));
        var second = await http.PostAsync(_fake.V1Url + "/chat/completions", new StringContent("""{"model":"m","messages":[{"role":"user","content":"x"}]}"""));
        Assert.That((int)first.StatusCode, Is.EqualTo(500));
        Assert.That((int)second.StatusCode, Is.EqualTo(200));
    }
}
