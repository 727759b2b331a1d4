using System.Collections.Concurrent;
using System.Globalization;
using LlmServer.Services.Routing;

namespace LlmServer.Services.Metrics;

/// <summary>
/// Turns what a request carried into label values from bounded sets, so no client can grow the number of
/// series: a model is its own label only when the router serves it from its table (configured, alias,
/// discovered), or — for names routed by rule (claude-*) or sent straight to the session API's upstream — once
/// an upstream answered it with success, up to <see cref="MaxLearnedModels"/> such names. Everything else
/// counts under <see cref="Unknown"/>. Routes and statuses come from fixed lists.
/// </summary>
public sealed class MetricLabels
{
    /// <summary>The label of every model the server does not serve (and of a missing one).</summary>
    public const string Unknown = "unknown";

    /// <summary>The label of a route outside the fixed list.</summary>
    public const string OtherRoute = "other";

    /// <summary>Names learned from successful answers (not from the router's table) kept as their own label.</summary>
    public const int MaxLearnedModels = 50;

    private readonly IModelRouter? _router;
    // NOTE: only names that earned a label are kept, so the cache is bounded by the table plus MaxLearnedModels;
    // a hit is one dictionary lookup on the client's string and returns the same label instance every time.
    private readonly ConcurrentDictionary<string, string> _known = new(StringComparer.Ordinal);
    private int _learned;

    /// <summary>Uses the router's table when one is registered; without it only learned names get a label.</summary>
    public MetricLabels(IModelRouter? router = null) => _router = router;

    /// <summary>The model label for a request that asked for <paramref name="model"/> and ended with <paramref name="status"/>.</summary>
    public string Model(string? model, int status)
    {
        if (string.IsNullOrEmpty(model)) return Unknown;
        return _known.TryGetValue(model, out var label) ? label : Resolve(model, status);
    }

    /// <summary>The model label when the name has already been seen, without learning it (spans, upstream timings).</summary>
    public string KnownModel(string? model) =>
        !string.IsNullOrEmpty(model) && _known.TryGetValue(model, out var label) ? label : InTable(model) ? Remember(model!) : Unknown;

    private string Resolve(string model, int status)
    {
        if (InTable(model)) return Remember(model);
        if (status is >= 200 and < 400 && model.Length <= 128 && Interlocked.Increment(ref _learned) <= MaxLearnedModels)
        {
            return Remember(model);
        }
        return Unknown;
    }

    private bool InTable(string? model)
    {
        if (string.IsNullOrEmpty(model) || _router is null || !_router.TryResolve(model, out var route)) return false;
        // NOTE: names routed by rule resolve to a fresh entry that is not in the table; only table entries count.
        foreach (var entry in _router.Models)
        {
            if (ReferenceEquals(entry, route.Model)) return true;
        }
        return false;
    }

    private string Remember(string model) => _known.GetOrAdd(model, model);

    /// <summary>The route label: one of the usage routes, else <see cref="OtherRoute"/>.</summary>
    public static string Route(string? route) => route switch
    {
        "chat_completions" => "chat_completions",
        "completions" => "completions",
        "responses" => "responses",
        "embeddings" => "embeddings",
        "messages" => "messages",
        "count_tokens" => "count_tokens",
        "api_chat" => "api_chat",
        _ => OtherRoute,
    };

    private static readonly int[] s_exactStatuses = [200, 201, 202, 204, 400, 401, 403, 404, 405, 408, 409, 413, 415, 422, 429, 499, 500, 501, 502, 503, 504];

    private static readonly string[] s_statuses = BuildStatuses();

    /// <summary>The status label: the code itself for the codes the server answers with, else its class ("4xx"), else "other".</summary>
    public static string Status(int status) => (uint)status < (uint)s_statuses.Length ? s_statuses[status] : "other";

    private static string[] BuildStatuses()
    {
        var labels = new string[600];
        for (var i = 0; i < labels.Length; i++)
        {
            labels[i] = i < 100 ? "other" : (i / 100).ToString(CultureInfo.InvariantCulture) + "xx";
        }
        foreach (var code in s_exactStatuses)
        {
            labels[code] = code.ToString(CultureInfo.InvariantCulture);
        }
        return labels;
    }
}
