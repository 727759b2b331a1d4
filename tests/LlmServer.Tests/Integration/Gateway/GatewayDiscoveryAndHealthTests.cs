using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmServer.Tests.Integration.Gateway;

/// <summary>openai_compatible upstreams without a model list serve what their /v1/models reports; /health names failures.</summary>
[TestFixture]
[NonParallelizable]
public sealed class GatewayDiscoveryAndHealthTests
{
    private static void DiscoveringUpstream(Dictionary<string, string?> s)
    {
        foreach (var k in s.Keys.Where(k => k.StartsWith("LlmServer:Gateway:Upstreams:0:Models", StringComparison.Ordinal) || k.StartsWith("LlmServer:Gateway:Models", StringComparison.Ordinal)).ToList())
        {
            s.Remove(k);
        }
        s["LlmServer:Gateway:DefaultModel"] = "fake-vllm-model";
    }

    private static async Task<JsonArray> ModelsAsync(GatewayHost host, Func<JsonArray, bool> until)
    {
        using var http = host.Client();
        JsonArray data = [];
        for (var i = 0; i < 100; i++)
        {
            data = JsonNode.Parse(await http.GetStringAsync("v1/models"))!["data"]!.AsArray();
            if (until(data)) break;
            await Task.Delay(50);
        }
        return data;
    }

    [Test]
    public async Task UpstreamWithoutConfiguredModels_ServesItsOwnModelList()
    {
        await using var host = await GatewayHost.StartAsync(DiscoveringUpstream);

        var data = await ModelsAsync(host, d => d.Count > 0);
        var vllm = data.First(m => (string?)m!["id"] == "fake-vllm-model")!;
        using var http = host.Client();
        var chat = await http.PostAsync("v1/chat/completions", new StringContent("""{"model":"fake-vllm-model","messages":[{"role":"user","content":"hi"}]}""", System.Text.Encoding.UTF8, "application/json"));

        Assert.That(data.Select(m => (string?)m!["id"]), Is.EquivalentTo(host.Fake.Models));
        Assert.That((int)vllm["max_model_len"]!, Is.EqualTo(8192));
        Assert.That((string?)vllm["root"], Is.EqualTo("fake-vllm-model"));
        Assert.That((int)chat.StatusCode, Is.EqualTo(200));
    }

