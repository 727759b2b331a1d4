using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmServer.Services.Routing;

/// <summary>An upstream with its settings resolved (defaults applied, base URL normalised).</summary>
public sealed record UpstreamDefinition
{
    public required string Name { get; init; }
    public required string Kind { get; init; }
    /// <summary>Base URL without trailing slash, ending in /v1 for OpenAI-style upstreams.</summary>
    public required string BaseUrl { get; init; }
    public string? ApiKey { get; init; }
    /// <summary>azure_openai classic deployment style: the api-version sent on every call; null: the v1 style.</summary>
    public string? ApiVersion { get; init; }
    public TimeSpan ConnectTimeout { get; init; }
    public TimeSpan FirstByteTimeout { get; init; }
    public TimeSpan IdleTimeout { get; init; }
    public TimeSpan TotalTimeout { get; init; }
    public int MaxConnections { get; init; }
    /// <summary>True for an openai_compatible or openai upstream without configured models: what its /v1/models lists is served.</summary>
    public bool DiscoversModels { get; init; }
}

/// <summary>One place a model is served: an upstream and the name it knows the model by.</summary>
public sealed class Deployment
{
    public Deployment(UpstreamDefinition upstream, string upstreamModel, int weight)
    {
        Upstream = upstream;
        UpstreamModel = upstreamModel;
        UpstreamModelJson = Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(upstreamModel, RoutingJsonContext.Default.String));
        Weight = Math.Max(0, weight);
        Id = upstream.Name + "/" + upstreamModel;
    }

    /// <summary>upstream/model, the circuit breaker's key.</summary>
    public string Id { get; }
    public UpstreamDefinition Upstream { get; }
    public string Kind => Upstream.Kind;
    public string UpstreamModel { get; }
    /// <summary>The upstream model name as a JSON string token (quotes included), spliced into request bodies.</summary>
    public ReadOnlyMemory<byte> UpstreamModelJson { get; }
    public int Weight { get; }
}

/// <summary>A routable public model.</summary>
public sealed class ModelEntry
{
    public ModelEntry(string name, Deployment[] deployments, int? maxModelLen, long created)
    {
        Name = name;
        Deployments = deployments;
        MaxModelLen = maxModelLen;
        Created = created;
        TotalWeight = deployments.Sum(d => d.Weight);
    }

    public string Name { get; }
    public Deployment[] Deployments { get; }
    public int TotalWeight { get; }
    public int? MaxModelLen { get; }
    public long Created { get; }
    /// <summary>The upstream model name of the first deployment (vLLM's "root").</summary>
    public string Root => Deployments[0].UpstreamModel;
    public string OwnedBy => Deployments[0].Upstream.Kind == UpstreamKinds.OpenAiCompatible ? "vllm" : Deployments[0].Upstream.Kind;
}

/// <summary>The deployments to try for one request: <see cref="At"/>(0) first (weighted pick), then the others in order.</summary>
public readonly struct ModelRoute(ModelEntry model, int first)
{
    public ModelEntry Model { get; } = model;
    public int Count => Model.Deployments.Length;
    public Deployment At(int attempt) => Model.Deployments[(first + attempt) % Model.Deployments.Length];
}

/// <summary>A model an upstream reported on its /v1/models.</summary>
public sealed record DiscoveredModel(string Id, long Created, int? MaxModelLen);

/// <summary>Maps public model names and aliases to deployments.</summary>
public interface IModelRouter
{
    string DefaultModel { get; }
    IReadOnlyList<UpstreamDefinition> Upstreams { get; }
    /// <summary>Routable models (aliases not repeated), in configuration order.</summary>
    IReadOnlyList<ModelEntry> Models { get; }
    /// <summary>Resolves a public name or alias; null or empty means the default model.</summary>
    bool TryResolve(string? model, out ModelRoute route);
    /// <summary>Replaces what a discovering upstream serves.</summary>
    void SetDiscovered(string upstreamName, IReadOnlyList<DiscoveredModel> models);
    /// <summary>Upstreams whose last discovery failed (name to reason), for /health.</summary>
    IReadOnlyDictionary<string, string> DiscoveryFailures { get; }
    void SetDiscoveryFailure(string upstreamName, string? reason);
}

