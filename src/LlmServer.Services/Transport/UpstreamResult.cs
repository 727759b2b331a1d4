using System.Diagnostics;
using LlmServer.Services.Routing;

namespace LlmServer.Services.Transport;

/// <summary>What happened to an upstream call; failures are values, not exceptions.</summary>
public enum UpstreamOutcome
{
    /// <summary>2xx: the response is ready to relay.</summary>
    Ok,
    /// <summary>A 4xx other than 429: relay it verbatim.</summary>
    ClientError,
    /// <summary>429 after the retries (or with a Retry-After beyond the cap).</summary>
    RateLimited,
    /// <summary>5xx after the retries.</summary>
    UpstreamError,
    /// <summary>Could not connect, or the connection broke before the response headers.</summary>
    Unreachable,
    /// <summary>First byte or total timeout.</summary>
    Timeout,
    /// <summary>Every deployment's circuit is open.</summary>
    CircuitOpen,
    /// <summary>The client went away.</summary>
    ClientAborted,
    /// <summary>The deployment's upstream cannot take this request (e.g. Anthropic before translation exists).</summary>
    Unsupported,
}

/// <summary>One upstream exchange: the response (when there is one) and the timers governing its body.</summary>
public sealed class UpstreamResult : IDisposable
{
    private CancellationTokenSource? _cts;
    private readonly CancellationToken _clientAborted;
    private long _deadline;
    private long _lastRead;
    private Timer? _idleTimer;
    private int _reads;

    public UpstreamResult(UpstreamOutcome outcome, Deployment? deployment, CancellationToken clientAborted)
    {
        Outcome = outcome;
        Deployment = deployment;
        _clientAborted = clientAborted;
    }

    public UpstreamOutcome Outcome { get; set; }
    public Deployment? Deployment { get; }
    public HttpResponseMessage? Response { get; private set; }
    /// <summary>Whether the retry policy may try again.</summary>
    public bool Retryable { get; init; }
    /// <summary>Counts as a failure for the deployment's circuit breaker.</summary>
    public bool BreakerFailure { get; init; }
    public int UpstreamStatus { get; init; }
    public TimeSpan? RetryAfter { get; init; }
    /// <summary>For the log only (may hold internal addresses).</summary>
    public string? Detail { get; init; }
    /// <summary>Stopwatch ticks spent waiting on the upstream (all attempts).</summary>
    public long UpstreamTicks { get; set; }
    public int Attempts { get; set; }

    /// <summary>Cancelled on client disconnect, idle gap or total timeout while reading the body.</summary>
    public CancellationToken Token => _cts?.Token ?? _clientAborted;

    public void Attach(HttpResponseMessage response, CancellationTokenSource cts, long deadline)
    {
        Response = response;
        _cts = cts;
        _deadline = deadline;
    }

    /// <summary>
    /// Arms the idle timer before a body read (bounded by the total deadline). The first reads re-arm the call's
    /// own timer; a plain answer takes one or two. A stream reads once per event, so from its third read on a
    /// read only notes its time, and one timer per answer checks, when it fires, whether the gap since the last
    /// read really reached the idle timeout, and otherwise waits out the rest.
    /// </summary>
    public void ArmRead()
    {
        if (_cts is null || Deployment is null) return;
        var now = Stopwatch.GetTimestamp();
        Volatile.Write(ref _lastRead, now);
        if (_idleTimer is not null) return;
        if (++_reads <= 2)
        {
            // NOTE: on the first read the first-byte timer gives way to the idle and total ones.
            var next = NextCheck(now);
            _cts.CancelAfter(next > TimeSpan.Zero ? next : TimeSpan.FromMilliseconds(1));
            return;
        }
        _cts.CancelAfter(Timeout.InfiniteTimeSpan);
        _idleTimer = new Timer(static state => ((UpstreamResult)state!).OnIdleTimer(), this, NextCheck(now), Timeout.InfiniteTimeSpan);
    }

    private TimeSpan NextCheck(long now)
    {
        var remaining = Stopwatch.GetElapsedTime(now, _deadline);
        var idle = Deployment!.Upstream.IdleTimeout - Stopwatch.GetElapsedTime(Volatile.Read(ref _lastRead), now);
        var next = remaining < idle ? remaining : idle;
        return next <= TimeSpan.Zero ? TimeSpan.Zero : next;
    }

    private void OnIdleTimer()
    {
        var next = NextCheck(Stopwatch.GetTimestamp());
        try
        {
            if (next > TimeSpan.Zero) _idleTimer?.Change(next, Timeout.InfiniteTimeSpan);
            else _cts?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // NOTE: the answer finished while the timer fired.
        }
    }

    /// <summary>After a cancelled read: the client left (true), or a timer fired (false).</summary>
    public bool CancelledByClient => _clientAborted.IsCancellationRequested;

    /// <summary>After a timer fired: total (true) or idle gap (false).</summary>
    public bool TotalTimeoutReached => Stopwatch.GetTimestamp() >= _deadline;

    public void Dispose()
    {
        Response?.Dispose();
        _idleTimer?.Dispose();
        _cts?.Dispose();
    }
}

/// <summary>Creates the request body for one deployment (the model name may differ per deployment).</summary>
public abstract class UpstreamBody
{
    /// <summary>The content to send to <paramref name="deployment"/>, or null for a bodiless request.</summary>
    public abstract HttpContent? Create(Deployment deployment);
}

/// <summary>An upstream request: which path under the upstream's base URL, and the body.</summary>
/// <param name="Method">GET or POST.</param>
/// <param name="Path">Relative to the base URL, without a leading slash: "chat/completions".</param>
/// <param name="Body">Body per deployment, or null.</param>
/// <param name="Accept">Accept header to send, or null.</param>
public sealed record UpstreamRequest(HttpMethod Method, string Path, UpstreamBody? Body, string? Accept)
{
    /// <summary>
    /// Headers of the client's request the upstream must see unchanged (anthropic-version, anthropic-beta on a
    /// passthrough). An Authorization or x-api-key here replaces the upstream's configured credentials (a caller's own key).
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>>? Headers { get; init; }
}
