namespace LlmServer.Services.Routing;

/// <summary>Configuration section LlmServer:Gateway: upstreams, the model table, timeouts and resilience.</summary>
public sealed record GatewayOptions
{
    public const string SectionName = "LlmServer:Gateway";

    /// <summary>Model used when a request names none.</summary>
    public string DefaultModel { get; init; } = "gpt-4o-mini";

    /// <summary>Upstreams in addition to the implicit ones created from LlmServer:OpenAi, :Vllm, :Anthropic and :AzureOpenAi.</summary>
    public List<UpstreamOptions> Upstreams { get; init; } = [];

    /// <summary>Public model names (and aliases) mapped to deployments.</summary>
    public List<ModelOptions> Models { get; init; } = [];

    /// <summary>Models routed to the implicit OpenAI upstream (created when OPENAI_API_KEY is set) when the table does not name them.</summary>
    public List<string> OpenAiModels { get; init; } = [];

    /// <summary>
    /// Models the implicit Anthropic upstream (ANTHROPIC_API_KEY) lists on /v1/models, so a client that discovers
    /// models (Claude Code with gateway model discovery) sees them; any other claude-* name still routes there.
    /// </summary>
    public List<string> AnthropicModels { get; init; } = [];

    /// <summary>Default per-phase timeouts; an upstream may override each.</summary>
    public UpstreamTimeouts Timeouts { get; init; } = new();

    /// <summary>Retry policy (before any byte reached the client).</summary>
    public RetryOptions Retry { get; init; } = new();

    /// <summary>Circuit breaker per deployment.</summary>
    public CircuitBreakerOptions CircuitBreaker { get; init; } = new();

    /// <summary>How often openai_compatible upstreams without configured models are asked for their /v1/models.</summary>
    public int ModelRefreshSeconds { get; init; } = 60;

    /// <summary>Stored messages prepended for a request carrying x-session-id.</summary>
    public int SessionHistoryMessages { get; init; } = 20;

    /// <summary>Largest request body accepted, in bytes.</summary>
    public int MaxRequestBodyBytes { get; init; } = 32 * 1024 * 1024;
}

/// <summary>One upstream: where it is, how to authenticate, its own timeouts.</summary>
public sealed record UpstreamOptions
{
    /// <summary>Unique name, used by deployments and in logs (never in client-facing errors).</summary>
    public string Name { get; init; } = "";

    /// <summary>openai, azure_openai, openai_compatible or anthropic.</summary>
    public string Kind { get; init; } = UpstreamKinds.OpenAiCompatible;

    /// <summary>Base URL including /v1 (Azure: the resource endpoint https://RESOURCE.openai.azure.com, with or without /openai/v1).</summary>
    public string BaseUrl { get; init; } = "";

    /// <summary>Provider key (sent as Bearer, or api-key for azure_openai, x-api-key for anthropic). Never logged.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Models served under their own name (shorthand for a model table entry with one deployment).
    /// Empty on an openai_compatible upstream: its /v1/models is served.</summary>
    public List<string> Models { get; init; } = [];

    /// <summary>azure_openai only: "v1" (default, {endpoint}/openai/v1/...) or a dated api-version for the classic
    /// deployment style ({endpoint}/openai/deployments/{deployment}/...?api-version=...).</summary>
    public string? ApiVersion { get; init; }

    /// <summary>Overrides of the default timeouts.</summary>
    public UpstreamTimeouts? Timeouts { get; init; }

    /// <summary>Connection pool size (per upstream).</summary>
    public int MaxConnections { get; init; } = 512;

    /// <summary>
    /// openai_compatible only: how /v1/responses reaches it. "native" (default: vLLM serves /v1/responses) forwards it;
    /// "translate" answers it from /v1/chat/completions, the gateway keeping stored responses. An anthropic upstream always translates.
    /// </summary>
    public string ResponsesApi { get; init; } = ResponsesApiModes.Native;
}

/// <summary>Values of <see cref="UpstreamOptions.ResponsesApi"/>.</summary>
public static class ResponsesApiModes
{
    public const string Native = "native";
    public const string Translate = "translate";
}

/// <summary>Per-phase timeouts in seconds (null: use the gateway default).</summary>
public sealed record UpstreamTimeouts
{
    /// <summary>TCP/TLS connect.</summary>
    public double? ConnectSeconds { get; init; }
    /// <summary>Request sent until the response headers arrive.</summary>
    public double? FirstByteSeconds { get; init; }
    /// <summary>Longest silence between two reads of the response body (stream chunks).</summary>
    public double? IdleSeconds { get; init; }
    /// <summary>Whole exchange, body included.</summary>
    public double? TotalSeconds { get; init; }
}

/// <summary>A public model name and where it is served.</summary>
public sealed record ModelOptions
{
    public string Name { get; init; } = "";
    public List<string> Aliases { get; init; } = [];
    public List<DeploymentOptions> Deployments { get; init; } = [];
    /// <summary>Context length reported by /v1/models (max_model_len), when known.</summary>
    public int? MaxModelLen { get; init; }
}

/// <summary>One deployment of a model on an upstream.</summary>
public sealed record DeploymentOptions
{
    public string Upstream { get; init; } = "";
    /// <summary>The model name the upstream knows (defaults to the public name).</summary>
    public string? Model { get; init; }
    public int Weight { get; init; } = 1;
}

/// <summary>Retry before the first byte reached the client.</summary>
public sealed record RetryOptions
{
    /// <summary>Attempts in total (first try included), at most 3.</summary>
    public int MaxAttempts { get; init; } = 3;
    public int BaseDelayMs { get; init; } = 200;
    public int MaxDelayMs { get; init; } = 2000;
    /// <summary>A Retry-After longer than this is not waited for: the 429 goes to the client.</summary>
    public double MaxRetryAfterSeconds { get; init; } = 5;
}

/// <summary>Circuit breaker per deployment.</summary>
public sealed record CircuitBreakerOptions
{
    public double FailureRatio { get; init; } = 0.5;
    public int MinimumThroughput { get; init; } = 10;
    public double SamplingSeconds { get; init; } = 30;
    public double BreakSeconds { get; init; } = 15;
}

/// <summary>Upstream kinds as written in configuration.</summary>
public static class UpstreamKinds
{
    public const string OpenAi = "openai";
    public const string AzureOpenAi = "azure_openai";
    public const string OpenAiCompatible = "openai_compatible";
    public const string Anthropic = "anthropic";

    public static bool IsKnown(string kind) => kind is OpenAi or AzureOpenAi or OpenAiCompatible or Anthropic;
}