    [Test]
    public async Task OpenAiUpstream_ServesANewSnapshotItsModelListNames_KeepsItsConfiguredList_AndLeavesOtherUpstreamsModelsAlone()
    {
        var fake = await FakeUpstreamServer.StartAsync();
        fake.Models.Add("gpt-4o-2024-11-20");
        await using var host = await GatewayHost.StartAsync(fake: fake, configure: s =>
        {
            foreach (var k in s.Keys.Where(k => k.StartsWith("LlmServer:Gateway:Upstreams", StringComparison.Ordinal) || k.StartsWith("LlmServer:Gateway:Models", StringComparison.Ordinal)).ToList()) s.Remove(k);
            s["LlmServer:OpenAi:BaseUrl"] = fake.V1Url;
            s["LlmServer:OpenAi:ApiKey"] = "sk-openai-upstream";
            s["LlmServer:Vllm:BaseUrl"] = fake.V1Url;
        });
        await ModelsAsync(host, d => d.Any(m => (string?)m!["id"] == "gpt-4o-2024-11-20"));
        using var http = host.Client();
        async Task<int> ChatAsync(string model) => (int)(await http.PostAsync("v1/chat/completions", new StringContent(
            $$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}]}""", System.Text.Encoding.UTF8, "application/json"))).StatusCode;

        Assert.That(await ChatAsync("gpt-4o-2024-11-20"), Is.EqualTo(200), "a model the upstream lists is served without a config change");
        Assert.That(await ChatAsync("gpt-4.1-mini"), Is.EqualTo(200), "the configured list still routes what the listing lacks");
        Assert.That(await ChatAsync("fake-vllm-model"), Is.EqualTo(200));
        var vllmCall = fake.Requests.Last(r => r.Path.EndsWith("/chat/completions", StringComparison.Ordinal));
        Assert.That(vllmCall.ApiKey, Is.Not.EqualTo("sk-openai-upstream"),
            "a model the vLLM upstream discovers keeps going there, although the OpenAI upstream lists it too");
    }

    [Test]
    public async Task VllmBaseUrlAndKey_CreateAnUpstreamServingItsModels()
    {
        // NOTE: VLLM_BASE_URL / VLLM_API_KEY map onto LlmServer:Vllm:BaseUrl / ApiKey (EnvironmentShortcuts).
        var fake = await FakeUpstreamServer.StartAsync();
        await using var vllm = await GatewayHost.StartAsync(fake: fake, configure: s =>
        {
            foreach (var k in s.Keys.Where(k => k.StartsWith("LlmServer:Gateway:Upstreams", StringComparison.Ordinal) || k.StartsWith("LlmServer:Gateway:Models", StringComparison.Ordinal)).ToList()) s.Remove(k);
            s["LlmServer:Vllm:BaseUrl"] = fake.BaseUrl;
            s["LlmServer:Vllm:ApiKey"] = "vllm-key";
            s["LlmServer:Gateway:DefaultModel"] = "fake-vllm-model";
        });

        var data = await ModelsAsync(vllm, d => d.Count > 0);
        using var http = vllm.Client();
        var chat = await http.PostAsync("v1/chat/completions", new StringContent("""{"model":"fake-vllm-model","messages":[{"role":"user","content":"hi"}]}""", System.Text.Encoding.UTF8, "application/json"));

        Assert.That(data.Select(m => (string?)m!["id"]), Does.Contain("fake-vllm-model"));
        Assert.That((int)chat.StatusCode, Is.EqualTo(200));
        Assert.That(fake.LastRequest.Path, Is.EqualTo("/v1/chat/completions"), "a base URL without /v1 gets it");
        Assert.That(fake.LastRequest.ApiKey, Is.EqualTo("vllm-key"));
    }

    [Test]
    public async Task Health_IsHealthyWithAReachableUpstream()
    {
        await using var host = await GatewayHost.StartAsync();
        var health = host.Factory.Services.GetRequiredService<HealthCheckService>();

        var report = await health.CheckHealthAsync();

        Assert.That(report.Entries["gateway"].Status, Is.EqualTo(HealthStatus.Healthy));
    }

    [Test]
    public async Task Health_NamesTheUpstreamWhoseModelListCannotBeFetched()
    {
        var dead = await FakeUpstreamServer.StartAsync();
        var deadUrl = dead.V1Url;
        await dead.DisposeAsync();
        await using var host = await GatewayHost.StartAsync(s =>
        {
            s["LlmServer:Gateway:Upstreams:1:Name"] = "gpu-box";
            s["LlmServer:Gateway:Upstreams:1:Kind"] = "openai_compatible";
            s["LlmServer:Gateway:Upstreams:1:BaseUrl"] = deadUrl;
        });
        var health = host.Factory.Services.GetRequiredService<HealthCheckService>();

        HealthReport report = null!;
        for (var i = 0; i < 100; i++)
        {
            report = await health.CheckHealthAsync();
            if (report.Entries["gateway"].Status == HealthStatus.Unhealthy) break;
            await Task.Delay(50);
        }

        Assert.That(report.Entries["gateway"].Status, Is.EqualTo(HealthStatus.Unhealthy));
        Assert.That(report.Entries["gateway"].Description, Does.Contain("gpu-box"));
    }

    [Test]
    public async Task Health_IsDegradedNamingTheSettingWithoutAnyUpstream()
    {
        await using var host = await GatewayHost.StartAsync(s =>
        {
            foreach (var k in s.Keys.Where(k => k.StartsWith("LlmServer:Gateway:Upstreams", StringComparison.Ordinal) || k.StartsWith("LlmServer:Gateway:Models", StringComparison.Ordinal)).ToList()) s.Remove(k);
        });
        var health = host.Factory.Services.GetRequiredService<HealthCheckService>();

        var report = await health.CheckHealthAsync();

        Assert.That(report.Entries["gateway"].Status, Is.EqualTo(HealthStatus.Degraded));
        Assert.That(report.Entries["gateway"].Description, Does.Contain("no upstream").And.Contain("OPENAI_API_KEY"));
    }
}
