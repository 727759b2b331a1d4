using System.Diagnostics;
using LlmServer.Services.Accounting;

namespace LlmServer.Services.Metrics;

/// <summary>
/// The "LlmServer" ActivitySource and the OpenTelemetry GenAI semantic-convention attributes: one client span per
/// upstream attempt, and the exchange's attributes on the server span (the ASP.NET Core request activity).
/// Model names go through <see cref="MetricLabels"/> like the metrics do, and no span ever carries prompt or
/// answer text, session ids or keys. Every method is a no-op when nothing listens (no tracer provider): the
/// source then hands out no activity and the hot path pays one null check.
/// </summary>
public sealed class LlmServerTelemetry(MetricLabels labels)
{
    /// <summary>The ActivitySource name to subscribe to.</summary>
    public const string SourceName = "LlmServer";

    private static readonly ActivitySource s_source = new(SourceName);

    // NOTE: an attempt whose answer is being relayed stays open until the exchange is recorded, so its usage
    // attributes and its end time describe the whole answer, streams included; the server span holds it until then.
    private const string HeldAttemptProperty = "llmserver.upstream_attempt";

    /// <summary>True when a tracer provider records this source (callers skip building span inputs otherwise).</summary>
    public static bool Enabled => s_source.HasListeners();

    /// <summary>The bounded labels (shared with the metrics).</summary>
    public MetricLabels Labels => labels;

    /// <summary>The GenAI operation name of a usage route or an upstream path ("chat/completions", "embeddings" ...).</summary>
    public static string OperationOf(string? routeOrPath) => routeOrPath switch
    {
        null => "chat",
        "embeddings" => "embeddings",
        "completions" => "text_completion",
        _ when routeOrPath.StartsWith("embeddings", StringComparison.Ordinal) => "embeddings",
        _ when routeOrPath.StartsWith("completions", StringComparison.Ordinal) => "text_completion",
        _ => "chat",
    };

    /// <summary>The GenAI provider name for an upstream kind.</summary>
    public static string ProviderOf(string kind) => kind switch
    {
        "openai" => "openai",
        "anthropic" => "anthropic",
        "azure_openai" => "azure.ai.openai",
        _ => kind,
    };

    /// <summary>Starts the client span of one upstream attempt, or returns null when nobody records traces.</summary>
    public Activity? StartAttempt(string operation, string upstreamKind, string upstreamName, string? model, Uri? endpoint)
    {
        if (!s_source.HasListeners()) return null;
        var attempt = s_source.StartActivity(operation, ActivityKind.Client);
        if (attempt is null) return null;
        var label = labels.KnownModel(model);
        var provider = ProviderOf(upstreamKind);
        attempt.DisplayName = operation + " " + label;
        attempt.SetTag("gen_ai.operation.name", operation);
        attempt.SetTag("gen_ai.provider.name", provider);
        attempt.SetTag("gen_ai.system", provider);
        attempt.SetTag("gen_ai.request.model", label);
        attempt.SetTag("llmserver.upstream", upstreamName);
        if (endpoint is not null)
        {
            attempt.SetTag("server.address", endpoint.Host);
            attempt.SetTag("server.port", endpoint.Port);
        }
        return attempt;
    }

    /// <summary>Ends an attempt that produced no answer to relay (refused, failed, retried).</summary>
    public static void EndAttempt(Activity? attempt, int status, string? errorType)
    {
        if (attempt is null) return;
        SetOutcome(attempt, status, errorType);
        attempt.Stop();
    }

    /// <summary>
    /// Keeps the attempt whose answer is relayed open until <see cref="RecordExchange"/> adds the usage and ends
    /// it. Without a parent span to hold it, it ends now.
    /// </summary>
    public static void HoldAttempt(Activity? attempt, int status)
    {
        if (attempt is null) return;
        SetOutcome(attempt, status, null);
        var parent = attempt.Parent;
        if (parent is null)
        {
            attempt.Stop();
            return;
        }
        if (parent.GetCustomProperty(HeldAttemptProperty) is Activity earlier && !ReferenceEquals(earlier, attempt)) earlier.Stop();
        parent.SetCustomProperty(HeldAttemptProperty, attempt);
    }

    /// <summary>Adds what the upstream reported to an attempt and ends it (session chat API calls).</summary>
    public void EndAttemptWithUsage(Activity? attempt, string? requestModel, string? responseModel, long inputTokens, long outputTokens)
    {
        if (attempt is null) return;
        SetOutcome(attempt, 200, null);
        if (ResponseModelLabel(requestModel, responseModel) is { } response) attempt.SetTag("gen_ai.response.model", response);
        attempt.SetTag("gen_ai.usage.input_tokens", inputTokens);
        attempt.SetTag("gen_ai.usage.output_tokens", outputTokens);
        attempt.Stop();
    }

    /// <summary>
    /// Puts the exchange's outcome on the current server span and on the attempt it holds (then ends that attempt).
    /// Called when the usage row is recorded, which every surface does once per exchange.
    /// </summary>
    public void RecordExchange(UsageRecord record)
    {
        var server = Activity.Current;
        if (server is null) return;
        // NOTE: the host starts an activity for every request even when no tracer records it; tags on it would be
        // per-request work nobody reads, so they go only on a span that is exported.
        if (server.IsAllDataRequested)
        {
            server.SetTag("gen_ai.operation.name", OperationOf(record.Route));
            server.SetTag("gen_ai.request.model", labels.Model(record.Model, record.Status));
            server.SetTag("llmserver.route", MetricLabels.Route(record.Route));
            SetUsage(server, record);
        }
        if (server.GetCustomProperty(HeldAttemptProperty) is Activity attempt)
        {
            server.SetCustomProperty(HeldAttemptProperty, null);
            SetUsage(attempt, record);
            if (record.Status >= 400) SetOutcome(attempt, record.Status, record.ErrorCode is null ? null : "llmserver." + record.ErrorCode);
            attempt.Stop();
        }
    }

    private static void SetUsage(Activity activity, UsageRecord record)
    {
        if (record.InputTokens > 0 || record.OutputTokens > 0)
        {
            activity.SetTag("gen_ai.usage.input_tokens", record.InputTokens);
            activity.SetTag("gen_ai.usage.output_tokens", record.OutputTokens);
        }
        if (record.CachedTokens > 0) activity.SetTag("gen_ai.usage.cache_read.input_tokens", record.CachedTokens);
    }

    private static void SetOutcome(Activity attempt, int status, string? errorType)
    {
        if (status > 0) attempt.SetTag("http.response.status_code", status);
        if (status >= 400 || errorType is not null)
        {
            attempt.SetTag("error.type", errorType ?? MetricLabels.Status(status));
            attempt.SetStatus(ActivityStatusCode.Error);
        }
    }

    /// <summary>
    /// The upstream's model name when it is a label already, or a dated snapshot of the requested model
    /// ("gpt-4o-mini-2024-07-18" for "gpt-4o-mini"); other names are left out, as an upstream may echo what the
    /// client sent.
    /// </summary>
    private string? ResponseModelLabel(string? requestModel, string? responseModel)
    {
        if (string.IsNullOrEmpty(responseModel)) return null;
        var known = labels.KnownModel(responseModel);
        if (!ReferenceEquals(known, MetricLabels.Unknown)) return known;
        var requested = labels.KnownModel(requestModel);
        return !ReferenceEquals(requested, MetricLabels.Unknown) && responseModel.Length <= requested.Length + 16
            && responseModel.StartsWith(requested + "-", StringComparison.Ordinal) ? responseModel : null;
    }
}
