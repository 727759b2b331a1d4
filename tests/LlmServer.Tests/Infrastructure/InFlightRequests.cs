using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace LlmServer.Tests.Infrastructure;

/// <summary>
/// Counts the requests the server is still handling. A response can reach the client before its handler has
/// finished (the ledger row and settlement come last), so "the server is idle" is the moment a test may say
/// what the ledger holds for the requests it sent.
/// </summary>
public sealed class InFlightRequests : IStartupFilter
{
    private readonly Lock _gate = new();
    private int _running;
    private TaskCompletionSource _idle = Completed();

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(async (context, inner) =>
        {
            Enter();
            try { await inner(context); }
            finally { Leave(); }
        });
        next(app);
    };

    /// <summary>Completes when no request is in the server (bounded: a stuck request fails the test).</summary>
    public async Task IdleAsync()
    {
        Task idle;
        lock (_gate) idle = _idle.Task;
        try
        {
            await idle.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            throw new AssertionException($"the server still handles {Volatile.Read(ref _running)} request(s)");
        }
    }

    private void Enter()
    {
        lock (_gate)
        {
            if (_running++ == 0) _idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    private void Leave()
    {
        TaskCompletionSource? done = null;
        lock (_gate)
        {
            if (--_running == 0) done = _idle;
        }
        done?.TrySetResult();
    }

    private static TaskCompletionSource Completed()
    {
        var t = new TaskCompletionSource();
        t.SetResult();
        return t;
    }
}
