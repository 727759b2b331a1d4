using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OpenAI;
using OpenAI.Chat;

namespace LlmServer.Tests.Integration.Gateway;

/// <summary>
/// Virtual keys on the /v1 gateway with the real ledger: auth, per-key model list, rpm, budget, per-key
/// masking policy, and exactly one ledger row per request (read back through /api/v1/usage/requests).
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class GatewayKeysAndLedgerTests
{
    private GatewayHost _host = null!;
    private HttpClient _admin = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _host = await GatewayHost.StartAsync(s =>
        {
            s["LlmServer:Operations:KeyCacheSeconds"] = "0";
            s["LlmServer:Operations:Ledger:FlushIntervalMs"] = "20";
        }, realLedger: true);
        _admin = _host.Client();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _admin.Dispose();
        await _host.DisposeAsync();
    }

    [SetUp]
    public void Reset() => _host.Fake.Reset();

    private async Task<(string Key, string Id)> CreateKeyAsync(object spec)
    {
        var response = await _admin.PostAsJsonAsync("/api/v1/admin/keys", spec);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        var data = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["data"]!;
        return ((string)data["key"]!, (string)data["info"]!["id"]!);
    }

    private HttpClient ClientWith(string key)
    {
        var http = _host.Client(withKey: false);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    private static object Chat(string model, string text = "hello", int? maxTokens = null) =>
        maxTokens is null
            ? new { model, messages = new[] { new { role = "user", content = text } } }
            : new { model, max_tokens = maxTokens, messages = new[] { new { role = "user", content = text } } };

    /// <summary>The ledger rows of one key, once <paramref name="expected"/> of them are written.</summary>
    private async Task<List<JsonNode>> LedgerRowsAsync(string keyId, int expected)
    {
        List<JsonNode> rows = [];
        for (var i = 0; i < 150; i++)
        {
            var page = JsonNode.Parse(await _admin.GetStringAsync("/api/v1/usage/requests?limit=200"))!["data"]!;
            rows = page["data"]!.AsArray().Where(r => (string?)r!["key_id"] == keyId).Select(r => r!).ToList();
            if (rows.Count >= expected) break;
            await Task.Delay(20);
        }
        await Task.Delay(100);
        var last = JsonNode.Parse(await _admin.GetStringAsync("/api/v1/usage/requests?limit=200"))!["data"]!;
        return last["data"]!.AsArray().Where(r => (string?)r!["key_id"] == keyId).Select(r => r!).ToList();
    }

    [Test]
    public async Task VirtualKey_WorksWithTheOpenAiSdk_UnknownAndRevokedKeysGet401()
    {
        var (key, id) = await CreateKeyAsync(new { name = "sdk" });
        var client = new ChatClient("gpt-4o-mini", new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = _host.V1 });

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("안녕")]);
        Assert.That(completion.Content[0].Text, Is.EqualTo("Echo: 안녕"));

        using var unknown = ClientWith("sk-llms-" + new string('x', 32));
        var unknownResponse = await unknown.PostAsJsonAsync("v1/chat/completions", Chat("gpt-4o-mini"));
        Assert.That((int)unknownResponse.StatusCode, Is.EqualTo(401));
        Assert.That((string?)JsonNode.Parse(await unknownResponse.Content.ReadAsStringAsync())!["error"]!["code"], Is.EqualTo("invalid_api_key"));

        Assert.That((await _admin.DeleteAsync($"/api/v1/admin/keys/{id}")).IsSuccessStatusCode, Is.True);
        using var revoked = ClientWith(key);
        var revokedResponse = await revoked.PostAsJsonAsync("v1/chat/completions", Chat("gpt-4o-mini"));
        Assert.That((int)revokedResponse.StatusCode, Is.EqualTo(401));
        Assert.That(_host.Fake.Requests, Has.Count.EqualTo(1), "only the valid call reached the upstream");
    }

    [Test]
    public async Task ModelNotInTheKeysList_Gets403_AndNothingGoesUpstream()
    {
        var (key, id) = await CreateKeyAsync(new { name = "limited", allowed_models = new[] { "gpt-4o" } });
        using var http = ClientWith(key);

        var refused = await http.PostAsJsonAsync("v1/chat/completions", Chat("gpt-4o-mini"));
        var allowed = await http.PostAsJsonAsync("v1/chat/completions", Chat("gpt-4o"));
        var json = JsonNode.Parse(await refused.Content.ReadAsStringAsync())!;

        Assert.That((int)refused.StatusCode, Is.EqualTo(403));
        Assert.That((string?)json["error"]!["code"], Is.EqualTo("model_not_allowed"));
        Assert.That((int)allowed.StatusCode, Is.EqualTo(200));
        Assert.That(_host.Fake.Requests, Has.Count.EqualTo(1));
        var rows = await LedgerRowsAsync(id, 2);
        Assert.That(rows.Select(r => (int)r["status"]!), Is.EquivalentTo(new[] { 403, 200 }));
        Assert.That(rows.Single(r => (int)r["status"]! == 403)["error_code"]?.ToString(), Is.EqualTo("model_not_allowed"));
    }

    [Test]
    public async Task RpmLimit_Answers429WithRetryAfter_OnEveryGatewayRoute()
    {
        var (key, _) = await CreateKeyAsync(new { name = "slow", rpm = 1 });
        using var http = ClientWith(key);

        var first = await http.PostAsJsonAsync("v1/chat/completions", Chat("gpt-4o-mini"));
        var second = await http.PostAsJsonAsync("v1/embeddings", new { model = "text-embedding-3-small", input = "x" });
        var json = JsonNode.Parse(await second.Content.ReadAsStringAsync())!;

        Assert.That((int)first.StatusCode, Is.EqualTo(200));
        Assert.That((int)second.StatusCode, Is.EqualTo(429));
        Assert.That((string?)json["error"]!["code"], Is.EqualTo("rate_limit_exceeded"));
        Assert.That(second.Headers.RetryAfter?.Delta?.TotalSeconds ?? 0, Is.GreaterThanOrEqualTo(1));
        Assert.That(_host.Fake.Requests, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task Budget_ConcurrentRequestsNeverOverspendBeyondOneReservation_AndTheRestGet429BudgetExceeded()
    {
        // ~1000 output tokens per answer: $0.0006 at gpt-4o-mini's $0.60/M; max_tokens 1000 reserves about the same.
        _host.Fake.ReplyFactory = (_, _) => new string('a', 4000);
        const decimal limit = 0.002m;
        var (key, id) = await CreateKeyAsync(new { name = "budget", budget = new { total_usd = limit } });
        using var http = ClientWith(key);

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => http.PostAsJsonAsync("v1/chat/completions", Chat("gpt-4o-mini", maxTokens: 1000))));

        var ok = responses.Count(r => r.StatusCode == HttpStatusCode.OK);
        var refused = responses.Where(r => (int)r.StatusCode == 429).ToList();
        Assert.That(ok, Is.InRange(1, 4));
        Assert.That(refused, Has.Count.EqualTo(10 - ok));
        var body = JsonNode.Parse(await refused[0].Content.ReadAsStringAsync())!;
        Assert.That((string?)body["error"]!["code"], Is.EqualTo("budget_exceeded"));
        Assert.That((string?)body["error"]!["message"], Does.Contain("Budget"));

        var rows = await LedgerRowsAsync(id, 10);
        Assert.That(rows, Has.Count.EqualTo(10), "one row per request, refused ones included");
        var spent = rows.Sum(r => r["cost_usd"] is JsonValue v ? (decimal)v : 0m);
        const decimal oneReservation = 0.0007m;
        Assert.That(spent, Is.GreaterThan(0m).And.LessThanOrEqualTo(limit + oneReservation));
        Assert.That(rows.Where(r => (int)r["status"]! == 429).All(r => r["cost_usd"] is null), Is.True, "refused requests cost nothing");
    }

    [Test]
    public async Task ExhaustedDailyBudget_Gets429WithRetryAfterUntilTheNextUtcDay_AndNothingGoesUpstream()
    {
        var (key, _) = await CreateKeyAsync(new { name = "daily", budget = new { daily_usd = 0.000001 } });
        using var http = ClientWith(key);

        var response = await http.PostAsJsonAsync("v1/responses", new { model = "gpt-4o-mini", input = "hi", max_output_tokens = 500 });
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.That((int)response.StatusCode, Is.EqualTo(429));
        Assert.That((string?)json["error"]!["code"], Is.EqualTo("budget_exceeded"));
        Assert.That((string?)json["error"]!["message"], Does.StartWith("Budget exceeded for this key"));
        var retryAfter = response.Headers.RetryAfter?.Delta?.TotalSeconds ?? 0;
        var untilMidnight = (DateTime.UtcNow.Date.AddDays(1) - DateTime.UtcNow).TotalSeconds;
        Assert.That(retryAfter, Is.InRange(untilMidnight - 60, untilMidnight + 60));
        Assert.That(_host.Fake.Requests, Is.Empty);
    }

    [Test]
    public async Task KeysMaskingPolicy_OverridesTheServers_AndRowsCarryMaskedCounts()
    {
        var (offKey, offId) = await CreateKeyAsync(new { name = "no-masking", masking_policy = "off" });
        var (maskKey, maskId) = await CreateKeyAsync(new { name = "masking" });
        using var off = ClientWith(offKey);
        using var mask = ClientWith(maskKey);

        var plain = await off.PostAsJsonAsync("v1/chat/completions", Chat("gpt-4o-mini", GatewayMaskingTests.AwsScenario));
        var offBody = _host.Fake.LastRequest.Body;
        var masked = await mask.PostAsJsonAsync("v1/chat/completions", Chat("gpt-4o-mini", GatewayMaskingTests.AwsScenario));

        Assert.That((int)plain.StatusCode, Is.EqualTo(200));
        Assert.That((int)masked.StatusCode, Is.EqualTo(200));
        Assert.That(offBody, Does.Contain("AKIAIOSFODNN7EXAMPLE"), "the key's own policy (off) wins over the server's mask");
        GatewayMaskingTests.AssertNoOriginals(_host.Fake.LastRequest.Body);
        Assert.That((string?)JsonNode.Parse(await masked.Content.ReadAsStringAsync())!["choices"]![0]!["message"]!["content"],
            Is.EqualTo("Echo: " + GatewayMaskingTests.AwsScenario));

        var maskRow = (await LedgerRowsAsync(maskId, 1)).Single();
        Assert.That((int)maskRow["masked_counts"]!["AWS_EC2"]!, Is.EqualTo(3));
        Assert.That(maskRow.ToJsonString(), Does.Not.Contain("AKIAIOSFODNN7EXAMPLE"));
        var offRow = (await LedgerRowsAsync(offId, 1)).Single();
        Assert.That(offRow["masked_counts"], Is.Null);
    }

    [Test]
    public async Task EachRequest_WritesExactlyOneLedgerRow_StreamedAndFailedIncluded()
    {
        var (key, id) = await CreateKeyAsync(new { name = "ledger", allowed_models = new[] { "gpt-4o-mini", "text-embedding-3-small" } });
        using var http = ClientWith(key);
        _host.Fake.EnqueueFault(FakeUpstream.Fault.Http(500), 5);

        var failed = await http.PostAsJsonAsync("v1/chat/completions", Chat("gpt-4o-mini"));
        var stream = await http.PostAsJsonAsync("v1/chat/completions", new { model = "gpt-4o-mini", stream = true, messages = new[] { new { role = "user", content = "hi" } } });
        await stream.Content.ReadAsStringAsync();
        var completions = await http.PostAsJsonAsync("v1/completions", new { model = "gpt-4o-mini", prompt = "hi" });
        var embeddings = await http.PostAsJsonAsync("v1/embeddings", new { model = "text-embedding-3-small", input = "hi" });
        var notAllowed = await http.PostAsJsonAsync("v1/chat/completions", Chat("gpt-4o"));
        var unknown = await http.PostAsJsonAsync("v1/completions", new { model = "no-such-model", prompt = "hi" });

        Assert.That((int)failed.StatusCode, Is.EqualTo(502));
        Assert.That((int)notAllowed.StatusCode, Is.EqualTo(403));
        Assert.That((int)unknown.StatusCode, Is.EqualTo(404));
        var rows = await LedgerRowsAsync(id, 6);
        Assert.That(rows, Has.Count.EqualTo(6));
        Assert.That(rows.Select(r => (string)r["route"]!),
            Is.EquivalentTo(new[] { "chat_completions", "chat_completions", "completions", "embeddings", "chat_completions", "completions" }));
        Assert.That((string?)rows.Single(r => (int)r["status"]! == 404)["error_code"], Is.EqualTo("model_not_found"));
        var failedRow = rows.Single(r => (int)r["status"]! == 502);
        Assert.That((string?)failedRow["error_code"], Is.EqualTo("upstream_error"));
        Assert.That(failedRow["cost_usd"], Is.Null);
        var streamRow = rows.Single(r => (bool)r["stream"]!);
        Assert.That((long)streamRow["output_tokens"]!, Is.GreaterThan(0));
        Assert.That((decimal)streamRow["cost_usd"]!, Is.GreaterThan(0m));
        Assert.That((string?)streamRow["upstream"], Is.EqualTo("fake"));
    }
}
