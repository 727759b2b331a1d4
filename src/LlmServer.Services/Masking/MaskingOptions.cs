using System.Text.RegularExpressions;

namespace LlmServer.Services.Masking;

/// <summary>What happens to sensitive values found in a request.</summary>
public enum MaskingPolicy
{
    /// <summary>Requests go upstream unchanged.</summary>
    Off,
    /// <summary>Values are replaced by typed placeholders (<c>&lt;&lt;EMAIL_1&gt;&gt;</c>) and restored in the answer.</summary>
    Mask,
    /// <summary>Values are replaced by irreversible tokens (<c>[REDACTED_EMAIL]</c>).</summary>
    Redact,
    /// <summary>A request holding any sensitive value is refused; the error lists the types found.</summary>
    Block,
}

/// <summary>The API surfaces masking applies to; each may override the global policy.</summary>
public enum MaskingRoute
{
    /// <summary>Anthropic <c>/v1/messages</c>.</summary>
    Messages,
    /// <summary>OpenAI <c>/v1/chat/completions</c>.</summary>
    ChatCompletions,
    /// <summary>OpenAI <c>/v1/responses</c>.</summary>
    Responses,
    /// <summary>OpenAI <c>/v1/completions</c>.</summary>
    Completions,
    /// <summary>Session chat API <c>/api/v1/chat</c>.</summary>
    ApiChat,
}

/// <summary>Where placeholder mappings live.</summary>
public enum MaskingVaultKind
{
    /// <summary>Process memory (default; lost on restart, not shared between instances).</summary>
    Memory,
    /// <summary>SQLite file under <c>LlmServer:Storage:DataDir</c>.</summary>
    Sqlite,
    /// <summary>Redis (chosen automatically when <c>REDIS_URL</c> / <c>LlmServer:Storage:RedisUrl</c> is set).</summary>
    Redis,
}

/// <summary>A detector defined in configuration.</summary>
public sealed record CustomDetectorOptions
{
    /// <summary>Placeholder type, upper case letters, digits and underscores (e.g. <c>EMPLOYEE_ID</c>).</summary>
    public string Type { get; init; } = "";

    /// <summary>.NET regex; must be supported by <see cref="RegexOptions.NonBacktracking"/> (no lookarounds or backreferences).
    /// A group named <c>v</c>, when present, is the part that gets masked.</summary>
    public string Pattern { get; init; } = "";

    /// <summary>Reject matches glued to an ASCII letter or digit on either side (default true).</summary>
    public bool AsciiBoundary { get; init; } = true;

    /// <summary>Case-insensitive matching.</summary>
    public bool IgnoreCase { get; init; }
}

/// <summary>Settings under <c>LlmServer:Masking</c>.</summary>
public sealed record MaskingOptions
{
    /// <summary>Configuration section.</summary>
    public const string SectionName = "LlmServer:Masking";

    /// <summary>Policy for every route without an override (env <c>LLMSERVER_MASKING</c>, which also clears overrides).</summary>
    public MaskingPolicy Policy { get; init; } = MaskingPolicy.Mask;

    /// <summary>Per-route overrides keyed by route: messages, chat_completions, responses, completions, api_chat.</summary>
    public Dictionary<string, MaskingPolicy> Routes { get; init; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Extra detectors.</summary>
    public List<CustomDetectorOptions> CustomDetectors { get; init; } = [];

    /// <summary>Exact values never masked (compared ordinally, case-insensitive).</summary>
    public List<string> AllowList { get; init; } = [];

    /// <summary>Built-in detector types to switch off (e.g. <c>IPV4</c>).</summary>
    public List<string> DisabledTypes { get; init; } = [];

    /// <summary>Where mappings are kept when no Redis URL is configured.</summary>
    public MaskingVaultKind Vault { get; init; } = MaskingVaultKind.Memory;

    /// <summary>How long an unused mapping scope lives (sliding).</summary>
    public TimeSpan VaultTtl { get; init; } = TimeSpan.FromHours(24);

    /// <summary>Resolves the policy of a route.</summary>
    public MaskingPolicy PolicyFor(MaskingRoute route) =>
        Routes.TryGetValue(RouteKey(route), out var p) ? p : Policy;

    /// <summary>The configuration key of a route.</summary>
    public static string RouteKey(MaskingRoute route) => route switch
    {
        MaskingRoute.Messages => "messages",
        MaskingRoute.ChatCompletions => "chat_completions",
        MaskingRoute.Responses => "responses",
        MaskingRoute.Completions => "completions",
        MaskingRoute.ApiChat => "api_chat",
        _ => throw new ArgumentOutOfRangeException(nameof(route)),
    };

    internal static readonly string[] KnownRouteKeys = ["messages", "chat_completions", "responses", "completions", "api_chat"];

    /// <summary>Returns the problems of this configuration (empty when valid).</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        foreach (var key in Routes.Keys)
        {
            if (!KnownRouteKeys.Contains(key, StringComparer.OrdinalIgnoreCase))
            {
                errors.Add($"LlmServer:Masking:Routes:{key} is not a route (use {string.Join(", ", KnownRouteKeys)}).");
            }
        }
        for (var i = 0; i < CustomDetectors.Count; i++)
        {
            var d = CustomDetectors[i];
            if (!Regex.IsMatch(d.Type, "^[A-Z][A-Z0-9_]{0,39}$") || d.Type.EndsWith('_'))
            {
                errors.Add($"LlmServer:Masking:CustomDetectors:{i}:Type must be upper case letters, digits and underscores.");
            }
            try
            {
                _ = new Regex(d.Pattern, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant);
                if (string.IsNullOrEmpty(d.Pattern))
                {
                    errors.Add($"LlmServer:Masking:CustomDetectors:{i}:Pattern is empty.");
                }
            }
            catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
            {
                errors.Add($"LlmServer:Masking:CustomDetectors:{i}:Pattern is not a linear-time regex: {ex.Message}");
            }
        }
        if (VaultTtl <= TimeSpan.Zero)
        {
            errors.Add("LlmServer:Masking:VaultTtl must be positive.");
        }
        return errors;
    }
}
