using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace LlmServer.Tests.Integration.Gateway;

/// <summary>
/// A key's budget is reserved from the token counter's figure for the prompt, on /v1/chat/completions and
/// /v1/messages: an inline image costs what an image costs, not its base64 length, and dense Korean text costs
/// what the model's tokenizer says, not its byte length.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class AdmissionTokenCountTests
{
    // NOTE: $0.05 at gpt-4o's $2.50 per 1M input tokens covers 20,000 prompt tokens.
    private const double BudgetUsd = 0.05;

    // NOTE: Hangul sent as UTF-8 (as JavaScript clients send it), three bytes a syllable, not as \uXXXX escapes.
    private static readonly System.Text.Json.JsonSerializerOptions s_unescaped =
        new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private GatewayHost _host = null!;
    private HttpClient _client = null!;

    [OneTimeSetUp]
    public async Task StartAsync() =>
        _host = await GatewayHost.StartAsync(s => s["LlmServer:Operations:KeyCacheSeconds"] = "0", realLedger: true);

    [OneTimeTearDown]
    public async Task StopAsync() => await _host.DisposeAsync();

    /// <summary>Each test spends from a budget of its own.</summary>
    [SetUp]
    public async Task NewKeyAsync()
    {
        _host.Fake.Reset();
        using var admin = _host.Client();
        using var created = await admin.PostAsJsonAsync("/api/v1/admin/keys", new { name = "counted", budget = new { total_usd = BudgetUsd } });
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created), await created.Content.ReadAsStringAsync());
        var key = (string)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["data"]!["key"]!;
        _client = _host.Client(withKey: false);
        _client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        _client.DefaultRequestHeaders.Add("x-api-key", key);
        _client.DefaultRequestHeaders.Add("anthropic-version", "2023-06-01");
    }

    [TearDown]
    public void DisposeClient() => _client.Dispose();

    /// <summary>600 KB of base64: 150,000 "tokens" by byte length, far over the budget; one image to the counter.</summary>
    private static string PngDataUrl() => "data:image/png;base64," + Convert.ToBase64String(new byte[450_000]);

    /// <summary>
    /// 15,000 varied Hangul syllables: 11,250 tokens by UTF-8 bytes / 4 (within the budget), 33,549 with
    /// o200k_base, which splits uncommon syllables into several tokens (over the budget).
    /// </summary>
    private static string DenseKorean()
    {
        var random = new Random(7);
        var text = new StringBuilder();
        while (text.Length < 15_000)
        {
            text.Append((char)(0xAC00 + random.Next(11_172)));
        }
        return text.ToString();
    }

    private async Task<(int Status, JsonNode Body)> PostAsync(string path, JsonObject body)
    {
        using var response = await _client.PostAsync(path, new StringContent(body.ToJsonString(s_unescaped), Encoding.UTF8, "application/json"));
        return ((int)response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    [Test]
    public async Task ChatCompletions_InlineImage_IsReservedAsOneImage_SoTheRequestFitsTheBudget()
    {
        var body = new JsonObject
        {
            ["model"] = "gpt-4o",
            ["max_tokens"] = 16,
            ["messages"] = new JsonArray(new JsonObject
            {
                ["role"] = "user",
                ["content"] = new JsonArray(
                    new JsonObject { ["type"] = "text", ["text"] = "what is in this picture?" },
                    new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = PngDataUrl() } }),
            }),
        };

        var (status, answer) = await PostAsync("v1/chat/completions", body);

        Assert.That(status, Is.EqualTo(200), answer.ToJsonString());
    }

    [Test]
    public async Task ChatCompletions_DenseKoreanText_IsReservedAtItsTokenizerCount_AndRefusedOverTheBudget()
    {
        var body = new JsonObject
        {
            ["model"] = "gpt-4o",
            ["max_tokens"] = 16,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = DenseKorean() }),
        };

        var (status, answer) = await PostAsync("v1/chat/completions", body);

        Assert.That(status, Is.EqualTo(429), "admitted although the prompt alone costs more than the budget");
        Assert.That((string?)answer["error"]!["code"], Is.EqualTo("budget_exceeded"));
        Assert.That(_host.Fake.Requests, Is.Empty, "nothing went upstream");
    }

    private static JsonObject Messages(JsonNode content) => new()
    {
        ["model"] = "gpt-4o",
        ["max_tokens"] = 16,
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = content }),
    };

    [Test]
    public async Task Messages_TranslatedRoute_InlineImage_IsReservedAsOneImage_SoTheRequestFitsTheBudget()
    {
        var image = new JsonArray(
            new JsonObject { ["type"] = "text", ["text"] = "what is in this picture?" },
            new JsonObject
            {
                ["type"] = "image",
                ["source"] = new JsonObject { ["type"] = "base64", ["media_type"] = "image/png", ["data"] = Convert.ToBase64String(new byte[450_000]) },
            });

        var (status, answer) = await PostAsync("v1/messages", Messages(image));

        Assert.That(status, Is.EqualTo(200), answer.ToJsonString());
    }

    [Test]
    public async Task Messages_TranslatedRoute_DenseKoreanText_IsRefusedOverTheBudget_InAnthropicsDialect()
    {
        var (status, answer) = await PostAsync("v1/messages", Messages(DenseKorean()));

        Assert.That(status, Is.EqualTo(429), "admitted although the prompt alone costs more than the budget");
        Assert.That((string?)answer["type"], Is.EqualTo("error"));
        Assert.That((string?)answer["error"]!["message"], Does.StartWith("Budget exceeded"));
        Assert.That(_host.Fake.Requests, Is.Empty, "nothing went upstream");
    }
}
