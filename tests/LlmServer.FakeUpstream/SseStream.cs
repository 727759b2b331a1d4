using System.Text;
using Microsoft.AspNetCore.Http;

namespace LlmServer.FakeUpstream;

/// <summary>Writes server-sent events, flushing each, and plays stream faults (stall, cut).</summary>
internal sealed class SseStream
{
    private readonly HttpContext _ctx;
    private readonly Fault? _fault;
    private readonly FakeUpstreamServer _server;
    private int _sent;

    private SseStream(HttpContext ctx, FakeUpstreamServer server)
    {
        _ctx = ctx;
        _server = server;
        _fault = FakeUpstreamServer.CurrentFault(ctx);
    }

    public static async Task<SseStream> StartAsync(HttpContext ctx, FakeUpstreamServer server)
    {
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-cache";
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
        return new SseStream(ctx, server);
    }

    /// <summary>Sends one event; false when the stream must stop (cut, or the caller went away).</summary>
    public async Task<bool> SendAsync(string? eventName, string data)
    {
        try
        {
            if (_fault is { Kind: FaultKind.CutStream } && _sent == _fault.AfterChunks)
            {
                await _ctx.Response.Body.FlushAsync(_ctx.RequestAborted);
                _ctx.Abort();
                return false;
            }
            if (_fault is { Kind: FaultKind.EndStreamEarly } && _sent >= _fault.AfterChunks)
            {
                // NOTE: a clean end (chunked terminator) is read to the last byte, unlike a reset that can drop unread data.
                return false;
            }
            if (_fault is { Kind: FaultKind.StallMidStream } && _sent == _fault.AfterChunks)
            {
                await Task.Delay(_fault.Delay, _ctx.RequestAborted);
            }
            if (_sent > 0 && _server.ChunkDelay > TimeSpan.Zero)
            {
                await Task.Delay(_server.ChunkDelay, _ctx.RequestAborted);
            }
            var sb = new StringBuilder();
            if (eventName is not null) sb.Append("event: ").Append(eventName).Append('\n');
            sb.Append("data: ").Append(data).Append("\n\n");
            await _ctx.Response.WriteAsync(sb.ToString(), _ctx.RequestAborted);
            await _ctx.Response.Body.FlushAsync(_ctx.RequestAborted);
            _sent++;
            return true;
        }
        catch (OperationCanceledException)
        {
            _server.NoteAbortedOnce(_ctx);
            return false;
        }
        catch (IOException)
        {
            _server.NoteAbortedOnce(_ctx);
            return false;
        }
    }
}
