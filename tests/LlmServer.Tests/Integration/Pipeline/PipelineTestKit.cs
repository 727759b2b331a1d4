using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using LlmServer.Services.Accounting;

namespace LlmServer.Tests.Integration.Pipeline;

/// <summary>Shared helpers of the masking + admission + ledger tests on /v1/messages and /api/v1/chat.</summary>
internal static class PipelineTestKit
{
    public const string Master = "master-key-for-pipeline-tests";
    public const string ClaudeModel = "claude-sonnet-4-5";
    public const string VllmModel = "fake-vllm-model";

    /// <summary>Anthropic (passthrough), vLLM (translation) and OpenAI (session chat) all on the fake; auth on.</summary>
    public static Dictionary<string, string?> Settings(FakeUpstreamServer fake) => new()
    {
        ["LlmServer:Auth:MasterKey"] = Master,
        ["LlmServer:Anthropic:ApiKey"] = "sk-ant-upstream-key",
        ["LlmServer:Anthropic:BaseUrl"] = fake.BaseUrl,
        ["LlmServer:Vllm:BaseUrl"] = fake.V1Url,
        ["LlmServer:OpenAi:BaseUrl"] = fake.V1Url,
        ["LlmServer:OpenAi:ApiKey"] = "sk-server-openai-key",
    };

    /// <summary>Creates a virtual key through the admin API; returns the key and its id.</summary>
    public static async Task<(string Key, string Id)> CreateKeyAsync(HttpClient http, object spec)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/admin/keys") { Content = JsonContent.Create(spec) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Master);
        using var response = await http.SendAsync(request);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.That((int)response.StatusCode, Is.EqualTo(201), body.ToJsonString());
        return ((string)body["data"]!["key"]!, (string)body["data"]!["info"]!["id"]!);
    }

    /// <summary>Waits until the vLLM upstream's models were discovered (the router learns them in the background).</summary>
    public static async Task WaitForModelAsync(HttpClient http, string model)
    {
        for (var i = 0; i < 100; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Master);
            using var response = await http.SendAsync(request);
            if ((await response.Content.ReadAsStringAsync()).Contains($"\"{model}\"", StringComparison.Ordinal)) return;
            await Task.Delay(50);
        }
        Assert.Fail($"model {model} was never discovered");
    }

    /// <summary>The POST bodies the fake upstream received (raw and decoded JSON text).</summary>
    public static List<string> UpstreamBodies(FakeUpstreamServer fake) =>
        fake.Requests.Where(r => r.Method == "POST").SelectMany(r => new[] { r.Body, r.Json?.ToJsonString(new System.Text.Json.JsonSerializerOptions
        {
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }) ?? "" }).ToList();

    /// <summary>Waits for <paramref name="count"/> ledger rows (the sink is fed when a request finished).</summary>
    public static async Task<List<UsageRecord>> RowsAsync(CapturingSink sink, int count)
    {
        for (var i = 0; i < 100 && sink.Rows.Count < count; i++) await Task.Delay(20);
        await Task.Delay(50);
        return sink.Rows.ToList();
    }
}

/// <summary>Captures ledger rows in memory.</summary>
internal sealed class CapturingSink : IUsageSink
{
    public ConcurrentQueue<UsageRecord> Rows { get; } = new();

    public void Record(UsageRecord record) => Rows.Enqueue(record);

    public void Clear()
    {
        while (Rows.TryDequeue(out _)) { }
    }
}
