using LlmServer.Services.Routing;

namespace LlmServer.External.Upstreams;

/// <summary>Where a deployment's breaker stands.</summary>
public enum CircuitState
{
    /// <summary>Calls go through and their outcomes are counted.</summary>
    Closed,
    /// <summary>Failing: no call goes through until the break has passed.</summary>
    Open,
    /// <summary>The break has passed: one trial call decides between closed and open again.</summary>
    HalfOpen,
}

/// <summary>
/// One deployment's circuit breaker. It opens when failures reach <see cref="CircuitBreakerOptions.FailureRatio"/>
/// of at least <see cref="CircuitBreakerOptions.MinimumThroughput"/> calls within the sampling window (ten rolling
/// buckets), stays open for the break, then lets one trial call through: its success closes the circuit, its
/// failure opens it for another break. Time is the server's <see cref="TimeProvider"/>.
/// </summary>
internal sealed class CircuitBreaker
{
    private const int Buckets = 10;
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly double _failureRatio;
    private readonly int _minimumThroughput;
    private readonly long _bucketTicks;
    private readonly long _breakTicks;
    private readonly long[] _bucketIds = new long[Buckets];
    private readonly int[] _calls = new int[Buckets];
    private readonly int[] _failures = new int[Buckets];
    private CircuitState _state;
    private long _openUntil;
    private bool _trialInFlight;

    public CircuitBreaker(CircuitBreakerOptions options, TimeProvider time)
    {
        _time = time;
        _failureRatio = options.FailureRatio;
        _minimumThroughput = Math.Max(2, options.MinimumThroughput);
        _bucketTicks = Math.Max(1, (long)(Math.Max(0.5, options.SamplingSeconds) * time.TimestampFrequency / Buckets));
        _breakTicks = (long)(BreakDuration(options).TotalSeconds * time.TimestampFrequency);
        Array.Fill(_bucketIds, -1);
    }

    /// <summary>How long an opened circuit stays open.</summary>
    public static TimeSpan BreakDuration(CircuitBreakerOptions options) => TimeSpan.FromSeconds(Math.Max(0.5, options.BreakSeconds));

    /// <summary>The state now: an open circuit whose break has passed reads as half-open.</summary>
    public CircuitState State
    {
        get
        {
            lock (_lock)
            {
                return _state == CircuitState.Open && _time.GetTimestamp() >= _openUntil ? CircuitState.HalfOpen : _state;
            }
        }
    }

    /// <summary>True when a call may go out now (the trial call, when half-open); every true needs its <see cref="Exit"/>.</summary>
    public bool TryEnter()
    {
        lock (_lock)
        {
            switch (_state)
            {
                case CircuitState.Closed:
                    return true;
                case CircuitState.Open when _time.GetTimestamp() < _openUntil:
                    return false;
                case CircuitState.Open:
                    _state = CircuitState.HalfOpen;
                    _trialInFlight = true;
                    return true;
                default:
                    if (_trialInFlight) return false;
                    _trialInFlight = true;
                    return true;
            }
        }
    }

    /// <summary>Counts the outcome of a call that <see cref="TryEnter"/> let through.</summary>
    public void Exit(bool failed)
    {
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            if (_state == CircuitState.HalfOpen)
            {
                _trialInFlight = false;
                if (failed)
                {
                    Open(now);
                }
                else
                {
                    _state = CircuitState.Closed;
                    Array.Fill(_bucketIds, -1);
                }
                return;
            }
            if (_state != CircuitState.Closed) return;
            var id = now / _bucketTicks;
            var slot = (int)(id % Buckets);
            if (_bucketIds[slot] != id)
            {
                _bucketIds[slot] = id;
                _calls[slot] = 0;
                _failures[slot] = 0;
            }
            _calls[slot]++;
            if (!failed) return;
            _failures[slot]++;
            int calls = 0, failures = 0;
            for (var i = 0; i < Buckets; i++)
            {
                if (_bucketIds[i] <= id - Buckets) continue;
                calls += _calls[i];
                failures += _failures[i];
            }
            if (calls >= _minimumThroughput && failures >= _failureRatio * calls) Open(now);
        }
    }

    private void Open(long now)
    {
        _state = CircuitState.Open;
        _openUntil = now + _breakTicks;
        Array.Fill(_bucketIds, -1);
    }
}
