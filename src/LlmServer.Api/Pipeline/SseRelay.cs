using System.Buffers;
using Microsoft.AspNetCore.Http.Features;

namespace LlmServer.Api.Pipeline;

/// <summary>Writing server-sent events to the client: no buffering anywhere on the way, each event flushed as it is written.</summary>
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

    /// <summary>Writes what <paramref name="buffer"/> holds, flushes, and empties it.</summary>
    public static async Task WriteAsync(HttpContext context, ArrayBufferWriter<byte> buffer)
    {
        if (buffer.WrittenCount == 0) return;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
        buffer.ResetWrittenCount();
    }
}
