using System.Diagnostics;
using System.Text.Json.Nodes;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Pricing;
using LlmServer.Services.Routing;

namespace LlmServer.Api.Proxy;

internal sealed partial class GatewayProxy
{
    /// <summary>
    /// /v1/chat/completions for a model an anthropic upstream serves: translated by <see cref="LlmServer.Api.Anthropic.ChatCompletionsViaAnthropic"/>,
    /// with its output passed through <see cref="ViaAnthropicCapture"/> for usage, restore and the session turn.
    /// </summary>
    private async Task ViaAnthropicAsync(Exchange x, JsonObject body, Deployment deployment, RequestScan scan, SessionMemory.Turn? turn)
    {
        var ctx = x.Ctx;
        var upstream = new MessagesUpstream(deployment.Upstream.Name, UpstreamDialect.Anthropic, deployment.Upstream.BaseUrl,
            deployment.Upstream.ApiKey, deployment.UpstreamModel, new ChatTranslationOptions());
        var dropUsage = false;
        if (scan.Stream && !scan.IncludeUsage)
        {
            // NOTE: ask the translator for the usage chunk (for the ledger) and drop it, as on the OpenAI path.
            body["stream_options"] = new JsonObject { ["include_usage"] = true };
            dropUsage = true;
        }
        var original = ctx.Response.Body;
        var capture = new ViaAnthropicCapture(original, ctx, x.Restorer, dropUsage, turn);
        ctx.Response.Body = capture;
        var start = Stopwatch.GetTimestamp();
        try
        {
            await viaAnthropic.HandleAsync(ctx, body, upstream);
            await capture.CompleteAsync();
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            capture.Error ??= "client_disconnected";
        }
        catch (IOException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            capture.Error ??= "client_disconnected";
        }
        catch (Services.Masking.MaskingFailedException)
        {
            LogMaskingFailed(logger, "restore");
            capture.Error ??= "masking_unavailable";
        }
        finally
        {
            ctx.Response.Body = original;
            // NOTE: translation is not separable from the upstream wait here; the whole call counts as upstream time.
            x.Feature.UpstreamTicks += Stopwatch.GetTimestamp() - start;
        }
        var status = ctx.RequestAborted.IsCancellationRequested && capture.Error is "client_disconnected" ? 499 : ctx.Response.StatusCode;
        string? error = capture.Error;
        if (status >= 400) error ??= status switch { 504 => "upstream_timeout", 429 => "rate_limit_exceeded", >= 500 => "upstream_error", _ => "upstream_client_error" };
        else if (error is not null && status < 400) status = error == "client_disconnected" ? 499 : 502;
        Record(x, deployment, status, capture.Usage, error);
        if (turn is not null && error is null && status == 200) await sessions.StoreAsync(turn);
    }
}

/// <summary>
/// Sits in place of the response body while the Anthropic translator writes: SSE chunks are restored and
/// forwarded event by event (flushed as they come), a plain JSON answer is held until complete, then restored.
/// Usage is read from what the translator produced.
/// </summary>
internal sealed class ViaAnthropicCapture(Stream inner, HttpContext ctx, OpenAiResponseRestorer? restorer, bool dropUsage, SessionMemory.Turn? turn) : WriteOnlyStream
{
    private readonly MemoryStream _pending = new();

    public TokenUsage? Usage { get; private set; }
    public string? Error { get; set; }

    private bool IsStream => ctx.Response.ContentType?.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) == true;

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _pending.Write(buffer.Span);
        if (IsStream) await DrainEventsAsync(cancellationToken);
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    /// <summary>After the translator returned: the plain answer (restored), or what is left of the stream.</summary>
    public async Task CompleteAsync()
    {
        if (IsStream)
        {
            await DrainEventsAsync(ctx.RequestAborted);
            if (_pending.Length > 0) await inner.WriteAsync(_pending.GetBuffer().AsMemory(0, (int)_pending.Length), ctx.RequestAborted);
            await inner.FlushAsync(ctx.RequestAborted);
            return;
        }
        ReadOnlyMemory<byte> body = _pending.GetBuffer().AsMemory(0, (int)_pending.Length);
        if (ctx.Response.StatusCode == 200)
        {
            var scan = UsageScanner.Scan(body.Span, wantId: false);
            if (scan.HasUsage) Usage = scan.Usage;
            if (restorer is not null) body = await restorer.RestoreBodyAsync(body, ctx.RequestAborted);
            if (turn is not null) SessionMemory.CaptureCompletion(turn, body.Span);
        }
        ctx.Response.ContentLength = body.Length;
        await inner.WriteAsync(body, ctx.RequestAborted);
    }

    private async Task DrainEventsAsync(CancellationToken cancellationToken)
    {
        var wrote = false;
        while (true)
        {
            var data = _pending.GetBuffer().AsMemory(0, (int)_pending.Length);
            var end = EventLength(data.Span);
            if (end == 0) break;
            var ev = data[..end].ToArray();
            var rest = data[end..].ToArray();
            _pending.SetLength(0);
            _pending.Write(rest);
            var output = await ProcessAsync(ev, cancellationToken);
            if (output.Length > 0)
            {
                await inner.WriteAsync(output, cancellationToken);
                wrote = true;
            }
        }
        if (wrote) await inner.FlushAsync(cancellationToken);
    }

    private async ValueTask<ReadOnlyMemory<byte>> ProcessAsync(byte[] ev, CancellationToken cancellationToken)
    {
        var d = ev.AsSpan().IndexOf("data:"u8);
        if (d < 0) return ev;
        var p = d + 5;
        if (p < ev.Length && ev[p] == ' ') p++;
        var nl = ev.AsSpan(p).IndexOf((byte)'\n');
        var len = nl < 0 ? ev.Length - p : nl;
        if (len > 0 && ev[p + len - 1] == '\r') len--;
        var payload = ev.AsMemory(p, len);
        if (payload.Span.SequenceEqual("[DONE]"u8))
        {
            var tail = restorer is null ? null : await restorer.FlushAllAsync(cancellationToken);
            if (tail is null) return ev;
            if (turn is not null) Capture(tail);
            return (byte[])[.. tail, .. ev];
        }
        if (payload.Span.IndexOf("\"error\""u8) >= 0 && payload.Span.IndexOf("\"choices\""u8) < 0) Error ??= "upstream_error";
        if (payload.Span.IndexOf("\"usage\""u8) >= 0)
        {
            var scan = UsageScanner.Scan(payload.Span, wantId: false);
            if (scan.HasUsage)
            {
                Usage = scan.Usage;
                if (dropUsage && scan.ChoicesEmpty) return ReadOnlyMemory<byte>.Empty;
            }
        }
        byte[]? rewritten = restorer is null ? null : await restorer.RewriteEventAsync(ev, d, payload, cancellationToken);
        if (turn is not null)
        {
            if (rewritten is null) SessionMemory.CaptureDelta(turn, payload.Span);
            else Capture(rewritten);
        }
        return rewritten ?? ev;
    }

    private void Capture(byte[] ev)
    {
        var d = ev.AsSpan().IndexOf("data: "u8);
        if (d < 0) return;
        var p = d + 6;
        var nl = ev.AsSpan(p).IndexOf((byte)'\n');
        SessionMemory.CaptureDelta(turn!, ev.AsSpan(p, nl < 0 ? ev.Length - p : nl));
    }

    private static int EventLength(ReadOnlySpan<byte> span)
    {
        var i = span.IndexOf("\n\n"u8);
        return i < 0 ? 0 : i + 2;
    }
}
