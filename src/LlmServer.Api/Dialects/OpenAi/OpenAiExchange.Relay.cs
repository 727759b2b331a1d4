using System.Buffers;
using System.Collections.Frozen;
using System.Diagnostics;
using LlmServer.Api.Pipeline;
using LlmServer.Services.Dialects.OpenAi;
using LlmServer.Services.Exchange;
using LlmServer.Services.Masking;
using LlmServer.Services.Pricing;
using LlmServer.Services.Streaming;
using LlmServer.Services.Transport;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace LlmServer.Api.Dialects.OpenAi;

internal sealed partial class OpenAiExchange
{
    private static readonly FrozenSet<string> s_skipHeaders = new[]
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length", "Server", "Date", "Set-Cookie", "Upgrade",
        "Proxy-Connection", "Proxy-Authenticate", "Alt-Svc", "Strict-Transport-Security", "Trailer", "TE", RequestGate.OverheadHeader,
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>A plain answer: read whole (bounded by the idle and total timeouts), checked, restored, relayed.</summary>
    private async Task RelayBodyAsync(Call call)
    {
        var ctx = call.Ctx;
        var x = call.X;
        var response = call.Result.Response!;
        var start = Stopwatch.GetTimestamp();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(response.Content.Headers.ContentLength is long cl and > 0 and < 64 * 1024 * 1024 ? (int)cl : 8192);
        var total = 0;
        try
        {
            try
            {
                await using var stream = await response.Content.ReadAsStreamAsync(call.Result.Token);
                while (true)
                {
                    if (total == buffer.Length)
                    {
                        var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, total).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }
                    call.Result.ArmRead();
                    var n = await stream.ReadAsync(buffer.AsMemory(total), call.Result.Token);
                    if (n == 0) break;
                    total += n;
                }
            }
            catch (OperationCanceledException) when (call.Result.CancelledByClient)
            {
                RecordGone(call);
                return;
            }
            catch (OperationCanceledException)
            {
                call.Feature.UpstreamTicks += Stopwatch.GetTimestamp() - start;
                LogBodyFailure(logger, call.Deployment?.Id ?? "-", "timeout while reading the body");
                await FailAsync(call, ExchangeErrors.UpstreamTimeout);
                return;
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException)
            {
                call.Feature.UpstreamTicks += Stopwatch.GetTimestamp() - start;
                LogBodyFailure(logger, call.Deployment?.Id ?? "-", ex.GetType().Name);
                await FailAsync(call, ExchangeErrors.UpstreamDisconnected);
                return;
            }
            call.Feature.UpstreamTicks += Stopwatch.GetTimestamp() - start;
            ReadOnlyMemory<byte> answer = buffer.AsMemory(0, total);
            var ok = call.Result.Outcome == UpstreamOutcome.Ok;
            if (ok && IsJson(response))
            {
                var usage = UsageScanner.Scan(answer.Span, wantId: x.Surface == ExchangeSurface.Responses);
                if (!usage.Valid)
                {
                    LogBodyFailure(logger, call.Deployment?.Id ?? "-", "the upstream answered 2xx with invalid JSON");
                    await FailAsync(call, ExchangeErrors.UpstreamInvalidResponse);
                    return;
                }
                if (usage.HasUsage) x.Usage = usage.Usage;
                if (usage.Id is { } id && call.StoresResponse && call.Deployment is { } d)
                {
                    await storedResponses.RecordAsync(id, x.Owner, d, x.Masking);
                }
                if (call.Restorer is not null)
                {
                    try
                    {
                        answer = await call.Restorer.RestoreBodyAsync(answer, ctx.RequestAborted);
                    }
                    catch (MaskingFailedException e)
                    {
                        await FailAsync(call, steps.MaskingError(e, restoring: true)!);
                        return;
                    }
                }
                if (call.Turn is not null) SessionMemory.CaptureCompletion(call.Turn, answer.Span);
            }
            ctx.Response.StatusCode = (int)response.StatusCode;
            CopyHeaders(response, ctx.Response);
            ctx.Response.ContentLength = answer.Length;
            call.Succeeded = ok;
            Record(call, ctx.Response.StatusCode, ok ? null : "upstream_client_error");
            // NOTE: the answer is complete: store the turn before the client sees it, so its next turn finds it.
            if (call.Turn is not null && ok) await sessions.StoreAsync(call.Turn);
            try
            {
                await ctx.Response.Body.WriteAsync(answer, ctx.RequestAborted);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException && ctx.RequestAborted.IsCancellationRequested)
            {
                // NOTE: the client left while we wrote; not a server error.
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static bool IsJson(HttpResponseMessage response) =>
        response.Content.Headers.ContentType?.MediaType is { } m && m.Contains("json", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// A streamed answer, event by event: each complete SSE event is inspected (usage, the final event, a stored
    /// response id), restored when masked values need putting back, written and flushed as it arrives.
    /// </summary>
    private async Task RelayStreamAsync(Call call, bool dropUsageChunk)
    {
        var ctx = call.Ctx;
        var x = call.X;
        var result = call.Result;
        var response = result.Response!;
        ctx.Response.StatusCode = (int)response.StatusCode;
        CopyHeaders(response, ctx.Response);
        ctx.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var writer = ctx.Response.BodyWriter;
        var client = new SseRelayWriter(ctx);
        var dialect = x.Surface == ExchangeSurface.Responses && !call.AnswersViaChat ? Dialect.OpenAiResponses : Dialect.OpenAi;
        var terminal = false;
        var stored = false;
        ExchangeError? failure = null;
        var gone = false;
        try
        {
            await ctx.Response.StartAsync(ctx.RequestAborted);
            await using var stream = await response.Content.ReadAsStreamAsync(result.Token);
            using var events = new SseReader(stream);
            while (true)
            {
                result.ArmRead();
                bool more;
                try
                {
                    more = await client.ReadAsync(events, result.Token);
                }
                catch (OperationCanceledException) when (result.CancelledByClient)
                {
                    gone = true;
                    break;
                }
                catch (OperationCanceledException)
                {
                    LogBodyFailure(logger, call.Deployment?.Id ?? "-", result.TotalTimeoutReached ? "total timeout mid-stream" : "idle timeout mid-stream");
                    failure = ExchangeErrors.UpstreamStalled;
                    break;
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException or InvalidDataException)
                {
                    LogBodyFailure(logger, call.Deployment?.Id ?? "-", ex.GetType().Name);
                    failure = ex is InvalidDataException ? ExchangeErrors.UpstreamInvalidResponse : ExchangeErrors.UpstreamDisconnected;
                    break;
                }
                if (client.ClientGone)
                {
                    gone = true;
                    break;
                }
                if (!more)
                {
                    if (!terminal)
                    {
                        LogBodyFailure(logger, call.Deployment?.Id ?? "-", "the stream ended without its final event");
                        failure = ExchangeErrors.UpstreamDisconnected;
                    }
                    break;
                }
                var ev = events.Raw;
                var wasTerminal = terminal;
                var write = Inspect(call, ev.Span, events.Data.Span, dialect == Dialect.OpenAiResponses, dropUsageChunk, call.Restorer is null ? call.Turn : null, ref terminal);
                var output = ev;
                if (write && call.Restorer is not null) output = await RestoreEventAsync(call.Restorer, ev, call.Turn, ctx.RequestAborted);
                if (call.ResponseId is { } responseId && call.Deployment is { } deployment)
                {
                    // NOTE: before the final event reaches the client, so a retrieval right after it finds the record.
                    call.ResponseId = null;
                    await storedResponses.RecordAsync(responseId, x.Owner, deployment, x.Masking);
                }
                if (call.Turn is not null && terminal && !wasTerminal)
                {
                    // NOTE: the answer is complete: store the turn before the client sees the end, so its next turn finds it.
                    stored = true;
                    await sessions.StoreAsync(call.Turn);
                }
                if (write) client.Write(output.Span);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && ctx.RequestAborted.IsCancellationRequested)
        {
            gone = true;
        }
        catch (MaskingFailedException e)
        {
            failure = steps.MaskingError(e, restoring: true);
        }
        if (gone)
        {
            Record(call, ExchangeErrors.ClientClosedStatus, ExchangeErrors.ClientDisconnected);
            return;
        }
        if (failure is not null)
        {
            // NOTE: the stream has started: the error is its last event, and the ledger keeps the status the
            // client would have got had it not started.
            Record(call, failure.Status, failure.Code);
            try
            {
                writer.Write(DialectErrorWriter.StreamEvent(dialect, failure));
                await writer.FlushAsync(ctx.RequestAborted);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
            }
            return;
        }
        await client.FlushAsync();
        call.Succeeded = true;
        Record(call, ctx.Response.StatusCode, null);
        if (call.Turn is not null && terminal && !stored) await sessions.StoreAsync(call.Turn);
    }

    /// <summary>One event with originals restored (a held-back tail goes out before [DONE] as its own chunk).</summary>
    private static async ValueTask<ReadOnlyMemory<byte>> RestoreEventAsync(OpenAiResponseRestorer restorer, ReadOnlyMemory<byte> ev, SessionMemory.Turn? turn, CancellationToken cancellationToken)
    {
        var (dataOffset, payloadStart, payloadLength) = SseFraming.LocateData(ev.Span);
        if (dataOffset < 0) return ev;
        var payload = ev.Slice(payloadStart, payloadLength);
        if (payload.Span.SequenceEqual("[DONE]"u8))
        {
            var tail = await restorer.FlushAllAsync(cancellationToken);
            if (tail is null) return ev;
            if (turn is not null) CaptureFrom(turn, tail);
            var both = new byte[tail.Length + ev.Length];
            tail.CopyTo(both, 0);
            ev.Span.CopyTo(both.AsSpan(tail.Length));
            return both;
        }
        var rewritten = await restorer.RewriteEventAsync(ev, dataOffset, payload, cancellationToken);
        if (turn is not null)
        {
            if (rewritten is null) SessionMemory.CaptureDelta(turn, payload.Span);
            else CaptureFrom(turn, rewritten);
        }
        return rewritten ?? ev;
    }

    private static void CaptureFrom(SessionMemory.Turn turn, byte[] ev)
    {
        var (_, start, length) = SseFraming.LocateData(ev);
        if (start >= 0) SessionMemory.CaptureDelta(turn, ev.AsSpan(start, length));
    }

    /// <summary>Inspects one event; false when it must not reach the client (the usage chunk it did not ask for).</summary>
    private static bool Inspect(Call call, ReadOnlySpan<byte> ev, ReadOnlySpan<byte> payload, bool responsesApi, bool dropUsageChunk, SessionMemory.Turn? turn, ref bool terminal)
    {
        if (payload.IsEmpty) return true;
        if (payload.SequenceEqual("[DONE]"u8))
        {
            terminal = true;
            return true;
        }
        if (responsesApi)
        {
            var isEnd = ev.IndexOf("\"response.completed\""u8) >= 0 || ev.IndexOf("\"response.incomplete\""u8) >= 0 || ev.IndexOf("\"response.failed\""u8) >= 0;
            if (isEnd)
            {
                terminal = true;
                var scan = UsageScanner.Scan(payload, wantId: true);
                if (scan.HasUsage) call.X.Usage = scan.Usage;
                if (call.StoresResponse) call.ResponseId = scan.Id;
            }
            return true;
        }
        if (turn is not null) SessionMemory.CaptureDelta(turn, payload);
        var u = payload.IndexOf("\"usage\""u8);
        if (u < 0) return true;
        var rest = payload[(u + 7)..].TrimStart(" \t:"u8);
        if (rest.Length == 0 || rest[0] != '{') return true;
        var chunk = UsageScanner.Scan(payload, wantId: false);
        if (!chunk.HasUsage) return true;
        call.X.Usage = chunk.Usage;
        return !(dropUsageChunk && chunk.ChoicesEmpty);
    }

    private static void CopyHeaders(HttpResponseMessage from, HttpResponse to)
    {
        foreach (var header in from.Headers.NonValidated)
        {
            if (!s_skipHeaders.Contains(header.Key)) to.Headers[header.Key] = ToStringValues(header.Value);
        }
        foreach (var header in from.Content.Headers.NonValidated)
        {
            if (!s_skipHeaders.Contains(header.Key)) to.Headers[header.Key] = ToStringValues(header.Value);
        }
    }

    private static StringValues ToStringValues(System.Net.Http.Headers.HeaderStringValues values)
    {
        if (values.Count == 1)
        {
            foreach (var v in values) return v;
        }
        return new StringValues(values.ToArray());
    }
}