/// <inheritdoc />
public sealed partial class ModelRouter : IModelRouter
{
    private readonly GatewayOptions _options;
    private readonly Dictionary<string, UpstreamDefinition> _upstreams;
    private readonly Dictionary<string, IReadOnlyList<DiscoveredModel>> _discovered = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _failures = new();
    private readonly Lock _gate = new();
    private readonly long _startedAt;
    private volatile Table _table;
    private readonly (string Model, string Deployment)[] _azureModels;

    private sealed record Table(Dictionary<string, ModelEntry> ByName, IReadOnlyList<ModelEntry> Models);

    public ModelRouter(IOptions<GatewayOptions> options, IConfiguration configuration, TimeProvider time, ILogger<ModelRouter> logger)
    {
        _options = options.Value;
        _startedAt = time.GetUtcNow().ToUnixTimeSeconds();
        _azureModels = AzureOpenAiUpstream.Models(configuration).ToArray();
        Upstreams = BuildUpstreams(_options, configuration);
        _upstreams = Upstreams.ToDictionary(u => u.Name, StringComparer.Ordinal);
        _table = BuildTable();
        foreach (var u in Upstreams) LogUpstream(logger, u.Name, u.Kind, u.DiscoversModels);
    }

    public string DefaultModel => _options.DefaultModel;
    public IReadOnlyList<UpstreamDefinition> Upstreams { get; }
    public IReadOnlyList<ModelEntry> Models => _table.Models;
    public IReadOnlyDictionary<string, string> DiscoveryFailures => _failures;

    public bool TryResolve(string? model, out ModelRoute route)
    {
        if (string.IsNullOrEmpty(model)) model = _options.DefaultModel;
        if (!_table.ByName.TryGetValue(model, out var entry) || entry.Deployments.Length == 0)
        {
            if (!TryClaudeDefault(model, out entry))
            {
                route = default;
                return false;
            }
        }
        var first = 0;
        if (entry.Deployments.Length > 1 && entry.TotalWeight > 0)
        {
            var pick = Random.Shared.Next(entry.TotalWeight);
            for (var i = 0; i < entry.Deployments.Length; i++)
            {
                pick -= entry.Deployments[i].Weight;
                if (pick < 0) { first = i; break; }
            }
        }
        route = new ModelRoute(entry, first);
        return true;
    }

    /// <summary>
    /// With ANTHROPIC_API_KEY set (the implicit anthropic upstream) and no table entry, claude-* names go to it
    /// under their own name, so Claude clients work without a model table.
    /// </summary>
    private bool TryClaudeDefault(string model, out ModelEntry entry)
    {
        // NOTE: built per request, not cached: the names come from clients and a cache would grow without bound.
        if (model.StartsWith("claude-", StringComparison.OrdinalIgnoreCase)
            && _upstreams.TryGetValue(ImplicitAnthropic, out var anthropic) && anthropic.Kind == UpstreamKinds.Anthropic)
        {
            entry = new ModelEntry(model, [new Deployment(anthropic, model, 1)], null, _startedAt);
            return true;
        }
        entry = null!;
        return false;
    }

    public void SetDiscovered(string upstreamName, IReadOnlyList<DiscoveredModel> models)
    {
        lock (_gate)
        {
            _discovered[upstreamName] = models;
            _table = BuildTable();
        }
    }

    public void SetDiscoveryFailure(string upstreamName, string? reason)
    {
        if (reason is null) _failures.TryRemove(upstreamName, out _);
        else _failures[upstreamName] = reason;
    }

