using System.Buffers;
using System.Diagnostics;
using System.Text.Json.Nodes;
using LlmServer.Services.Dialects.OpenAi;
using LlmServer.Services.Exchange;
using LlmServer.Services.Pricing;
using LlmServer.Services.Routing;

namespace LlmServer.Api.Dialects.OpenAi;

internal sealed partial class OpenAiExchange
{
    /// <summary>
    /// /v1/chat/completions for a model anthropic upstreams serve: translated by <see cref="ChatCompletionsViaAnthropic"/>
    /// over the one transport (all the model's deployments); its chunks pass through <see cref="ViaAnthropicRelay"/>
    /// for usage, restore and the session turn on their way to the client.
    /// </summary>
    private async Task ViaAnthropicAsync(Call call, JsonObject body, ModelRoute route, RequestScan scan)
    {
        var ctx = call.Ctx;
        var dropUsage = false;
        if (scan.Stream && !scan.IncludeUsage)
        {
            // NOTE: ask the translator for the usage chunk (for the ledger) and drop it, as on the OpenAI path.
            body["stream_options"] = new JsonObject { ["include_usage"] = true };
            dropUsage = true;
        }
        var relay = new ViaAnthropicRelay(call.Restorer, dropUsage, call.Turn);
        var start = Stopwatch.GetTimestamp();
        ViaAnthropicOutcome? outcome = null;
        ExchangeError? failure = null;
        var gone = false;
        try
        {
            outcome = await viaAnthropic.HandleAsync(ctx, body, route, relay);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && ctx.RequestAborted.IsCancellationRequested)
        {
            gone = true;
        }
        catch (Services.Masking.MaskingFailedException e)
        {
            failure = steps.MaskingError(e, restoring: true);
            await DialectErrorWriter.WriteAsync(ctx, Dialect.OpenAi, failure!);
        }
        finally
        {
            // NOTE: translation is not separable from the upstream wait here; the whole call counts as upstream time.
            call.Feature.UpstreamTicks += Stopwatch.GetTimestamp() - start;
        }
        call.Deployment = outcome?.Deployment ?? route.At(0);
        call.X.Usage = relay.Usage;
        if (gone || outcome?.ClientGone == true || ctx.RequestAborted.IsCancellationRequested)
        {
            RecordGone(call);
            return;
        }
        if ((outcome?.Error ?? failure) is { } error)
        {
            Record(call, error.Status, error.Code);
            return;
        }
        call.Succeeded = ctx.Response.StatusCode == 200;
        Record(call, ctx.Response.StatusCode, null);
        if (call.Turn is not null && call.Succeeded) await sessions.StoreAsync(call.Turn);
    }
}

/// <summary>
/// The chat route's work on a translated answer: usage for the ledger (the usage chunk dropped when the client did
/// not ask for it), masked values restored (event by event; the tail held back is written before [DONE]), and the
/// session turn captured.
/// </summary>
internal sealed class ViaAnthropicRelay(OpenAiResponseRestorer? restorer, bool dropUsage, SessionMemory.Turn? turn) : IChatAnswerRelay
{
    public TokenUsage? Usage { get; private set; }

    public async ValueTask<ReadOnlyMemory<byte>> CompletionAsync(ReadOnlyMemory<byte> completion, CancellationToken cancellationToken)
    {
        var scan = UsageScanner.Scan(completion.Span, wantId: false);
        if (scan.HasUsage) Usage = scan.Usage;
        if (restorer is not null) completion = await restorer.RestoreBodyAsync(completion, cancellationToken);
        if (turn is not null) SessionMemory.CaptureCompletion(turn, completion.Span);
        return completion;
    }

    public async ValueTask ChunkAsync(ReadOnlyMemory<byte> frame, ReadOnlyMemory<byte> data, IBufferWriter<byte> output, CancellationToken cancellationToken)
    {
        if (data.Span.IndexOf("\"usage\""u8) >= 0)
        {
            var scan = UsageScanner.Scan(data.Span, wantId: false);
            if (scan.HasUsage)
            {
                Usage = scan.Usage;
                if (dropUsage && scan.ChoicesEmpty) return;
            }
        }
        var rewritten = restorer is null ? null : await restorer.RewriteEventAsync(frame, 0, data, cancellationToken);
        if (turn is not null)
        {
            if (rewritten is null) SessionMemory.CaptureDelta(turn, data.Span);
            else Capture(rewritten);
        }
        output.Write(rewritten is null ? frame.Span : rewritten);
    }

    public async ValueTask DoneAsync(ReadOnlyMemory<byte> frame, IBufferWriter<byte> output, CancellationToken cancellationToken)
    {
        if (restorer is not null && await restorer.FlushAllAsync(cancellationToken) is { } tail)
        {
            if (turn is not null) Capture(tail);
            output.Write(tail);
        }
        output.Write(frame.Span);
    }

    private void Capture(byte[] ev)
    {
        var d = ev.AsSpan().IndexOf("data: "u8);
        if (d < 0) return;
        var p = d + 6;
        var nl = ev.AsSpan(p).IndexOf((byte)'\n');
        SessionMemory.CaptureDelta(turn!, ev.AsSpan(p, nl < 0 ? ev.Length - p : nl));
    }
}
