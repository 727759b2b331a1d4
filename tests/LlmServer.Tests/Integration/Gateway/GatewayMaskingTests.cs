using LlmServer.Services.Ownership;
using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LlmServer.Services.Masking;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using NSubstitute;
using NSubstitute.ExceptionExtensions;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Responses;

namespace LlmServer.Tests.Integration.Gateway;

/// <summary>
/// Seed 004's AWS scenario through the OpenAI-compatible routes: the upstream never sees an original, the
/// client sees every one restored (plain, streamed with placeholders split across chunks, tool arguments).
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class GatewayMaskingTests
{
    internal const string AwsScenario = """
        EC2 인스턴스 i-1234567890abcdef0와 i-0fedcba9876543210이 vpc-0a1b2c3d4e5f67890 안에서 실행 중이고,
        IAM 액세스 키는 AKIAIOSFODNN7EXAMPLE, 시크릿은 aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY 입니다.
        로그는 s3://prod-app-logs-2024/에, 백업은 https://kr-backup-bucket.s3.ap-northeast-2.amazonaws.com/db.dump에 있습니다.
        보조 키 AKIAI44QH8DHBEXAMPLE를 쓰는 i-1234567890abcdef0도 확인해 주세요.
        """;

    internal static readonly string[] Originals =
    [
        "i-1234567890abcdef0", "i-0fedcba9876543210", "vpc-0a1b2c3d4e5f67890", "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "prod-app-logs-2024", "kr-backup-bucket", "AKIAI44QH8DHBEXAMPLE",
    ];

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
    private static ApiKeyCredential Key => new(GatewayHost.MasterKey);

    internal static void AssertNoOriginals(string upstreamBody)
    {
        foreach (var original in Originals)
        {
            Assert.That(upstreamBody, Does.Not.Contain(original), "an original reached the upstream");
        }
        Assert.That(upstreamBody, Does.Contain("AWS_EC2_"), "placeholders went instead");
    }

    [Test]
    public async Task ChatCompletion_UpstreamSeesNoOriginal_ClientSeesEveryOriginalRestored()
    {
        var client = new ChatClient("gpt-4o-mini", Key, Options);

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage(AwsScenario)]);

        AssertNoOriginals(_host.Fake.LastRequest.Body);
        Assert.That(completion.Content[0].Text, Is.EqualTo("Echo: " + AwsScenario));
        var row = await _host.Usage.WaitForAsync(r => r.Route == "chat_completions");
        Assert.That(row.MaskedCounts!["AWS_EC2"], Is.EqualTo(3), "three EC2 mentions (one repeated)");
        Assert.That(row.MaskedCounts!["AWS_ACCESS_KEY"], Is.EqualTo(2));
        Assert.That(row.KeyId, Is.EqualTo("master"));
    }

    [Test]
    public async Task StreamingChat_PlaceholdersSplitAcrossChunks_AreRestoredWhole()
    {
        _host.Fake.ChunkSize = 3;
        var client = new ChatClient("gpt-4o-mini", Key, Options);
        var text = new StringBuilder();
        var updates = 0;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage(AwsScenario)]))
        {
            updates++;
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
        }

        AssertNoOriginals(_host.Fake.LastRequest.Body);
        Assert.That(text.ToString(), Is.EqualTo("Echo: " + AwsScenario));
        Assert.That(updates, Is.GreaterThan(50), "the answer still streams in small pieces");
        var row = await _host.Usage.WaitForAsync(r => r.Stream);
        Assert.That(row.MaskedCounts, Is.Not.Null.And.ContainKey("AWS_S3_BUCKET"));
        Assert.That(row.OutputTokens, Is.GreaterThan(0));
    }

    [Test]
    public async Task ToolCallArguments_PlainAndStreamed_AreRestoredAsValidJson()
    {
        var tool = ChatTool.CreateFunctionTool("inspect", "Inspects AWS resources",
            BinaryData.FromString("""{"type":"object","properties":{"input":{"type":"string"}}}"""));
        var options = new ChatCompletionOptions { Tools = { tool } };
        var client = new ChatClient("gpt-4o-mini", Key, Options);

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage(AwsScenario)], options);
        AssertNoOriginals(_host.Fake.LastRequest.Body);
        var plain = JsonNode.Parse(completion.ToolCalls[0].FunctionArguments.ToString())!;
        Assert.That((string?)plain["input"], Is.EqualTo(AwsScenario));

        _host.Fake.ChunkSize = 3;
        var streamed = new StringBuilder();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage(AwsScenario)], options))
        {
            foreach (var call in update.ToolCallUpdates) streamed.Append(call.FunctionArgumentsUpdate?.ToString());
        }
        AssertNoOriginals(_host.Fake.LastRequest.Body);
        Assert.That((string?)JsonNode.Parse(streamed.ToString())!["input"], Is.EqualTo(AwsScenario));
    }

