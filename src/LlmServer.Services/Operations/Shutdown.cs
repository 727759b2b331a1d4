namespace LlmServer.Services.Operations;

/// <summary>LlmServer:Shutdown: how a stopping server (SIGTERM) treats the requests still running.</summary>
public sealed record ShutdownOptions
{
    public const string SectionName = "LlmServer:Shutdown";

    /// <summary>
    /// Seconds a stopping server keeps answering the requests it already has before it cancels them. Long enough
    /// for a first answer within the upstream timeouts (120 s); a stream still running then is cancelled and
    /// recorded as status 499 with error code <c>server_shutdown</c>.
    /// </summary>
    public int DrainSeconds { get; init; } = 130;
}

/// <summary>
/// Requests in progress on this instance. On shutdown the ledger writes its last rows only after every request
/// has finished or been cancelled, so a request cut by the end of the drain still leaves its row.
/// </summary>
public sealed class InFlightRequests
{
    private int _count;
    private TaskCompletionSource? _idle;

    /// <summary>Requests running now.</summary>
    public int Count => Volatile.Read(ref _count);

    public void Enter() => Interlocked.Increment(ref _count);

    public void Exit()
    {
        if (Interlocked.Decrement(ref _count) == 0)
        {
            Volatile.Read(ref _idle)?.TrySetResult();
        }
    }

    /// <summary>Completes when no request is running, or after <paramref name="limit"/>; true when idle.</summary>
    public async Task<bool> WaitForIdleAsync(TimeSpan limit)
    {
        var idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _idle, idle);
        if (Count <= 0)
        {
            return true;
        }
        var done = await Task.WhenAny(idle.Task, Task.Delay(limit)).ConfigureAwait(false);
        return done == idle.Task || Count <= 0;
    }
}