    private Table BuildTable()
    {
        var byName = new Dictionary<string, ModelEntry>(StringComparer.Ordinal);
        var list = new List<ModelEntry>();
        void Add(ModelEntry entry, IEnumerable<string> aliases)
        {
            if (!byName.TryAdd(entry.Name, entry)) return;
            list.Add(entry);
            foreach (var a in aliases) byName.TryAdd(a, entry);
        }
        foreach (var m in _options.Models)
        {
            var deployments = m.Deployments
                .Where(d => _upstreams.ContainsKey(d.Upstream))
                .Select(d => new Deployment(_upstreams[d.Upstream], string.IsNullOrEmpty(d.Model) ? m.Name : d.Model, d.Weight))
                .ToArray();
            if (deployments.Length > 0) Add(new ModelEntry(m.Name, deployments, m.MaxModelLen, _startedAt), m.Aliases);
        }
        foreach (var u in Upstreams)
        {
            if (u.DiscoversModels && u.Kind == UpstreamKinds.OpenAiCompatible)
            {
                if (_discovered.TryGetValue(u.Name, out var found))
                {
                    foreach (var d in found) Add(new ModelEntry(d.Id, [new Deployment(u, d.Id, 1)], d.MaxModelLen, d.Created), []);
                }
                continue;
            }
            var names = ExplicitModels(u);
            foreach (var name in names) Add(new ModelEntry(name, [new Deployment(u, name, 1)], null, _startedAt), []);
            if (u.Name == AzureOpenAiUpstream.ImplicitName && _options.Upstreams.All(o => o.Name != u.Name))
            {
                foreach (var (model, deployment) in _azureModels) Add(new ModelEntry(model, [new Deployment(u, deployment, 1)], null, _startedAt), []);
            }
        }
        // NOTE: what an OpenAI upstream lists beyond its configured models (a new release, a dated snapshot) comes
        // last, so a name another upstream serves by configuration or discovery keeps going there.
        foreach (var u in Upstreams)
        {
            if (u.DiscoversModels && u.Kind == UpstreamKinds.OpenAi && _discovered.TryGetValue(u.Name, out var listed))
            {
                foreach (var d in listed) Add(new ModelEntry(d.Id, [new Deployment(u, d.Id, 1)], d.MaxModelLen, d.Created), []);
            }
        }
        return new Table(byName, list);
    }

    private IEnumerable<string> ExplicitModels(UpstreamDefinition u)
    {
        var configured = _options.Upstreams.FirstOrDefault(o => o.Name == u.Name);
        if (configured is not null) return configured.Models;
        return u.Name switch
        {
            ImplicitOpenAi => _options.OpenAiModels,
            ImplicitAnthropic when u.Kind == UpstreamKinds.Anthropic => _options.AnthropicModels,
            _ => [],
        };
    }

    internal const string ImplicitOpenAi = "openai";
    internal const string ImplicitVllm = "vllm";
    internal const string ImplicitAnthropic = "anthropic";

    private static List<UpstreamDefinition> BuildUpstreams(GatewayOptions o, IConfiguration configuration)
    {
        var list = new List<UpstreamDefinition>();
        foreach (var u in o.Upstreams) list.Add(Resolve(u, o.Timeouts));
        void Implicit(string name, string kind, string section, string defaultBase)
        {
            if (list.Any(u => u.Name == name)) return;
            var key = configuration[$"LlmServer:{section}:ApiKey"];
            var baseUrl = configuration[$"LlmServer:{section}:BaseUrl"];
            var wanted = kind == UpstreamKinds.OpenAiCompatible ? !string.IsNullOrWhiteSpace(baseUrl) : !string.IsNullOrWhiteSpace(key);
            if (!wanted) return;
            list.Add(Resolve(new UpstreamOptions
            {
                Name = name, Kind = kind, ApiKey = string.IsNullOrWhiteSpace(key) ? null : key,
                BaseUrl = string.IsNullOrWhiteSpace(baseUrl) ? defaultBase : baseUrl,
                Timeouts = ProviderTimeouts(configuration[$"LlmServer:{section}:TimeoutSeconds"]),
            }, o.Timeouts));
        }
        Implicit(ImplicitOpenAi, UpstreamKinds.OpenAi, "OpenAi", "https://api.openai.com/v1");
        Implicit(ImplicitVllm, UpstreamKinds.OpenAiCompatible, "Vllm", "http://localhost:8001/v1");
        Implicit(ImplicitAnthropic, UpstreamKinds.Anthropic, "Anthropic", "https://api.anthropic.com");
        if (AzureOpenAiUpstream.Implicit(configuration) is { } azure && list.All(u => u.Name != azure.Name)) list.Add(Resolve(azure, o.Timeouts));
        return list;
    }

