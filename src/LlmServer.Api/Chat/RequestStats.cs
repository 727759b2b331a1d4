using System.Diagnostics;

namespace LlmServer.Api.Chat;

/// <summary>Request counters and a latency sample window since start, for GET /api/v1/system/status.</summary>
public sealed class RequestStats
{
    // NOTE: a fixed ring of recent latencies keeps percentiles cheap and memory flat on a long-running server.
    private const int Window = 4096;
    private readonly double[] _latencies = new double[Window];
    private readonly Lock _lock = new();
    private long _requests;
    private long _clientErrors;
    private long _serverErrors;
    private long _samples;

    /// <summary>When the server started (UTC).</summary>
    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    /// <summary>Counts one finished request.</summary>
    public void Record(int status, double milliseconds)
    {
        Interlocked.Increment(ref _requests);
        if (status >= 500) Interlocked.Increment(ref _serverErrors);
        else if (status >= 400) Interlocked.Increment(ref _clientErrors);
        lock (_lock)
        {
            _latencies[_samples % Window] = milliseconds;
            _samples++;
        }
    }

    /// <summary>A consistent snapshot of the counters and p50/p95 latency in ms (null before any request).</summary>
    public (long Requests, long ClientErrors, long ServerErrors, double? P50, double? P95) Snapshot()
    {
        double[] copy;
        lock (_lock)
        {
            copy = _latencies.AsSpan(0, (int)Math.Min(_samples, Window)).ToArray();
        }
        Array.Sort(copy);
        return (Interlocked.Read(ref _requests), Interlocked.Read(ref _clientErrors), Interlocked.Read(ref _serverErrors),
            Percentile(copy, 0.50), Percentile(copy, 0.95));
    }

    private static double? Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? null : Math.Round(sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)], 2);
}
