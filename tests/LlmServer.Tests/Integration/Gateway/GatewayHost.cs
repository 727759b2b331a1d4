using System.Collections.Concurrent;
using LlmServer.FakeUpstream;
using LlmServer.Services.Accounting;
using LlmServer.Services.Chat;
using LlmServer.Tests.Infrastructure;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmServer.Tests.Integration.Gateway;

/// <summary>
/// The real server on a Kestrel loopback port in front of a fake upstream: upstream "fake" (openai_compatible)
/// serves gpt-4o-mini, gpt-4o and text-embedding-3-small under their own names, and "house-model" (alias
/// "house") maps to its fake-vllm-model. Master key on. Usage rows are captured in memory; session history is the
/// server's own store (SQLite in the app's data directory).
/// </summary>
internal sealed class GatewayHost : IAsyncDisposable
{
    public const string MasterKey = "sk-master-test-key";
    public const string UpstreamKey = "sk-upstream-secret";

    private GatewayHost(FakeUpstreamServer fake, LlmServerApp app, Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program> factory)
    {
        Fake = fake;
        App = app;
        Factory = factory;
    }

    public FakeUpstreamServer Fake { get; }
    public LlmServerApp App { get; }
    public Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program> Factory { get; }
    public CapturingUsageSink Usage { get; } = new();
    /// <summary>The server's session history store.</summary>
    public IChatHistoryStore History => Factory.Services.GetRequiredService<IChatHistoryStore>();
    public Uri BaseAddress { get; private set; } = null!;
    public Uri V1 => new(BaseAddress, "v1");

    /// <param name="services">Extra test service overrides (in-process seams).</param>
    /// <param name="realLedger">Keep the real usage sink and ledger (rows readable through /api/v1/usage) instead of capturing rows in memory.</param>
    public static async Task<GatewayHost> StartAsync(Action<Dictionary<string, string?>>? configure = null, FakeUpstreamServer? fake = null,
        Action<IServiceCollection>? services = null, bool realLedger = false)
    {
        fake ??= await FakeUpstreamServer.StartAsync();
        var settings = DefaultSettings(fake.V1Url);
        configure?.Invoke(settings);
        var app = new LlmServerApp(settings);
        GatewayHost host = null!;
        var factory = app.WithWebHostBuilder(b => b.ConfigureTestServices(s =>
        {
            if (!realLedger)
            {
                s.RemoveAll<IUsageSink>();
                s.AddSingleton<IUsageSink>(host.Usage);
            }
            services?.Invoke(s);
        }));
        host = new GatewayHost(fake, app, factory);
        try
        {
            factory.UseKestrel(0);
            factory.StartServer();
            using var probe = factory.CreateClient();
            host.BaseAddress = probe.BaseAddress!;
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    public static Dictionary<string, string?> DefaultSettings(string upstreamV1) => new()
    {
        ["urls"] = "http://127.0.0.1:0",
        ["LlmServer:Auth:MasterKey"] = MasterKey,
        ["LlmServer:OpenAi:ApiKey"] = "",
        ["LlmServer:Vllm:BaseUrl"] = "",
        ["LlmServer:Anthropic:ApiKey"] = "",
        ["LlmServer:Gateway:Upstreams:0:Name"] = "fake",
        ["LlmServer:Gateway:Upstreams:0:Kind"] = "openai_compatible",
        ["LlmServer:Gateway:Upstreams:0:BaseUrl"] = upstreamV1,
        ["LlmServer:Gateway:Upstreams:0:ApiKey"] = UpstreamKey,
        ["LlmServer:Gateway:Upstreams:0:Models:0"] = "gpt-4o-mini",
        ["LlmServer:Gateway:Upstreams:0:Models:1"] = "gpt-4o",
        ["LlmServer:Gateway:Upstreams:0:Models:2"] = "text-embedding-3-small",
        ["LlmServer:Gateway:Models:0:Name"] = "house-model",
        ["LlmServer:Gateway:Models:0:Aliases:0"] = "house",
        ["LlmServer:Gateway:Models:0:Deployments:0:Upstream"] = "fake",
        ["LlmServer:Gateway:Models:0:Deployments:0:Model"] = "fake-vllm-model",
        ["LlmServer:Gateway:Retry:BaseDelayMs"] = "10",
        ["LlmServer:Gateway:Retry:MaxDelayMs"] = "50",
        ["LlmServer:Gateway:CircuitBreaker:MinimumThroughput"] = "100000",
        ["LlmServer:Gateway:Timeouts:FirstByteSeconds"] = "2",
        ["LlmServer:Gateway:Timeouts:IdleSeconds"] = "1",
    };

    /// <summary>The default host plus upstream "claude" (kind anthropic, on the same fake) serving <paramref name="model"/>.</summary>
    public static async Task<GatewayHost> StartWithAnthropicAsync(string model)
    {
        var fake = await FakeUpstreamServer.StartAsync();
        return await StartAsync(s =>
        {
            s["LlmServer:Gateway:Upstreams:1:Name"] = "claude";
            s["LlmServer:Gateway:Upstreams:1:Kind"] = "anthropic";
            s["LlmServer:Gateway:Upstreams:1:BaseUrl"] = fake.BaseUrl;
            s["LlmServer:Gateway:Upstreams:1:ApiKey"] = "sk-ant-upstream";
            s["LlmServer:Gateway:Upstreams:1:Models:0"] = model;
        }, fake);
    }

    /// <summary>An HttpClient to the server with the master key.</summary>
    public HttpClient Client(bool withKey = true)
    {
        var http = new HttpClient { BaseAddress = BaseAddress };
        if (withKey) http.DefaultRequestHeaders.Authorization = new("Bearer", MasterKey);
        return http;
    }

    public async ValueTask DisposeAsync()
    {
        await Factory.DisposeAsync();
        await App.DisposeAsync();
        await Fake.DisposeAsync();
    }
}

/// <summary>Keeps every usage row the gateway hands to the sink.</summary>
internal sealed class CapturingUsageSink : IUsageSink
{
    private readonly ConcurrentQueue<UsageRecord> _records = new();

    public IReadOnlyList<UsageRecord> Records => _records.ToArray();

    public void Record(UsageRecord record) => _records.Enqueue(record);

    public void Clear() => _records.Clear();

    /// <summary>Usage is recorded as the response completes; wait briefly for the row.</summary>
    public async Task<UsageRecord> WaitForAsync(Func<UsageRecord, bool> match)
    {
        for (var i = 0; i < 100; i++)
        {
            var found = _records.FirstOrDefault(match);
            if (found is not null) return found;
            await Task.Delay(20);
        }
        throw new AssertionException("no matching usage record");
    }
}