    /// <summary>
    /// A provider section's TimeoutSeconds (how long to wait for the answer to start, and between two stream
    /// events) as the first-byte and idle phases of the per-phase model; null when unset.
    /// </summary>
    private static UpstreamTimeouts? ProviderTimeouts(string? timeoutSeconds) =>
        double.TryParse(timeoutSeconds, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0
            ? new UpstreamTimeouts { FirstByteSeconds = s, IdleSeconds = s }
            : null;

    internal static UpstreamDefinition Resolve(UpstreamOptions u, UpstreamTimeouts d)
    {
        var t = u.Timeouts ?? new UpstreamTimeouts();
        static TimeSpan S(double? v, double? def, double fallback) => TimeSpan.FromSeconds(v ?? def ?? fallback);
        return new UpstreamDefinition
        {
            Name = u.Name,
            Kind = u.Kind,
            BaseUrl = u.Kind == UpstreamKinds.AzureOpenAi ? AzureOpenAiUpstream.NormaliseBaseUrl(u.BaseUrl, u.ApiVersion) : NormaliseBaseUrl(u.BaseUrl, u.Kind),
            ApiKey = string.IsNullOrWhiteSpace(u.ApiKey) ? null : u.ApiKey,
            ApiVersion = u.Kind == UpstreamKinds.AzureOpenAi && Chat.AzureOpenAiOptions.IsClassic(u.ApiVersion) ? u.ApiVersion!.Trim() : null,
            ConnectTimeout = S(t.ConnectSeconds, d.ConnectSeconds, 5),
            FirstByteTimeout = S(t.FirstByteSeconds, d.FirstByteSeconds, 60),
            IdleTimeout = S(t.IdleSeconds, d.IdleSeconds, 60),
            TotalTimeout = S(t.TotalSeconds, d.TotalSeconds, 600),
            MaxConnections = u.MaxConnections,
            // NOTE: an OpenAI upstream also learns what its /v1/models lists, its configured list being the fallback;
            // an Azure resource lists base models, not the deployments requests must name, so it is not asked.
            DiscoversModels = u.Kind is UpstreamKinds.OpenAiCompatible or UpstreamKinds.OpenAi && u.Models.Count == 0,
        };
    }

    /// <summary>Trims the trailing slash; an OpenAI-style base URL given without a path gets /v1.</summary>
    internal static string NormaliseBaseUrl(string baseUrl, string kind)
    {
        var trimmed = baseUrl.Trim().TrimEnd('/');
        if (kind != UpstreamKinds.Anthropic && Uri.TryCreate(trimmed, UriKind.Absolute, out var uri) && uri.AbsolutePath is "/" or "")
        {
            trimmed += "/v1";
        }
        return trimmed;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Gateway upstream {Name} ({Kind}){Discovery}")]
    private static partial void LogUpstreamCore(ILogger logger, string name, string kind, string discovery);

    private static void LogUpstream(ILogger logger, string name, string kind, bool discovers) =>
        LogUpstreamCore(logger, name, kind, discovers ? ", models from its /v1/models" : "");
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class RoutingJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
