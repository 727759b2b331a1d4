using System.ClientModel;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;
using OpenAI.Models;
using OpenAI.Responses;

namespace LlmServer.Tests.Integration.Gateway;

/// <summary>The official OpenAI .NET SDK, pointed at LlmServer, works unchanged.</summary>
[TestFixture]
[NonParallelizable]
public sealed class GatewaySdkConformanceTests
{
    private GatewayHost _host = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _host = await GatewayHost.StartAsync();

    [OneTimeTearDown]
    public async Task StopAsync() => await _host.DisposeAsync();

    [SetUp]
    public void Reset()
    {
        _host.Fake.Reset();
        _host.Usage.Clear();
    }

    private OpenAIClientOptions Options => new() { Endpoint = _host.V1 };
    private ApiKeyCredential Key => new(GatewayHost.MasterKey);

    [Test]
    public async Task ChatCompletion_ReturnsUpstreamAnswerWithUsage_AndUpstreamGetsItsOwnKey()
    {
        var client = new ChatClient("gpt-4o-mini", Key, Options);

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("안녕하세요")]);

        Assert.That(completion.Content[0].Text, Is.EqualTo("Echo: 안녕하세요"));
        Assert.That(completion.Usage.InputTokenCount, Is.GreaterThan(0));
        Assert.That(_host.Fake.LastRequest.ApiKey, Is.EqualTo(GatewayHost.UpstreamKey), "the client's key must not reach the upstream");
    }

    [Test]
    public async Task StreamingChat_ConcatenatesToAnswer_AndKeepsTheUsageTheSdkAskedFor()
    {
        var client = new ChatClient("gpt-4o-mini", Key, Options);
        var text = "";
        var updates = 0;
        ChatTokenUsage? usage = null;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("one two three")]))
        {
            updates++;
            foreach (var part in update.ContentUpdate) text += part.Text;
            usage ??= update.Usage;
        }

        Assert.That(text, Is.EqualTo("Echo: one two three"));
        Assert.That(updates, Is.GreaterThan(2));
        Assert.That(usage?.OutputTokenCount, Is.GreaterThan(0), "the SDK asks for include_usage; its usage chunk must reach it");
        var row = await _host.Usage.WaitForAsync(r => r.Stream);
        Assert.That(row.InputTokens, Is.GreaterThan(0));
        Assert.That(row.OutputTokens, Is.GreaterThan(0));
    }

    [Test]
    public async Task LegacyCompletions_ViaRawHttp_ReturnTextCompletion()
    {
        using var http = _host.Client();
        var response = await http.PostAsJsonAsync("v1/completions", new { model = "gpt-4o-mini", prompt = "Say hi", max_tokens = 5 });
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        Assert.That((string?)json["object"], Is.EqualTo("text_completion"));
        Assert.That((string?)json["choices"]![0]!["text"], Is.EqualTo("Echo: Say hi"));
        Assert.That((int)json["usage"]!["prompt_tokens"]!, Is.GreaterThan(0));
    }

#pragma warning disable OPENAI001 // Responses API is marked experimental in the SDK
    [Test]
    public async Task Responses_CreateAndRetrieve_RoundTripThroughGateway()
    {
        var client = new ResponsesClient(Key, new ResponsesClientOptions { Endpoint = _host.V1 });

        ResponseResult created = await client.CreateResponseAsync("gpt-4o-mini", "What is 2+2?", null);
        ResponseResult fetched = await client.GetResponseAsync(created.Id);

        Assert.That(created.GetOutputText(), Is.EqualTo("Echo: What is 2+2?"));
        Assert.That(created.Usage.InputTokenCount, Is.GreaterThan(0));
        Assert.That(fetched.Id, Is.EqualTo(created.Id));
        Assert.That(_host.Fake.LastRequest.Path, Is.EqualTo("/v1/responses/" + created.Id));
    }

    [Test]
    public async Task Responses_Streaming_DeliversDeltasAndRecordsUsage()
    {
        var client = new ResponsesClient(Key, new ResponsesClientOptions { Endpoint = _host.V1 });
        var text = "";
        var completed = false;
        await foreach (var update in await client.CreateResponseStreamingAsync("gpt-4o-mini", "stream me", null))
        {
            if (update is StreamingResponseOutputTextDeltaUpdate delta) text += delta.Delta;
            if (update is StreamingResponseCompletedUpdate) completed = true;
        }

        Assert.That(text, Is.EqualTo("Echo: stream me"));
        Assert.That(completed, Is.True);
        var row = await _host.Usage.WaitForAsync(r => r.Route == "responses" && r.Stream);
        Assert.That(row.OutputTokens, Is.GreaterThan(0));
    }
#pragma warning restore OPENAI001

    [Test]
    public async Task Embeddings_ReturnVectors()
    {
        var client = new EmbeddingClient("text-embedding-3-small", Key, Options);

        OpenAIEmbeddingCollection result = await client.GenerateEmbeddingsAsync(["first", "second"]);

        Assert.That(result, Has.Count.EqualTo(2));
        Assert.That(result[0].ToFloats().Length, Is.GreaterThan(0));
        Assert.That(result.Usage.InputTokenCount, Is.GreaterThan(0));
    }

    [Test]
    public async Task Models_ListsRoutableModels_AndRetrievesAnAlias()
    {
        var client = new OpenAIModelClient(Key, Options);

        OpenAIModelCollection models = await client.GetModelsAsync();
        OpenAIModel alias = await client.GetModelAsync("house");

        Assert.That(models.Select(m => m.Id), Is.SupersetOf(new[] { "gpt-4o-mini", "gpt-4o", "house-model" }));
        Assert.That(alias.Id, Is.EqualTo("house"));
    }

    [Test]
    public async Task Models_IncludeVllmRootWhenKnown()
    {
        using var http = _host.Client();
        var json = JsonNode.Parse(await http.GetStringAsync("v1/models"))!;
        var house = json["data"]!.AsArray().First(m => (string?)m!["id"] == "house-model")!;

        Assert.That((string?)json["object"], Is.EqualTo("list"));
        Assert.That((string?)house["object"], Is.EqualTo("model"));
        Assert.That((string?)house["root"], Is.EqualTo("fake-vllm-model"));
        Assert.That(house["created"], Is.Not.Null);
        Assert.That(house["owned_by"], Is.Not.Null);
    }
}
