using LlmServer.FakeUpstream;
using LlmServer.Services.Accounting;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmServer.Tests.Infrastructure;

/// <summary>
/// The one way an integration fixture starts the server: its own data directory, a fake upstream
/// (<see cref="FakeUpstreamServer"/>) wired as the providers and gateway upstreams it names, keys, settings, an
/// injectable clock and one capturing usage sink. Settings are applied in the order the calls were made.
/// <code>
/// await using var host = await LlmServerHostBuilder.Create().WithMasterKey().WithGatewayUpstream("fake", "openai_compatible", ["gpt-4o-mini"]).OnKestrel().StartAsync();
/// </code>
/// </summary>
public sealed class LlmServerHostBuilder
{
    public const string DefaultMasterKey = "sk-master-test-key";
    public const string DefaultUpstreamKey = "sk-upstream-secret";
    public const string DefaultServerOpenAiKey = "sk-server-test-key";
    public const string DefaultAnthropicKey = "sk-ant-upstream-key";

    private readonly List<Action<Dictionary<string, string?>, FakeUpstreamServer>> _settings = [];
    private readonly List<Action<IServiceCollection>> _services = [];
    private FakeUpstreamServer? _fake;
    private TimeProvider? _clock;
    private string? _masterKey;
    private bool _kestrel;
    private bool _captureUsage = true;
    private int _upstreams;
    private int _models;

    private LlmServerHostBuilder()
    {
        // NOTE: provider keys from the machine's environment must never reach a test server.
        _settings.Add((s, _) =>
        {
            s["LlmServer:OpenAi:ApiKey"] = "";
            s["LlmServer:Vllm:BaseUrl"] = "";
            s["LlmServer:Anthropic:ApiKey"] = "";
        });
    }

    public static LlmServerHostBuilder Create() => new();

    /// <summary>Uses a fake the caller owns (and disposes) instead of starting one with the server.</summary>
    public LlmServerHostBuilder WithFakeUpstream(FakeUpstreamServer fake)
    {
        _fake = fake;
        return this;
    }

    /// <summary>Turns auth on with this master key.</summary>
    public LlmServerHostBuilder WithMasterKey(string key = DefaultMasterKey)
    {
        _masterKey = key;
        return WithSetting("LlmServer:Auth:MasterKey", key);
    }

    /// <summary>
    /// A gateway upstream on the fake serving <paramref name="models"/> under their own names
    /// (kind anthropic: the fake's root URL; any other kind: its /v1 URL).
    /// </summary>
    public LlmServerHostBuilder WithGatewayUpstream(string name, string kind, string[] models, string apiKey = DefaultUpstreamKey)
    {
        var prefix = $"LlmServer:Gateway:Upstreams:{_upstreams++}:";
        _settings.Add((s, fake) =>
        {
            s[prefix + "Name"] = name;
            s[prefix + "Kind"] = kind;
            s[prefix + "BaseUrl"] = kind == "anthropic" ? fake.BaseUrl : fake.V1Url;
            s[prefix + "ApiKey"] = apiKey;
            for (var i = 0; i < models.Length; i++) s[prefix + "Models:" + i] = models[i];
        });
        return this;
    }

    /// <summary>A model table entry: <paramref name="name"/> (and aliases) served as <paramref name="upstreamModel"/> on <paramref name="upstream"/>.</summary>
    public LlmServerHostBuilder WithGatewayModel(string name, string upstream, string upstreamModel, params string[] aliases)
    {
        var prefix = $"LlmServer:Gateway:Models:{_models++}:";
        _settings.Add((s, _) =>
        {
            s[prefix + "Name"] = name;
            for (var i = 0; i < aliases.Length; i++) s[prefix + "Aliases:" + i] = aliases[i];
            s[prefix + "Deployments:0:Upstream"] = upstream;
            s[prefix + "Deployments:0:Model"] = upstreamModel;
        });
        return this;
    }

    /// <summary>The session chat API (and the implicit OpenAI upstream) on the fake's OpenAI endpoints with a server key.</summary>
    public LlmServerHostBuilder WithSessionChat(string serverKey = DefaultServerOpenAiKey)
    {
        _settings.Add((s, fake) =>
        {
            s["LlmServer:OpenAi:BaseUrl"] = fake.V1Url;
            s["LlmServer:OpenAi:ApiKey"] = serverKey;
        });
        return this;
    }

    /// <summary>The implicit Anthropic upstream (claude-* models) on the fake.</summary>
    public LlmServerHostBuilder WithAnthropic(string apiKey = DefaultAnthropicKey)
    {
        _settings.Add((s, fake) =>
        {
            s["LlmServer:Anthropic:ApiKey"] = apiKey;
            s["LlmServer:Anthropic:BaseUrl"] = fake.BaseUrl;
        });
        return this;
    }

