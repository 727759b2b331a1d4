using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using LlmServer.Services.Metrics;
using LlmServer.Services.Routing;
using LlmServer.Services.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmServer.External.Upstreams;


/// <inheritdoc />
public sealed partial class UpstreamForwarder : IUpstreamForwarder
{
    private readonly UpstreamHttpClients _clients;
    private readonly UpstreamProtocols _protocols;
    private readonly GatewayOptions _options;
    private readonly ILogger<UpstreamForwarder> _logger;
    private readonly LlmServerTelemetry? _telemetry;
    private readonly int _maxAttempts;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, CircuitBreaker> _breakers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string, string), Uri> _uris = new();

    private sealed class SendState(UpstreamRequest request, ModelRoute route, CancellationToken clientAborted)
    {
        public readonly UpstreamRequest Request = request;
        public readonly ModelRoute Route = route;
        public readonly CancellationToken ClientAborted = clientAborted;
        public int Next;
        public int Attempts;
        public long UpstreamTicks;
        public Deployment? Current;
    }

    public UpstreamForwarder(UpstreamHttpClients clients, UpstreamProtocols protocols, IOptions<GatewayOptions> options, ILogger<UpstreamForwarder> logger,
        TimeProvider time, LlmServerTelemetry? telemetry = null)
    {
        _time = time;
        _clients = clients;
        _telemetry = telemetry;
        _protocols = protocols;
        _options = options.Value;
        _logger = logger;
        _maxAttempts = Math.Clamp(_options.Retry.MaxAttempts, 1, 3);
    }

    public bool IsOpen(Deployment deployment) =>
        _breakers.TryGetValue(deployment.Id, out var b) && b.State == CircuitState.Open;

    /// <summary>
    /// Attempts until one is not retryable or the attempts are spent. Only failures before any byte reached the
    /// client are retryable (the adapters relay nothing before this returns); the wait is the upstream's
    /// Retry-After when it sent one within the cap, else exponential backoff with jitter.
    /// </summary>
    public async ValueTask<UpstreamResult> SendAsync(UpstreamRequest request, ModelRoute route, CancellationToken clientAborted)
    {
        var state = new SendState(request, route, clientAborted);
        UpstreamResult? result = null;
        Exception? error = null;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                result = await AttemptAsync(state).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                result = null;
                error = e;
                break;
            }
            if (attempt >= _maxAttempts || !result.Retryable) break;
            var delay = result.RetryAfter ?? Backoff(attempt);
            LogRetry(_logger, result.Deployment?.Id ?? "-", result.Outcome, result.UpstreamStatus, attempt + 1, delay.TotalMilliseconds);
            result.Dispose();
            result = null;
            if (delay <= TimeSpan.Zero) continue;
            try
            {
                await Task.Delay(delay, _time, clientAborted).ConfigureAwait(false);
            }
            catch (OperationCanceledException e)
            {
                error = e;
                break;
            }
        }
        result ??= clientAborted.IsCancellationRequested
            ? new UpstreamResult(UpstreamOutcome.ClientAborted, state.Current, clientAborted)
            : new UpstreamResult(UpstreamOutcome.Unreachable, state.Current, clientAborted) { Detail = error?.Message };
        result.UpstreamTicks = state.UpstreamTicks;
        result.Attempts = state.Attempts;
        if (result.Outcome is not (UpstreamOutcome.Ok or UpstreamOutcome.ClientError or UpstreamOutcome.ClientAborted))
        {
            LogGaveUp(_logger, result.Deployment?.Id ?? "-", result.Outcome, result.UpstreamStatus, state.Attempts, result.Detail);
        }
        return result;
    }

    /// <summary>Exponential from the base delay, capped, with ±20 % jitter so clients that failed together spread out.</summary>
    private TimeSpan Backoff(int attempt)
    {
        var r = _options.Retry;
        var exponential = Math.Min(Math.Max(r.MaxDelayMs, r.BaseDelayMs), r.BaseDelayMs * Math.Pow(2, attempt - 1));
        return TimeSpan.FromMilliseconds(exponential * (0.8 + 0.4 * Random.Shared.NextDouble()));
    }

    private async ValueTask<UpstreamResult> AttemptAsync(SendState s)
    {
        s.Attempts++;
        Deployment? chosen = null;
        CircuitBreaker? breaker = null;
        var speaking = 0;
        for (var i = 0; i < s.Route.Count; i++)
        {
            var d = s.Route.At(s.Next + i);
            // NOTE: a deployment whose upstream speaks another wire dialect is no failover target for this request.
            if (_protocols.For(d.Kind)?.Accepts(s.Request.Path) != true) continue;
            speaking++;
            var b = BreakerFor(d);
            if (b.State == CircuitState.Open) continue;
            chosen = d;
            breaker = b;
            s.Next += i + 1;
            break;
        }
        if (speaking == 0)
        {
            return new UpstreamResult(UpstreamOutcome.Unsupported, s.Route.At(0), s.ClientAborted)
            {
                Detail = $"no deployment of {s.Route.Model.Name} speaks the wire of {s.Request.Path}",
            };
        }
        if (chosen is null || breaker is null)
        {
            return new UpstreamResult(UpstreamOutcome.CircuitOpen, s.Route.At(0), s.ClientAborted)
            {
                Detail = "every deployment's circuit is open",
                RetryAfter = CircuitBreaker.BreakDuration(_options.CircuitBreaker),
            };
        }
        s.Current = chosen;
        if (!breaker.TryEnter())
        {
            // NOTE: the circuit opened, or its one trial call is out, between the state check and now; let the retry move on.
            return new UpstreamResult(UpstreamOutcome.CircuitOpen, chosen, s.ClientAborted)
            {
                Retryable = true,
                Detail = "circuit open",
                RetryAfter = CircuitBreaker.BreakDuration(_options.CircuitBreaker),
            };
        }
        var failed = false;
        try
        {
            var result = await SendOnceAsync(s).ConfigureAwait(false);
            failed = result.BreakerFailure;
            return result;
        }
        finally
        {
            breaker.Exit(failed);
        }
    }

    private CircuitBreaker BreakerFor(Deployment d) =>
        _breakers.GetOrAdd(d.Id, static (_, a) => new CircuitBreaker(a.CircuitBreaker, a.Time), (_options.CircuitBreaker, Time: _time));

    private Uri UriFor(IUpstreamProtocol protocol, Deployment d, UpstreamRequest request)
    {
        if (request.Method != HttpMethod.Post) return protocol.RequestUri(d.Upstream, d.UpstreamModel, request.Path);
        return _uris.GetOrAdd((d.Id, request.Path), static (key, a) => a.Protocol.RequestUri(a.Deployment.Upstream, a.Deployment.UpstreamModel, key.Item2),
            (Protocol: protocol, Deployment: d));
    }

    // NOTE: without a tracer provider the attempt goes straight to the send, with no extra async frame to allocate.
    private ValueTask<UpstreamResult> SendOnceAsync(SendState s) =>
        _telemetry is not null && LlmServerTelemetry.Enabled ? SendTracedAsync(_telemetry, s) : SendOnceCoreAsync(s);

    private async ValueTask<UpstreamResult> SendTracedAsync(LlmServerTelemetry telemetry, SendState s)
    {
        var d = s.Current!;
        var span = telemetry.StartAttempt(LlmServerTelemetry.OperationOf(s.Request.Path), d.Kind, d.Upstream.Name, s.Route.Model.Name, _protocols.For(d.Kind) is { } protocol ? UriFor(protocol, d, s.Request) : null);
        var result = await SendOnceCoreAsync(s).ConfigureAwait(false);
        if (result.Outcome is UpstreamOutcome.Ok or UpstreamOutcome.ClientError) LlmServerTelemetry.HoldAttempt(span, result.UpstreamStatus);
        else LlmServerTelemetry.EndAttempt(span, result.UpstreamStatus, result.Outcome.ToString());
        return result;
    }

    private async ValueTask<UpstreamResult> SendOnceCoreAsync(SendState s)
    {
        var d = s.Current!;
        var upstream = d.Upstream;
        var protocol = _protocols.For(d.Kind);
        if (protocol is null || !protocol.Accepts(s.Request.Path))
        {
            return new UpstreamResult(UpstreamOutcome.Unsupported, d, s.ClientAborted) { Detail = $"upstream kind {d.Kind} cannot serve {s.Request.Path}" };
        }
        var cts = CancellationTokenSource.CreateLinkedTokenSource(s.ClientAborted);
        var start = Stopwatch.GetTimestamp();
        var deadline = start + (long)(upstream.TotalTimeout.TotalSeconds * Stopwatch.Frequency);
        cts.CancelAfter(upstream.FirstByteTimeout < upstream.TotalTimeout ? upstream.FirstByteTimeout : upstream.TotalTimeout);
        using var message = new HttpRequestMessage(s.Request.Method, UriFor(protocol, d, s.Request))
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
            Content = s.Request.Body?.Create(d),
        };
        var ownCredentials = false;
        if (s.Request.Headers is { } headers)
        {
            foreach (var (name, value) in headers)
            {
                message.Headers.TryAddWithoutValidation(name, value);
                ownCredentials |= name.Equals("Authorization", StringComparison.OrdinalIgnoreCase) || name.Equals("x-api-key", StringComparison.OrdinalIgnoreCase);
            }
        }
        if (!ownCredentials) protocol.ApplyAuth(message.Headers, upstream);
        if (s.Request.Accept is { } accept) message.Headers.TryAddWithoutValidation("Accept", accept);
        HttpResponseMessage response;
        try
        {
            response = await _clients.For(upstream).SendAsync(message, cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (s.ClientAborted.IsCancellationRequested)
        {
            cts.Dispose();
            return new UpstreamResult(UpstreamOutcome.ClientAborted, d, s.ClientAborted);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            cts.Dispose();
            s.UpstreamTicks += Stopwatch.GetTimestamp() - start;
            return new UpstreamResult(UpstreamOutcome.Timeout, d, s.ClientAborted) { BreakerFailure = true, Detail = "no response headers within the first-byte timeout" };
        }
        catch (OperationCanceledException ex)
        {
            // NOTE: SocketsHttpHandler.ConnectTimeout surfaces as a cancellation that is not ours: a connect error.
            cts.Dispose();
            s.UpstreamTicks += Stopwatch.GetTimestamp() - start;
            return new UpstreamResult(UpstreamOutcome.Unreachable, d, s.ClientAborted) { Retryable = true, BreakerFailure = true, Detail = "connect timeout: " + ex.Message };
        }
        catch (HttpRequestException ex)
        {
            cts.Dispose();
            s.UpstreamTicks += Stopwatch.GetTimestamp() - start;
            var connect = ex.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError;
            return new UpstreamResult(UpstreamOutcome.Unreachable, d, s.ClientAborted) { Retryable = connect, BreakerFailure = true, Detail = ex.HttpRequestError + ": " + ex.Message };
        }
        s.UpstreamTicks += Stopwatch.GetTimestamp() - start;
        var status = (int)response.StatusCode;
        if (status is >= 200 and < 300 || (status is >= 400 and < 500 && status != 429))
        {
            var ok = new UpstreamResult(status < 300 ? UpstreamOutcome.Ok : UpstreamOutcome.ClientError, d, s.ClientAborted) { UpstreamStatus = status };
            ok.Attach(response, cts, deadline);
            return ok;
        }
        var retryAfter = RetryAfterOf(response);
        response.Dispose();
        cts.Dispose();
        if (status == 429)
        {
            var cap = TimeSpan.FromSeconds(_options.Retry.MaxRetryAfterSeconds);
            return new UpstreamResult(UpstreamOutcome.RateLimited, d, s.ClientAborted)
            {
                UpstreamStatus = 429,
                Retryable = retryAfter is null || retryAfter <= cap,
                RetryAfter = retryAfter,
                Detail = "429 from upstream",
            };
        }
        return new UpstreamResult(UpstreamOutcome.UpstreamError, d, s.ClientAborted)
        {
            UpstreamStatus = status,
            // NOTE: Anthropic's 529 (overloaded) is a 5xx like any other: retried, and counted by the breaker.
            Retryable = status >= 500,
            BreakerFailure = status >= 500,
            Detail = $"status {status} from upstream",
        };
    }

    private static TimeSpan? RetryAfterOf(HttpResponseMessage response)
    {
        var h = response.Headers.RetryAfter;
        if (h is null) return null;
        if (h.Delta is { } delta) return delta;
        if (h.Date is { } date) return date - DateTimeOffset.UtcNow is var d && d > TimeSpan.Zero ? d : TimeSpan.Zero;
        return null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream attempt on {Deployment} failed ({Outcome}, status {Status}); retry {Attempt} in {DelayMs} ms")]
    private static partial void LogRetry(ILogger logger, string deployment, UpstreamOutcome outcome, int status, int attempt, double delayMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "Upstream call on {Deployment} failed: {Outcome}, status {Status}, after {Attempts} attempt(s): {Detail}")]
    private static partial void LogGaveUp(ILogger logger, string deployment, UpstreamOutcome outcome, int status, int attempts, string? detail);
}
