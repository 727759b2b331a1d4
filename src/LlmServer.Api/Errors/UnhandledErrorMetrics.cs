using System.Diagnostics.Metrics;
using LlmServer.Services.Metrics;

namespace LlmServer.Api.Errors;

/// <summary>llmserver_unhandled_errors_total{route}: exceptions no specific mapping caught, on the LlmServer meter.</summary>
internal sealed class UnhandledErrorMetrics(LlmServerMetrics metrics)
{
    private readonly Counter<long> _errors = metrics.Meter.CreateCounter<long>("llmserver_unhandled_errors",
        description: "Requests that ended in an unexpected server error, by route (fixed set).");

    public void Count(string route) => _errors.Add(1, new KeyValuePair<string, object?>("route", route));
}