    /// <summary>The implicit vLLM upstream on the fake (its models are discovered from the fake's /v1/models).</summary>
    public LlmServerHostBuilder WithVllm()
    {
        _settings.Add((s, fake) => s["LlmServer:Vllm:BaseUrl"] = fake.V1Url);
        return this;
    }

    /// <summary>A short retry backoff, a breaker that never opens, and short first-byte (2 s) and idle (1 s) timeouts.</summary>
    public LlmServerHostBuilder WithFastResilience() => WithSettings(s =>
    {
        s["LlmServer:Gateway:Retry:BaseDelayMs"] = "10";
        s["LlmServer:Gateway:Retry:MaxDelayMs"] = "50";
        s["LlmServer:Gateway:CircuitBreaker:MinimumThroughput"] = "100000";
        s["LlmServer:Gateway:Timeouts:FirstByteSeconds"] = "2";
        s["LlmServer:Gateway:Timeouts:IdleSeconds"] = "1";
    });

    /// <summary>
    /// The first-byte and idle timeouts of every upstream: the gateway's default and the provider sections'
    /// TimeoutSeconds, which are the implicit OpenAI and Anthropic upstreams' own definition.
    /// </summary>
    public LlmServerHostBuilder WithTimeouts(int seconds)
    {
        var value = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return WithSettings(s =>
        {
            s["LlmServer:Gateway:Timeouts:FirstByteSeconds"] = value;
            s["LlmServer:Gateway:Timeouts:IdleSeconds"] = value;
            s["LlmServer:OpenAi:TimeoutSeconds"] = value;
            s["LlmServer:Anthropic:TimeoutSeconds"] = value;
            s["LlmServer:Vllm:TimeoutSeconds"] = value;
        });
    }

    public LlmServerHostBuilder WithSetting(string key, string? value)
    {
        _settings.Add((s, _) => s[key] = value);
        return this;
    }

    /// <summary>Edits the settings as they stand after the calls so far.</summary>
    public LlmServerHostBuilder WithSettings(Action<Dictionary<string, string?>> edit)
    {
        _settings.Add((s, _) => edit(s));
        return this;
    }

    public LlmServerHostBuilder WithSettings(IEnumerable<KeyValuePair<string, string?>> settings) => WithSettings(s =>
    {
        foreach (var (k, v) in settings) s[k] = v;
    });

    /// <summary>The server's clock (a FakeTimeProvider the test moves, for budgets, windows and the breaker).</summary>
    public LlmServerHostBuilder WithClock(TimeProvider clock)
    {
        _clock = clock;
        return this;
    }

    /// <summary>In-process seams replaced for this server (a failing vault, a recording store ...).</summary>
    public LlmServerHostBuilder WithServices(Action<IServiceCollection> services)
    {
        _services.Add(services);
        return this;
    }

    /// <summary>Keeps the server's own usage sink and ledger (rows readable through /api/v1/usage) instead of the capturing sink.</summary>
    public LlmServerHostBuilder WithRealLedger()
    {
        _captureUsage = false;
        return this;
    }

    /// <summary>Serves on a real loopback port (real sockets: disconnects, SDK clients, CLIs).</summary>
    public LlmServerHostBuilder OnKestrel()
    {
        _kestrel = true;
        return this;
    }

    public async Task<LlmServerHost> StartAsync()
    {
        var ownsFake = _fake is null;
        var fake = _fake ?? await FakeUpstreamServer.StartAsync();
        var settings = new Dictionary<string, string?>();
        if (_kestrel) settings["urls"] = "http://127.0.0.1:0";
        foreach (var apply in _settings) apply(settings, fake);

        var usage = new CapturingUsageSink();
        var inFlight = new InFlightRequests();
        var app = new LlmServerApp(settings, s =>
        {
            s.AddSingleton<IStartupFilter>(inFlight);
            if (_captureUsage)
            {
                s.RemoveAll<IUsageSink>();
                s.AddSingleton<IUsageSink>(usage);
            }
            if (_clock is not null) s.Replace(ServiceDescriptor.Singleton(_clock));
            foreach (var configure in _services) configure(s);
        });
        var host = new LlmServerHost(fake, ownsFake, app, usage, inFlight, _masterKey);
        try
        {
            Uri address;
            if (_kestrel)
            {
                app.UseKestrel(0);
                app.StartServer();
                using var probe = app.CreateClient();
                address = probe.BaseAddress!;
            }
            else
            {
                using var probe = app.CreateClient();
                address = probe.BaseAddress!;
            }
            host.Started(address, _kestrel);
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }
}