#pragma warning disable OPENAI001 // Responses API is marked experimental in the SDK
    [Test]
    public async Task Responses_PlainAndStreamed_RestoreOutputText()
    {
        var client = new ResponsesClient(Key, new ResponsesClientOptions { Endpoint = _host.V1 });

        ResponseResult created = await client.CreateResponseAsync("gpt-4o-mini", AwsScenario, null);
        AssertNoOriginals(_host.Fake.LastRequest.Body);
        Assert.That(created.GetOutputText(), Is.EqualTo("Echo: " + AwsScenario));

        _host.Fake.ChunkSize = 3;
        var text = new StringBuilder();
        string? doneText = null;
        string? completedText = null;
        await foreach (var update in await client.CreateResponseStreamingAsync("gpt-4o-mini", AwsScenario, null))
        {
            if (update is StreamingResponseOutputTextDeltaUpdate delta) text.Append(delta.Delta);
            if (update is StreamingResponseOutputTextDoneUpdate done) doneText = done.Text;
            if (update is StreamingResponseCompletedUpdate completed) completedText = completed.Response.GetOutputText();
        }
        AssertNoOriginals(_host.Fake.LastRequest.Body);
        Assert.That(text.ToString(), Is.EqualTo("Echo: " + AwsScenario));
        Assert.That(doneText, Is.EqualTo("Echo: " + AwsScenario));
        Assert.That(completedText, Is.EqualTo("Echo: " + AwsScenario));
    }

    [Test]
    public async Task Responses_RetrievedLater_AreRestoredForTheSameKey()
    {
        var client = new ResponsesClient(Key, new ResponsesClientOptions { Endpoint = _host.V1 });
        ResponseResult created = await client.CreateResponseAsync("gpt-4o-mini", AwsScenario, null);

        ResponseResult retrieved = await client.GetResponseAsync(created.Id);

        Assert.That(_host.Fake.LastRequest.Path, Does.EndWith("/v1/responses/" + created.Id), "the retrieve reached the upstream");
        Assert.That(retrieved.Id, Is.EqualTo(created.Id));
        Assert.That(retrieved.GetOutputText(), Is.EqualTo("Echo: " + AwsScenario), "the stored placeholders came back restored");
    }
