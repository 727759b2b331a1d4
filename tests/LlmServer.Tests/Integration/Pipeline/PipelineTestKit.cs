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

    /// <summary>Anthropic (passthrough), vLLM (translation) and OpenAI (session chat) all on the fake; auth on; ledger rows captured.</summary>
    public static LlmServerHostBuilder Builder() => LlmServerHostBuilder.Create()
        .WithMasterKey(Master)
        .WithAnthropic()
        .WithVllm()
        .WithSessionChat("sk-server-openai-key");

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

    /// <summary>The ledger rows once there are <paramref name="count"/> and the server has finished every request (no later row can come).</summary>
    public static async Task<List<UsageRecord>> RowsAsync(LlmServerHost host, int count)
    {
        await host.Usage.WaitForCountAsync(count);
        await host.IdleAsync();
        return host.Usage.Records.ToList();
    }
}
