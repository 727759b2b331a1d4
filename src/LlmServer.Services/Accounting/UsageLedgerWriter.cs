using System.Diagnostics;
using LlmServer.Services.Metrics;
using LlmServer.Services.Operations;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmServer.Services.Accounting;

/// <summary>
/// Drains <see cref="ChannelUsageSink"/> into <see cref="IUsageLedgerStore"/> in batches (by size or time).
/// On shutdown (SIGTERM) it writes every queued row before the host exits; a failed batch is retried, not lost.
/// </summary>
public sealed partial class UsageLedgerWriter(
    ChannelUsageSink sink,
    IUsageLedgerStore store,
    LlmServerMetrics metrics,
    IOptions<OperationsOptions> options,
    ILogger<UsageLedgerWriter> logger,
    InFlightRequests? inFlight = null) : BackgroundService
{
    /// <summary>
    /// How long the last drain waits for requests that the end of the host's drain cancelled: they unwind and
    /// record their rows within moments, and a stuck one must not hold the process.
    /// </summary>
    private static readonly TimeSpan CancelledRequestsGrace = TimeSpan.FromSeconds(10);

    private readonly int _batchSize = Math.Max(1, options.Value.Ledger.BatchSize);
    private readonly TimeSpan _flushInterval = TimeSpan.FromMilliseconds(Math.Max(1, options.Value.Ledger.FlushIntervalMs));
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var reader = sink.Reader;
        var batch = new List<UsageRecord>(_batchSize);
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                // NOTE: the batch fills by polling, not by awaiting each row: a reader parked on WaitToReadAsync is
                // woken (a thread-pool hop) by every single write, which under load cost more than the insert itself.
                var deadline = Stopwatch.GetTimestamp() + (long)(_flushInterval.TotalSeconds * Stopwatch.Frequency);
                try
                {
                    while (true)
                    {
                        while (batch.Count < _batchSize && reader.TryRead(out var record))
                        {
                            batch.Add(record);
                        }
                        var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
                        if (batch.Count >= _batchSize || left <= TimeSpan.Zero)
                        {
                            break;
                        }
                        await Task.Delay(left < PollInterval ? left : PollInterval, stoppingToken).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException)
                {
                    // Shutdown began: write what we have.
                }
                await WriteWithRetryAsync(batch, stoppingToken).ConfigureAwait(false);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        // NOTE: a batch in hand when shutdown began is written by WriteWithRetryAsync before we get here.
    }

    // NOTE: never disposed: some hosts call StopAsync again after disposing their services.
    private readonly SemaphoreSlim _drainGate = new(1, 1);

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (inFlight is not null && !await inFlight.WaitForIdleAsync(CancelledRequestsGrace).ConfigureAwait(false))
        {
            LogRequestsStillRunning(inFlight.Count);
        }
        // NOTE: hosts may call StopAsync more than once (factory dispose + lifetime); drain one at a time.
        await _drainGate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            await DrainAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _drainGate.Release();
        }
    }

    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        var batch = new List<UsageRecord>(_batchSize);
        var drained = 0;
        while (sink.Reader.TryRead(out var record))
        {
            batch.Add(record);
            if (batch.Count == _batchSize)
            {
                await WriteWithRetryAsync(batch, cancellationToken).ConfigureAwait(false);
                drained += batch.Count;
                batch.Clear();
            }
        }
        if (batch.Count > 0)
        {
            await WriteWithRetryAsync(batch, cancellationToken).ConfigureAwait(false);
            drained += batch.Count;
        }
        if (drained > 0)
        {
            LogDrained(drained);
        }
    }

    private async Task WriteWithRetryAsync(List<UsageRecord> batch, CancellationToken stoppingToken)
    {
        if (batch.Count == 0)
        {
            return;
        }
        var delay = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                // NOTE: the write itself is not cancelled by shutdown; shutdown is exactly when it must finish.
                await store.WriteBatchAsync(batch, CancellationToken.None).ConfigureAwait(false);
                metrics.RecordLedgerWritten(batch.Count);
                return;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogWriteFailed(ex, batch.Count, attempt);
                if (attempt >= 5 && stoppingToken.IsCancellationRequested)
                {
                    metrics.RecordLedgerDropped(batch.Count);
                    return;
                }
                try
                {
                    await Task.Delay(delay, stoppingToken.IsCancellationRequested ? CancellationToken.None : stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Writing {Count} usage rows failed (attempt {Attempt}); retrying.")]
    private partial void LogWriteFailed(Exception ex, int count, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} requests were still running when the usage ledger closed; their rows are not written.")]
    private partial void LogRequestsStillRunning(int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Usage ledger flushed {Count} queued rows on shutdown.")]
    private partial void LogDrained(int count);
}
