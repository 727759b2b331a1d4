using LlmServer.Services.Accounting;

namespace LlmServer.Tests.Infrastructure;

/// <summary>
/// The ledger as a test sees it: every row the server hands to its usage sink, kept in memory, and a wake-up for
/// each new row so a test waits for the row it expects instead of polling a database.
/// </summary>
public sealed class CapturingUsageSink : IUsageSink
{
    /// <summary>Bound on waiting for a row that should come (a failure bound, not a timing assertion).</summary>
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(15);

    private readonly Lock _gate = new();
    private readonly List<UsageRecord> _records = [];
    private TaskCompletionSource _changed = NewSignal();

    /// <summary>Every row recorded since the last <see cref="Clear"/>, in order.</summary>
    public IReadOnlyList<UsageRecord> Records
    {
        get
        {
            lock (_gate) return _records.ToArray();
        }
    }

    public void Record(UsageRecord record)
    {
        TaskCompletionSource woken;
        lock (_gate)
        {
            _records.Add(record);
            woken = _changed;
            _changed = NewSignal();
        }
        woken.TrySetResult();
    }

    public void Clear()
    {
        lock (_gate) _records.Clear();
    }

    /// <summary>The first row matching <paramref name="match"/>, waiting for it when it is not recorded yet.</summary>
    public async Task<UsageRecord> WaitForAsync(Func<UsageRecord, bool> match)
    {
        var rows = await WaitUntilAsync(rows => rows.Any(match), "no matching usage record");
        return rows.First(match);
    }

    /// <summary>All rows once there are at least <paramref name="count"/>.</summary>
    public Task<IReadOnlyList<UsageRecord>> WaitForCountAsync(int count) =>
        WaitUntilAsync(rows => rows.Count >= count, $"fewer than {count} usage records");

    private async Task<IReadOnlyList<UsageRecord>> WaitUntilAsync(Func<IReadOnlyList<UsageRecord>, bool> done, string failure)
    {
        using var patience = new CancellationTokenSource(s_patience);
        while (true)
        {
            Task changed;
            IReadOnlyList<UsageRecord> rows;
            lock (_gate)
            {
                rows = _records.ToArray();
                changed = _changed.Task;
            }
            if (done(rows)) return rows;
            try
            {
                await changed.WaitAsync(patience.Token);
            }
            catch (OperationCanceledException)
            {
                throw new AssertionException($"{failure}; recorded: {string.Join(", ", rows.Select(r => $"{r.Route} {r.Status} {r.ErrorCode}"))}");
            }
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
