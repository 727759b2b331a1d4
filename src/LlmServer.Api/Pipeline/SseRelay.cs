using System.Buffers;
using LlmServer.Services.Streaming;
using Microsoft.AspNetCore.Http.Features;

namespace LlmServer.Api.Pipeline;

/// <summary>Writing server-sent events to the client: no buffering anywhere on the way.</summary>
internal static class SseRelay
{
    /// <summary>Marks the response as an event stream that proxies must not buffer.</summary>
    public static void Start(HttpContext context, string contentType = "text/event-stream; charset=utf-8")
    {
        context.Response.ContentType ??= contentType;
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
    }
}

/// <summary>
/// The client side of one relayed stream. What the relay writes is sent when its next upstream read has to wait:
/// events that arrived together leave in one write, and none is held back while the upstream is quiet.
/// </summary>
internal sealed class SseRelayWriter(HttpContext context)
{
    private bool _unsent;

    /// <summary>True once a send found the client gone.</summary>
    public bool ClientGone { get; private set; }

    /// <summary>Queues bytes for the client.</summary>
    public void Write(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return;
        context.Response.BodyWriter.Write(bytes);
        _unsent = true;
    }

    /// <summary>Queues what <paramref name="buffer"/> holds, and empties it.</summary>
    public void Write(ArrayBufferWriter<byte> buffer)
    {
        Write(buffer.WrittenSpan);
        buffer.ResetWrittenCount();
    }

    /// <summary>
    /// The next upstream event; before waiting on the upstream, what was queued goes to the client. False at the
    /// end of the stream, or when the client is gone (<see cref="ClientGone"/>).
    /// </summary>
    public async ValueTask<bool> ReadAsync(SseReader reader, CancellationToken cancellationToken)
    {
        var next = reader.ReadAsync(cancellationToken);
        if (_unsent && !next.IsCompleted && !await FlushAsync())
        {
            await ObserveAsync(next);
            return false;
        }
        return await next;
    }

    /// <summary>Sends what is queued; false when the client is gone.</summary>
    public async ValueTask<bool> FlushAsync()
    {
        _unsent = false;
        try
        {
            var flush = await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
            if (!flush.IsCanceled && !flush.IsCompleted) return true;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
        }
        ClientGone = true;
        return false;
    }

    /// <summary>Waits out a read that is no longer wanted, so its buffer is not returned while it is being filled.</summary>
    private static async ValueTask ObserveAsync(ValueTask<bool> read)
    {
        try
        {
            await read;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException or InvalidDataException)
        {
        }
    }
}
