using System.Diagnostics;

namespace LlmServer.Services.Chat;

/// <summary>
/// How long a session chat request waited on its upstream (the SDK call, each read of its stream), so its ledger
/// row's overhead is the server's own time, as on /v1: the time since the request was taken, upstream excluded.
/// </summary>
internal sealed class UpstreamTime
{
    private long _ticks;

    /// <summary>Runs an upstream call, counting its time as upstream time however it ends.</summary>
    public Task<T> Wait<T>(Func<Task<T>> call) => Wait(() => new ValueTask<T>(call())).AsTask();

    /// <summary>Reads the next piece of an upstream stream (or makes the call), counting the wait as upstream time however it ends.</summary>
    public async ValueTask<T> Wait<T>(Func<ValueTask<T>> read)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            return await read();
        }
        finally
        {
            _ticks += Stopwatch.GetTimestamp() - start;
        }
    }

    /// <summary>The server's own time in ms since <paramref name="started"/> (a Stopwatch timestamp).</summary>
    public double OverheadMs(long started) =>
        Math.Max(0, Stopwatch.GetElapsedTime(started).TotalMilliseconds - Stopwatch.GetElapsedTime(0, _ticks).TotalMilliseconds);
}
