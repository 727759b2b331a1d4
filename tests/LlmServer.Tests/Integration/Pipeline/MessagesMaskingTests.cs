using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Anthropic;
using Anthropic.Models.Messages;
using LlmServer.FakeUpstream;
using LlmServer.Services.Accounting;
using LlmServer.Services.Masking;
using LlmServer.Tests.Infrastructure;
using LlmServer.Tests.Unit.Masking;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using static LlmServer.Tests.Integration.Pipeline.PipelineTestKit;

namespace LlmServer.Tests.Integration.Pipeline;

/// <summary>
/// Seed 004's promise on /v1/messages, driven by the official Anthropic SDK against both upstream kinds
/// (anthropic passthrough, vLLM translation): the upstream never sees an original, the client sees every one back,
/// plain and streamed with placeholders split across 3-character chunks; plus key policies, admission and the ledger.
/// </summary>
[TestFixture]
public sealed class MessagesMaskingTests
{
    private const string Korean = "제 연락처는 010-1234-5678입니다. 주민등록번호는 900101-1234567이고 메일은 kim.minsu@example.co.kr 입니다.";
    private static readonly string[] s_koreanOriginals = ["010-1234-5678", "900101-1234567", "kim.minsu@example.co.kr"];

    private LlmServerHost _host = null!;
    private HttpClient _http = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _host = await Builder().StartAsync();
        _http = _host.Client(null);
        await _host.WaitForModelAsync(VllmModel);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _http.Dispose();
        await _host.DisposeAsync();
    }

    [SetUp]
    public void Reset() => _host.Reset();

    private AnthropicClient Sdk(string key = Master) => new()
    {
        ApiKey = key,
        BaseUrl = _host.BaseAddress.ToString().TrimEnd('/'),
        HttpClient = _host.Client(null),
        MaxRetries = 0,
    };

    private static MessageCreateParams Params(string model, string text, bool withTool = false) => new()
    {
        Model = model,
        MaxTokens = 256,
        Messages = [new UserMessageParam(text)],
        Tools = withTool
            ? [new Tool
            {
                Name = "lookup",
                Description = "Looks a thing up",
                InputSchema = new InputSchema
                {
                    Properties = new Dictionary<string, JsonElement> { ["input"] = JsonSerializer.SerializeToElement(new { type = "string" }) },
                },
            }]
            : null,
    };

    private void AssertUpstreamSawNoOriginal(IEnumerable<string> originals)
    {
        var bodies = UpstreamBodies(_host.Fake);
        Assert.That(bodies, Is.Not.Empty, "the request reached the upstream");
        foreach (var original in originals)
        {
            Assert.That(bodies, Has.None.Contains(original), $"upstream saw an original value ({original[..4]}…)");
        }
    }

    private static async Task<(string Text, string Json)> StreamAsync(AnthropicClient sdk, MessageCreateParams p)
    {
        var text = new StringBuilder();
        var json = new StringBuilder();
        await foreach (var evt in sdk.Messages.CreateStreaming(p))
        {
            if (!evt.TryPickContentBlockDelta(out var d)) continue;
            if (d!.Delta.TryPickText(out var t)) text.Append(t!.Text);
            if (d.Delta.TryPickInputJson(out var ij)) json.Append(ij!.PartialJson);
        }
        return (text.ToString(), json.ToString());
    }

    [TestCase(ClaudeModel)]
    [TestCase(VllmModel)]
    public async Task AwsScenario_Plain_UpstreamSeesPlaceholdersAndClientSeesEveryOriginal(string model)
    {
        var message = await Sdk().Messages.Create(Params(model, MaskingSessionTests.AwsScenario));

        Assert.That(message.Content[0].TryPickText(out var text), Is.True);
        Assert.That(text!.Text, Is.EqualTo("Echo: " + MaskingSessionTests.AwsScenario));
        AssertUpstreamSawNoOriginal(MaskingSessionTests.AwsOriginals);
        Assert.That(UpstreamBodies(_host.Fake)[1], Does.Contain("<<AWS_EC2_1>>").And.Contain("<<AWS_ACCESS_KEY_1>>"));
    }

    [TestCase(ClaudeModel)]
    [TestCase(VllmModel)]
    public async Task AwsScenario_StreamedInThreeCharacterChunks_PlaceholdersSplitAcrossChunksAreRestoredWhole(string model)
    {
        _host.Fake.ChunkSize = 3;

        var (text, _) = await StreamAsync(Sdk(), Params(model, MaskingSessionTests.AwsScenario));

        Assert.That(text, Is.EqualTo("Echo: " + MaskingSessionTests.AwsScenario));
        AssertUpstreamSawNoOriginal(MaskingSessionTests.AwsOriginals);
    }

    [TestCase(ClaudeModel, false)]
    [TestCase(ClaudeModel, true)]
    [TestCase(VllmModel, false)]
    [TestCase(VllmModel, true)]
    public async Task ToolUseInput_IsRestored(string model, bool stream)
    {
        _host.Fake.ChunkSize = stream ? 3 : null;
        var p = Params(model, MaskingSessionTests.AwsScenario, withTool: true);
        string? input;
        if (stream)
        {
            var (_, json) = await StreamAsync(Sdk(), p);
            input = (string?)JsonNode.Parse(json)!["input"];
        }
        else
        {
            var message = await Sdk().Messages.Create(p);
            message.Content.Single(c => c.TryPickToolUse(out _)).TryPickToolUse(out var toolUse);
            input = toolUse!.Input["input"].GetString();
        }
        Assert.That(input, Is.EqualTo(MaskingSessionTests.AwsScenario));
        AssertUpstreamSawNoOriginal(MaskingSessionTests.AwsOriginals);
    }

    [TestCase(ClaudeModel, false)]
    [TestCase(VllmModel, true)]
    public async Task KoreanPhoneResidentNumberAndEmail_AreMaskedNextToHangulAndRestored(string model, bool stream)
    {
        _host.Fake.ChunkSize = stream ? 3 : null;
        string text;
        if (stream)
        {
            text = (await StreamAsync(Sdk(), Params(model, Korean))).Text;
        }
        else
        {
            (await Sdk().Messages.Create(Params(model, Korean))).Content[0].TryPickText(out var block);
            text = block!.Text;
        }
        Assert.That(text, Is.EqualTo("Echo: " + Korean));
        AssertUpstreamSawNoOriginal(s_koreanOriginals);
        Assert.That(UpstreamBodies(_host.Fake)[1], Does.Contain("<<PHONE_1>>입니다"));
    }

    [Test]
    public async Task MaskedHeader_GivesCountsPerTypeNeverValues()
    {
        using var response = await PostAsync(Master, ClaudeModel, MaskingSessionTests.AwsScenario);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var header = response.Headers.GetValues("x-llmserver-masked").Single();
        Assert.That(header, Is.EqualTo("AWS_ACCESS_KEY=2, AWS_EC2=3, AWS_S3_BUCKET=2, AWS_SECRET_KEY=1, AWS_VPC=1"));
    }

    private async Task<HttpResponseMessage> PostAsync(string key, string model, string text, string? sessionId = null)
    {
        var body = new JsonObject
        {
            ["model"] = model, ["max_tokens"] = 100,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = text }),
        };
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
        request.Headers.Add("x-api-key", key);
        request.Headers.Add("anthropic-version", "2023-06-01");
        if (sessionId is not null) request.Headers.Add("x-session-id", sessionId);
        return await _http.SendAsync(request);
    }

    [Test]
    public async Task KeyWithMaskingOff_PassesTheRequestUnchanged()
    {
        var (key, _) = await CreateKeyAsync(_http, new { name = "off", masking_policy = "off" });

        var message = await Sdk(key).Messages.Create(Params(ClaudeModel, MaskingSessionTests.AwsScenario));

        message.Content[0].TryPickText(out var text);
        Assert.That(text!.Text, Is.EqualTo("Echo: " + MaskingSessionTests.AwsScenario));
        Assert.That((string?)_host.Fake.Requests.Single(r => r.Method == "POST").Json!["messages"]![0]!["content"], Is.EqualTo(MaskingSessionTests.AwsScenario));
    }

    [Test]
    public async Task KeyWithBlockPolicy_Returns400ListingTypesNeverValues_AndSendsNothing()
    {
        var (key, id) = await CreateKeyAsync(_http, new { name = "block", masking_policy = "block" });

        using var response = await PostAsync(key, VllmModel, Korean);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var body = await response.Content.ReadAsStringAsync();
        var error = JsonNode.Parse(body)!;
        Assert.That((string?)error["type"], Is.EqualTo("error"));
        Assert.That((string?)error["error"]!["type"], Is.EqualTo("invalid_request_error"));
        Assert.That((string?)error["error"]!["message"], Does.Contain("PHONE").And.Contain("KR_RRN").And.Contain("EMAIL"));
        foreach (var original in s_koreanOriginals) Assert.That(body, Does.Not.Contain(original));
        Assert.That(_host.Fake.Requests.Where(r => r.Method == "POST"), Is.Empty);
        var row = (await RowsAsync(_host, 1)).Single();
        Assert.That((row.KeyId, row.Status, row.ErrorCode), Is.EqualTo((id, 400, "sensitive_data_blocked")));
    }

    [Test]
    public async Task KeyNotAllowedTheModel_Gets403PermissionError()
    {
        var (key, id) = await CreateKeyAsync(_http, new { name = "narrow", allowed_models = new[] { "gpt-4o" } });

        using var response = await PostAsync(key, ClaudeModel, "hi");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.That((string?)error["error"]!["type"], Is.EqualTo("permission_error"));
        Assert.That(_host.Fake.Requests.Where(r => r.Method == "POST"), Is.Empty);
        var row = (await RowsAsync(_host, 1)).Single();
        Assert.That((row.KeyId, row.Status, row.ErrorCode, row.Model), Is.EqualTo((id, 403, "model_not_allowed", ClaudeModel)));
    }

    [Test]
    public async Task KeyOverItsRpm_Gets429RateLimitErrorWithRetryAfter()
    {
        var (key, _) = await CreateKeyAsync(_http, new { name = "slow", rpm = 1 });

        using var first = await PostAsync(key, ClaudeModel, "one");
        using var second = await PostAsync(key, ClaudeModel, "two");

        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(second.Headers.RetryAfter?.Delta?.TotalSeconds, Is.GreaterThan(0));
        var error = JsonNode.Parse(await second.Content.ReadAsStringAsync())!;
        Assert.That((string?)error["type"], Is.EqualTo("error"));
        Assert.That((string?)error["error"]!["type"], Is.EqualTo("rate_limit_error"));
        Assert.That(_host.Fake.Requests.Count(r => r.Method == "POST"), Is.EqualTo(1));
    }

    [Test]
    public async Task KeyOverItsTotalBudget_Gets429RateLimitError_WithoutRetryAfter_SinceATotalNeverResets()
    {
        var (key, _) = await CreateKeyAsync(_http, new { name = "poor", budget = new { total_usd = 0.0001 } });

        using var response = await PostAsync(key, ClaudeModel, "an expensive question");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(response.Headers.RetryAfter, Is.Null);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.That((string?)error["error"]!["type"], Is.EqualTo("rate_limit_error"));
        Assert.That((string?)error["error"]!["message"], Does.Contain("budget").IgnoreCase);
        Assert.That(_host.Fake.Requests.Where(r => r.Method == "POST"), Is.Empty);
    }

    [TestCase(ClaudeModel, false)]
    [TestCase(VllmModel, true)]
    public async Task EachRequest_LeavesExactlyOneLedgerRowWithKeyIdAndMaskedCounts(string model, bool stream)
    {
        var (key, id) = await CreateKeyAsync(_http, new { name = "ledger" });
        if (stream) await StreamAsync(Sdk(key), Params(model, MaskingSessionTests.AwsScenario));
        else await Sdk(key).Messages.Create(Params(model, MaskingSessionTests.AwsScenario));

        var rows = await RowsAsync(_host, 1);

        var row = rows.Single(r => r.Route == "messages");
        Assert.That(rows, Has.Count.EqualTo(1));
        Assert.That((row.KeyId, row.Status, row.Model, row.Stream), Is.EqualTo((id, 200, model, stream)));
        Assert.That(row.Upstream, Is.EqualTo(model == ClaudeModel ? "anthropic" : "vllm"));
        Assert.That(row.MaskedCounts, Is.EquivalentTo(new Dictionary<string, int>
        {
            ["AWS_ACCESS_KEY"] = 2, ["AWS_EC2"] = 3, ["AWS_S3_BUCKET"] = 2, ["AWS_SECRET_KEY"] = 1, ["AWS_VPC"] = 1,
        }));
        Assert.That(row.InputTokens, Is.GreaterThan(0));
        Assert.That(row.ErrorCode, Is.Null);
    }

    [Test]
    public async Task UnknownModel_Returns404NotFoundErrorNamingIt_AndOneRow()
    {
        using var response = await PostAsync(Master, "no-such-model", "hi");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.That((string?)error["error"]!["type"], Is.EqualTo("not_found_error"));
        Assert.That((string?)error["error"]!["message"], Does.Contain("no-such-model"));
        var row = (await RowsAsync(_host, 1)).Single();
        Assert.That((row.KeyId, row.Status, row.ErrorCode), Is.EqualTo(("master", 404, "model_not_found")));
    }
}
