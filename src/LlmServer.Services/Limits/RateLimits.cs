using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using LlmServer.Services.Metrics;
using LlmServer.Services.Operations;
using Microsoft.Extensions.Options;

namespace LlmServer.Services.Limits;

/// <summary>The answer of a rate limit: allowed, or refused with the seconds to wait.</summary>
public readonly record struct RateLimitDecision(bool Allowed, int RetryAfterSeconds, string? Reason)
{
    public static readonly RateLimitDecision Allow = new(true, 0, null);
}

/// <summary>
/// Per-key requests-per-minute and tokens-per-minute in fixed one-minute windows. Local to the instance by
/// default; Redis (REDIS_URL) or PostgreSQL share the windows across instances.
/// </summary>
public interface IKeyRateLimiter
{
    /// <summary>
    /// Counts one request and <paramref name="tokens"/> (the prompt estimate) in the current minute; refused when
    /// either limit would be passed (nothing is counted then).
    /// </summary>
    Task<RateLimitDecision> TryAcquireAsync(string keyId, int? rpm, long? tpm, long tokens, CancellationToken cancellationToken);

    /// <summary>Adds tokens learned after the call (output tokens, or the prompt estimate's shortfall) to the current minute.</summary>
    Task AddTokensAsync(string keyId, long tokens, CancellationToken cancellationToken);
}

/// <summary>In-process fixed windows (one instance, or a per-instance share of a limit).</summary>
public sealed class LocalKeyRateLimiter(TimeProvider time) : IKeyRateLimiter
{
    private const long WindowMs = 60_000;
    private readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public Task<RateLimitDecision> TryAcquireAsync(string keyId, int? rpm, long? tpm, long tokens, CancellationToken cancellationToken)
    {
        if (rpm is null && tpm is null)
        {
            return Task.FromResult(RateLimitDecision.Allow);
        }
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var index = now / WindowMs;
        var window = _windows.GetOrAdd(keyId, static _ => new Window());
        var retryAfter = (int)Math.Ceiling(((index + 1) * WindowMs - now) / 1000.0);
        lock (window)
        {
            if (window.Index != index)
            {
                window.Index = index;
                window.Requests = 0;
                window.Tokens = 0;
            }
            if (rpm is int r && window.Requests + 1 > r)
            {
                return Task.FromResult(new RateLimitDecision(false, Math.Max(1, retryAfter), "rpm"));
            }
            // A single request larger than the whole tpm limit still goes through in an empty window.
            if (tpm is long t && window.Tokens > 0 && window.Tokens + tokens > t)
            {
                return Task.FromResult(new RateLimitDecision(false, Math.Max(1, retryAfter), "tpm"));
            }
            window.Requests++;
            window.Tokens += tokens;
        }
        return Task.FromResult(RateLimitDecision.Allow);
    }

    /// <inheritdoc />
    public Task AddTokensAsync(string keyId, long tokens, CancellationToken cancellationToken)
    {
        if (tokens != 0 && _windows.TryGetValue(keyId, out var window))
        {
            var index = time.GetUtcNow().ToUnixTimeMilliseconds() / WindowMs;
            lock (window)
            {
                if (window.Index == index)
                {
                    window.Tokens = Math.Max(0, window.Tokens + tokens);
                }
            }
        }
        return Task.CompletedTask;
    }

    private sealed class Window
    {
        public long Index = -1;
        public long Requests;
        public long Tokens;
    }
}

/// <summary>
/// The instance-wide concurrency limit with a short FIFO queue (System.Threading.RateLimiting.ConcurrencyLimiter).
/// </summary>
public sealed class GlobalConcurrencyLimiter : IDisposable
{
    private readonly ConcurrencyLimiter? _limiter;
    private readonly int _retryAfter;
    private readonly LlmServerMetrics _metrics;

    public GlobalConcurrencyLimiter(IOptions<OperationsOptions> options, LlmServerMetrics metrics)
    {
        var o = options.Value.RateLimits;
        _metrics = metrics;
        _retryAfter = Math.Max(1, o.GlobalRetryAfterSeconds);
        if (o.GlobalConcurrency > 0)
        {
            _limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
            {
                PermitLimit = o.GlobalConcurrency,
                QueueLimit = Math.Max(0, o.GlobalQueue),
                QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            });
        }
    }

    /// <summary>
    /// Waits for a slot (queued when all are busy). Null lease with a refusal when the queue is full.
    /// Dispose the lease when the request ends.
    /// </summary>
    public async ValueTask<(IDisposable? Lease, RateLimitDecision Decision)> AcquireAsync(CancellationToken cancellationToken)
    {
        if (_limiter is null)
        {
            return (null, RateLimitDecision.Allow);
        }
        var lease = await _limiter.AcquireAsync(1, cancellationToken).ConfigureAwait(false);
        if (lease.IsAcquired)
        {
            return (lease, RateLimitDecision.Allow);
        }
        lease.Dispose();
        _metrics.RecordRateLimited("concurrency");
        return (null, new RateLimitDecision(false, _retryAfter, "concurrency"));
    }

    public void Dispose() => _limiter?.Dispose();
}
