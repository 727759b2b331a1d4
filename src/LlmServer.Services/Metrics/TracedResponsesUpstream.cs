using System.Runtime.CompilerServices;
using LlmServer.Services.Chat;

namespace LlmServer.Services.Metrics;

/// <summary>
/// Wraps the session chat API's upstream client so every call it makes is one client span with the GenAI
/// attributes (model labels, token usage), whichever client library sits underneath.
/// </summary>
/// <param name="inner">The client that does the work.</param>
/// <param name="telemetry">Spans and labels.</param>
/// <param name="ownsInner">True when this wrapper created <paramref name="inner"/> and so disposes it.</param>
public sealed class TracedResponsesUpstream(IResponsesUpstream inner, LlmServerTelemetry telemetry, bool ownsInner = false) : IResponsesUpstream, IDisposable
{
    /// <inheritdoc />
    public void Dispose()
    {
        if (ownsInner && inner is IDisposable d) d.Dispose();
    }

    /// <inheritdoc />
    public bool HasServerKey => inner.HasServerKey;

    /// <inheritdoc />
    public string Name => inner.Name;

    // NOTE: without a tracer provider each call goes straight to the inner client, with no wrapper state machine.

    /// <inheritdoc />
    public Task<UpstreamResult> CreateAsync(UpstreamRequest request, CancellationToken cancellationToken) =>
        LlmServerTelemetry.Enabled ? CreateTracedAsync(request, cancellationToken) : inner.CreateAsync(request, cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<UpstreamStreamEvent> StreamAsync(UpstreamRequest request, CancellationToken cancellationToken) =>
        LlmServerTelemetry.Enabled ? StreamTracedAsync(request, cancellationToken) : inner.StreamAsync(request, cancellationToken);

    private async Task<UpstreamResult> CreateTracedAsync(UpstreamRequest request, CancellationToken cancellationToken)
    {
        var span = telemetry.StartAttempt("chat", inner.Name == "azure" ? "azure_openai" : "openai", inner.Name, request.Model, null);
        try
        {
            var result = await inner.CreateAsync(request, cancellationToken).ConfigureAwait(false);
            telemetry.EndAttemptWithUsage(span, request.Model, result.Model, result.Usage.InputTokens, result.Usage.OutputTokens);
            return result;
        }
        catch (Exception e)
        {
            LlmServerTelemetry.EndAttempt(span, 0, e.GetType().Name);
            throw;
        }
    }

    private async IAsyncEnumerable<UpstreamStreamEvent> StreamTracedAsync(UpstreamRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var span = telemetry.StartAttempt("chat", inner.Name == "azure" ? "azure_openai" : "openai", inner.Name, request.Model, null);
        var ended = false;
        try
        {
            await foreach (var item in inner.StreamAsync(request, cancellationToken).ConfigureAwait(false))
            {
                if (item.Completed is { } done && !ended)
                {
                    telemetry.EndAttemptWithUsage(span, request.Model, done.Model, done.Usage.InputTokens, done.Usage.OutputTokens);
                    ended = true;
                }
                yield return item;
            }
        }
        finally
        {
            // NOTE: a stream that ended without its completed event (error, client gone) still ends its span.
            if (!ended) LlmServerTelemetry.EndAttempt(span, 0, "incomplete");
        }
    }

    /// <inheritdoc />
    public Task<UpstreamResult> GetAsync(string responseId, string? userApiKey, CancellationToken cancellationToken) =>
        inner.GetAsync(responseId, userApiKey, cancellationToken);
}
