using LlmServer.FakeUpstream;
using LlmServer.Services.Chat;
using LlmServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace LlmServer.Tests.Integration.Gateway;

/// <summary>
/// The real server on a Kestrel loopback port in front of a fake upstream: upstream "fake" (openai_compatible)
/// serves gpt-4o-mini, gpt-4o and text-embedding-3-small under their own names, and "house-model" (alias
/// "house") maps to its fake-vllm-model. Master key on. Usage rows are captured in memory; session history is the
/// server's own store (SQLite in the app's data directory). A preset of <see cref="LlmServerHostBuilder"/>.
/// </summary>
internal sealed class GatewayHost : IAsyncDisposable
{
    public const string MasterKey = LlmServerHostBuilder.DefaultMasterKey;
    public const string UpstreamKey = LlmServerHostBuilder.DefaultUpstreamKey;

    private FakeUpstreamServer? _fakeToDispose;

    private GatewayHost(LlmServerHost host) => Host = host;

    /// <summary>The server this preset started.</summary>
    public LlmServerHost Host { get; }
    public FakeUpstreamServer Fake => Host.Fake;
    public LlmServerApp App => Host.App;
    public LlmServerApp Factory => Host.App;
    public CapturingUsageSink Usage => Host.Usage;
    /// <summary>The server's session history store.</summary>
    public IChatHistoryStore History => Host.Services.GetRequiredService<IChatHistoryStore>();
    public Uri BaseAddress => Host.BaseAddress;
    public Uri V1 => new(BaseAddress, "v1");

    /// <summary>The preset's builder, for fixtures that add to it.</summary>
    public static LlmServerHostBuilder Builder(FakeUpstreamServer? fake = null)
    {
        var builder = LlmServerHostBuilder.Create()
            .WithMasterKey()
            .WithGatewayUpstream("fake", "openai_compatible", ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small"])
            .WithGatewayModel("house-model", "fake", "fake-vllm-model", "house")
            .WithFastResilience()
            .OnKestrel();
        return fake is null ? builder : builder.WithFakeUpstream(fake);
    }

    /// <param name="configure">Edits of the preset's settings.</param>
    /// <param name="fake">A fake the host takes over (disposed with it); null starts one.</param>
    /// <param name="services">Extra test service overrides (in-process seams).</param>
    /// <param name="realLedger">Keep the real usage sink and ledger (rows readable through /api/v1/usage) instead of capturing rows in memory.</param>
    public static async Task<GatewayHost> StartAsync(Action<Dictionary<string, string?>>? configure = null, FakeUpstreamServer? fake = null,
        Action<IServiceCollection>? services = null, bool realLedger = false)
    {
        var builder = Builder(fake);
        if (configure is not null) builder.WithSettings(configure);
        if (services is not null) builder.WithServices(services);
        if (realLedger) builder.WithRealLedger();
        var host = new GatewayHost(await builder.StartAsync());
        host._fakeToDispose = fake;
        return host;
    }

    /// <summary>The default host plus upstream "claude" (kind anthropic, on the same fake) serving <paramref name="model"/>.</summary>
    public static async Task<GatewayHost> StartWithAnthropicAsync(string model)
    {
        return new GatewayHost(await Builder().WithGatewayUpstream("claude", "anthropic", [model], "sk-ant-upstream").StartAsync());
    }

    /// <summary>An HttpClient to the server with the master key.</summary>
    public HttpClient Client(bool withKey = true) => Host.Client(withKey ? MasterKey : null);

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        if (_fakeToDispose is not null) await _fakeToDispose.DisposeAsync();
    }
}