#pragma warning restore OPENAI001

    [Test]
    public async Task LegacyCompletions_And_Embeddings_AreMaskedToo()
    {
        using var http = _host.Client();

        var completion = await http.PostAsJsonAsync("v1/completions", new { model = "gpt-4o-mini", prompt = AwsScenario });
        var json = JsonNode.Parse(await completion.Content.ReadAsStringAsync())!;
        AssertNoOriginals(_host.Fake.LastRequest.Body);
        Assert.That((string?)json["choices"]![0]!["text"], Is.EqualTo("Echo: " + AwsScenario));

        var embeddings = await http.PostAsJsonAsync("v1/embeddings", new { model = "text-embedding-3-small", input = new[] { AwsScenario, "clean" } });
        Assert.That((int)embeddings.StatusCode, Is.EqualTo(200));
        AssertNoOriginals(_host.Fake.LastRequest.Body);
    }

    [Test]
    public async Task MaskedHeader_GivesCountsPerType_NeverValues()
    {
        using var http = _host.Client();

        var response = await http.PostAsJsonAsync("v1/chat/completions", new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = AwsScenario } } });

        var header = string.Join(",", response.Headers.GetValues(MaskingSummary.HeaderName));
        Assert.That(header, Does.Contain("AWS_EC2=3").And.Contain("AWS_VPC=1").And.Contain("AWS_ACCESS_KEY=2"));
        foreach (var original in Originals) Assert.That(header, Does.Not.Contain(original));
    }

    [Test]
    public async Task CleanRequest_PassesThroughByteForByte_EvenWithMaskingOn()
    {
        using var http = _host.Client();
        const string body = """{"model":"gpt-4o-mini", "top_k": 5,"messages":[{"role":"user","content":"no secrets here"}],"guided_json":{"a" : 1}}""";

        var response = await http.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        Assert.That(_host.Fake.LastRequest.Body, Is.EqualTo(body));
        Assert.That(response.Headers.Contains(MaskingSummary.HeaderName), Is.False);
    }

    [Test]
    public async Task SessionHistory_IsStoredRestored_AndMaskedAgainOnTheNextTurn()
    {
        using var http = _host.Client();
        var sessionId = "mask-session-" + Guid.NewGuid().ToString("N");
        async Task<JsonNode> SendAsync(string text)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
            {
                Content = JsonContent.Create(new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = text } } }),
            };
            request.Headers.Add("x-session-id", sessionId);
            var response = await http.SendAsync(request);
            return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        }

        await SendAsync(AwsScenario);
        var stored = await _host.History.GetAsync(Owners.Operator, sessionId, 10, CancellationToken.None);
        Assert.That(stored.Select(t => t.Content), Has.Some.Contains("i-1234567890abcdef0"), "the store keeps what the user saw");

        var second = await SendAsync("어느 인스턴스였죠?");

        AssertNoOriginals(_host.Fake.LastRequest.Body);
        Assert.That(_host.Fake.LastRequest.Body, Does.Contain("<<AWS_EC2_1>>").Or.Contain("\\u003CAWS_EC2_1"));
        Assert.That((string?)second["choices"]![0]!["message"]!["content"], Is.EqualTo("Echo: 어느 인스턴스였죠?"));
    }

    [Test]
    public async Task PolicyOff_ForwardsTheRequestUnchanged()
    {
        await using var host = await GatewayHost.StartAsync(s => s["LlmServer:Masking:Policy"] = "off");
        using var http = host.Client();
        var body = new JsonObject { ["model"] = "gpt-4o-mini", ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = AwsScenario }) }.ToJsonString();

        var response = await http.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.That((int)response.StatusCode, Is.EqualTo(200));
        Assert.That(host.Fake.LastRequest.Body, Is.EqualTo(body));
    }

    [Test]
    public async Task BlockPolicy_Refuses400_ListingTypesNotValues_AndSendsNothing()
    {
        await using var host = await GatewayHost.StartAsync(s => s["LlmServer:Masking:Policy"] = "block");
        using var http = host.Client();

        var response = await http.PostAsJsonAsync("v1/chat/completions", new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = AwsScenario } } });
        var text = await response.Content.ReadAsStringAsync();
        var json = JsonNode.Parse(text)!;

        Assert.That((int)response.StatusCode, Is.EqualTo(400));
        Assert.That((string?)json["error"]!["code"], Is.EqualTo("sensitive_data_blocked"));
        Assert.That((string?)json["error"]!["message"], Does.Contain("AWS_EC2").And.Contain("AWS_ACCESS_KEY"));
        foreach (var original in Originals) Assert.That(text, Does.Not.Contain(original));
        Assert.That(host.Fake.Requests, Is.Empty);
        var row = await host.Usage.WaitForAsync(r => r.Status == 400);
        Assert.That(row.ErrorCode, Is.EqualTo("sensitive_data_blocked"));
    }

    [Test]
    public async Task VaultFailure_Refuses503_AndTheUpstreamReceivesNothing()
    {
        var vault = Substitute.For<IMaskingVault>();
        vault.GetOrAddAsync(default!, default!, default).ReturnsForAnyArgs<ValueTask<IReadOnlyList<string>>>(_ => throw new InvalidOperationException("redis down at 10.0.0.5"));
        await using var host = await GatewayHost.StartAsync(services: s =>
        {
            s.RemoveAll<IMaskingVault>();
            s.AddSingleton(vault);
        });
        using var http = host.Client();

        var response = await http.PostAsJsonAsync("v1/chat/completions", new { model = "gpt-4o-mini", stream = true, messages = new[] { new { role = "user", content = AwsScenario } } });
        var text = await response.Content.ReadAsStringAsync();
        var json = JsonNode.Parse(text)!;

        Assert.That((int)response.StatusCode, Is.EqualTo(503));
        Assert.That((string?)json["error"]!["code"], Is.EqualTo("masking_unavailable"));
        Assert.That(text, Does.Not.Contain("10.0.0.5").And.Not.Contain("AKIA"));
        Assert.That(host.Fake.Requests, Is.Empty);
        var row = await host.Usage.WaitForAsync(r => r.Status == 503);
        Assert.That(row.ErrorCode, Is.EqualTo("masking_unavailable"));
        Assert.That(host.Usage.Records, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task AdmissionStoreFailure_Refuses503_AndTheUpstreamReceivesNothing()
    {
        var admission = Substitute.For<LlmServer.Services.Limits.IRequestAdmission>();
        admission.AdmitAsync(default, default!, default, default, default).ReturnsForAnyArgs<Task<LlmServer.Services.Limits.Admission>>(
            _ => throw new InvalidOperationException("postgres down"));
        await using var host = await GatewayHost.StartAsync(services: s =>
        {
            s.RemoveAll<LlmServer.Services.Limits.IRequestAdmission>();
            s.AddSingleton(admission);
        });
        using var http = host.Client();

        var response = await http.PostAsJsonAsync("v1/embeddings", new { model = "text-embedding-3-small", input = "x" });
        var text = await response.Content.ReadAsStringAsync();

        Assert.That((int)response.StatusCode, Is.EqualTo(503));
        Assert.That((string?)JsonNode.Parse(text)!["error"]!["code"], Is.EqualTo("admission_unavailable"));
        Assert.That(text, Does.Not.Contain("postgres"));
        Assert.That(host.Fake.Requests, Is.Empty);
    }
}
