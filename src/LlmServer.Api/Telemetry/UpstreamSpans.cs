using System.Diagnostics;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Metrics;

namespace LlmServer.Api.Telemetry;

/// <summary>The client span of one raw-HTTP upstream call on the Anthropic-facing paths (passthrough and translated).</summary>
internal static class UpstreamSpans
{
    /// <summary>Starts the span when traces are recorded; null otherwise.</summary>
    public static Activity? Start(HttpContext context, MessagesUpstream upstream, HttpRequestMessage request)
    {
        if (!LlmServerTelemetry.Enabled || context.RequestServices.GetService<LlmServerTelemetry>() is not { } telemetry) return null;
        var kind = upstream.Dialect == UpstreamDialect.Anthropic ? "anthropic"
            : upstream.ApiKeyHeader == "api-key" ? "azure_openai" : "openai";
        return telemetry.StartAttempt("chat", kind, upstream.Name, upstream.Model, request.RequestUri);
    }

    /// <summary>
    /// Response headers arrived: a success is relayed, so its span stays open for the usage; any other status ends it.
    /// Returns the response for the caller to use.
    /// </summary>
    public static HttpResponseMessage Answered(Activity? span, HttpResponseMessage response)
    {
        var status = (int)response.StatusCode;
        if (response.IsSuccessStatusCode) LlmServerTelemetry.HoldAttempt(span, status);
        else LlmServerTelemetry.EndAttempt(span, status, null);
        return response;
    }

    /// <summary>The call failed before any response (unreachable, timed out, client gone).</summary>
    public static void Failed(Activity? span, bool timedOut) =>
        LlmServerTelemetry.EndAttempt(span, 0, timedOut ? "timeout" : "unreachable");
}
