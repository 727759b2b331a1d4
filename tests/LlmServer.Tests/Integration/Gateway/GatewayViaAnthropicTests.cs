using System.ClientModel;
using System.Text;
using OpenAI;
using OpenAI.Chat;

namespace LlmServer.Tests.Integration.Gateway;

/// <summary>/v1/chat/completions for a model an anthropic upstream serves, driven by the OpenAI SDK, masking on.</summary>
[TestFixture]
[NonParallelizable]
public sealed class GatewayViaAnthropicTests
{
    private GatewayHost _host = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _host = await GatewayHost.StartWithAnthropicAsync("claude-haiku-4-5");

    [OneTimeTearDown]
    public async Task StopAsync() => await _host.DisposeAsync();

    [SetUp]
    public void Reset()
    {
        _host.Fake.Reset();
        _host.Usage.Clear();
    }

    private ChatClient Client => new("claude-haiku-4-5", new ApiKeyCredential(GatewayHost.MasterKey), new OpenAIClientOptions { Endpoint = _host.V1 });

    [Test]
    public async Task Plain_TranslatedMaskedAndRestored_WithOneUsageRow()
    {
        ChatCompletion completion = await Client.CompleteChatAsync([new UserChatMessage(GatewayMaskingTests.AwsScenario)]);

        Assert.That(_host.Fake.LastRequest.Path, Is.EqualTo("/v1/messages"));
        GatewayMaskingTests.AssertNoOriginals(_host.Fake.LastRequest.Body);
        Assert.That(completion.Content[0].Text, Is.EqualTo("Echo: " + GatewayMaskingTests.AwsScenario));
        Assert.That(completion.FinishReason, Is.EqualTo(ChatFinishReason.Stop));
        var row = await _host.Usage.WaitForAsync(r => r.Route == "chat_completions");
        Assert.That(row.Upstream, Is.EqualTo("claude"));
        Assert.That(row.Status, Is.EqualTo(200));
        Assert.That(row.InputTokens, Is.GreaterThan(0));
        Assert.That(row.MaskedCounts!["AWS_VPC"], Is.EqualTo(1));
        Assert.That(_host.Usage.Records, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task Streamed_SplitPlaceholdersRestored_AndUsageRecorded()
    {
        _host.Fake.ChunkSize = 3;
        var text = new StringBuilder();
        ChatFinishReason? finish = null;
        var options = new ChatCompletionOptions();
        await foreach (var update in Client.CompleteChatStreamingAsync([new UserChatMessage(GatewayMaskingTests.AwsScenario)], options))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            finish ??= update.FinishReason;
        }

        GatewayMaskingTests.AssertNoOriginals(_host.Fake.LastRequest.Body);
        Assert.That(text.ToString(), Is.EqualTo("Echo: " + GatewayMaskingTests.AwsScenario));
        Assert.That(finish, Is.EqualTo(ChatFinishReason.Stop));
        var row = await _host.Usage.WaitForAsync(r => r.Stream);
        Assert.That(row.OutputTokens, Is.GreaterThan(0));
        Assert.That(row.Upstream, Is.EqualTo("claude"));
    }

    [Test]
    public async Task Streamed_WithoutIncludeUsage_ClientGetsNoUsageChunk_ButTheLedgerHasTokens()
    {
        using var http = _host.Client();
        var response = await http.PostAsync("v1/chat/completions", new StringContent(
            """{"model":"claude-haiku-4-5","stream":true,"messages":[{"role":"user","content":"hi there"}]}""", Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();

        Assert.That(body, Does.Contain("\" there\"").And.EndWith("data: [DONE]\n\n"));
        Assert.That(body, Does.Not.Contain("\"usage\""));
        var row = await _host.Usage.WaitForAsync(r => r.Stream);
        Assert.That(row.OutputTokens, Is.GreaterThan(0));
    }
}
