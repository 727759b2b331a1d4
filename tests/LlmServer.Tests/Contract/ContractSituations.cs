using LlmServer.FakeUpstream;
using LlmServer.Services.Exchange;
using LlmServer.Tests.Unit.Masking;
using Microsoft.Extensions.Time.Testing;

namespace LlmServer.Tests.Contract;

/// <summary>The situations: each sets the fake (or a key, or the vault) up, sends the surface's request and returns what the contract expects next to what happened.</summary>
public sealed partial class ContractTests
{
    private const string UnknownModelName = "contract-no-such-model";
    /// <summary>How long the fake holds back: well past the 1 s timeouts of the resilience host, short enough that a surface without the timeout fails quickly.</summary>
    private static readonly TimeSpan s_longer = TimeSpan.FromSeconds(4);
    /// <summary>How long the fake holds back while the client goes away (the steady host's timeouts are 30 s).</summary>
    private static readonly TimeSpan s_untilCancelled = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(10);

    private async Task<Verdict> Upstream5xxThenOk(Surface s, bool stream)
    {
        _resilience.Fake.EnqueueFault(On(s, Fault.Http(503)), 2);
        return new(Observed.Expect(s.Dialect, null, upstreamCalls: 3), await ExchangeAsync(_resilience, s, s.Request(stream)));
    }

    private async Task<Verdict> Upstream5xxForever(Surface s, bool stream)
    {
        _resilience.Fake.EnqueueFault(On(s, Fault.Http(503)), 2 * MaxAttempts);
        return new(Observed.Expect(s.Dialect, ExchangeErrors.UpstreamFailed(503), upstreamCalls: MaxAttempts), await ExchangeAsync(_resilience, s, s.Request(stream)));
    }

    private async Task<Verdict> Upstream429(Surface s, bool stream)
    {
        _resilience.Fake.EnqueueFault(On(s, Fault.Http(429, retryAfter: "30")), 2 * MaxAttempts);
        return new(Observed.Expect(s.Dialect, ExchangeErrors.UpstreamRateLimited(s.Model, 30), upstreamCalls: 1), await ExchangeAsync(_resilience, s, s.Request(stream)));
    }

    private async Task<Verdict> FirstByteTimeout(Surface s, bool stream)
    {
        _resilience.Fake.EnqueueFault(On(s, Fault.Slow(s_longer)), MaxAttempts);
        return new(Observed.Expect(s.Dialect, ExchangeErrors.UpstreamTimeout, upstreamCalls: 1), await ExchangeAsync(_resilience, s, s.Request(stream)));
    }

    private async Task<Verdict> IdleTimeoutMidStream(Surface s, bool stream)
    {
        _resilience.Fake.EnqueueFault(On(s, Fault.Stall(s.ChunksThroughFirstText, s_longer)));
        return new(Observed.Expect(s.Dialect, ExchangeErrors.UpstreamStalled, upstreamCalls: 1, midStream: true), await ExchangeAsync(_resilience, s, s.Request(stream)));
    }

    private async Task<Verdict> ConnectionReset(Surface s, bool stream)
    {
        _resilience.Fake.EnqueueFault(On(s, Fault.ResetConnection()), MaxAttempts);
        return new(Observed.Expect(s.Dialect, ExchangeErrors.UpstreamUnreachable, upstreamCalls: 1), await ExchangeAsync(_resilience, s, s.Request(stream)));
    }

    private async Task<Verdict> MalformedBody(Surface s, bool stream)
    {
        _resilience.Fake.EnqueueFault(On(s, Fault.Malformed()));
        return new(Observed.Expect(s.Dialect, ExchangeErrors.UpstreamInvalidResponse, upstreamCalls: 1), await ExchangeAsync(_resilience, s, s.Request(stream)));
    }

    private async Task<Verdict> CutStream(Surface s, bool stream)
    {
        _resilience.Fake.EnqueueFault(On(s, Fault.EndEarly(s.ChunksThroughFirstText)));
        return new(Observed.Expect(s.Dialect, ExchangeErrors.UpstreamDisconnected, upstreamCalls: 1, midStream: true), await ExchangeAsync(_resilience, s, s.Request(stream)));
    }

    private async Task<Verdict> ClientDisconnect(Surface s, bool stream)
    {
        var host = _steady;
        // NOTE: the upstream holds the answer back (before its first byte, or once the client has its first text) until
        // the client has gone.
        host.Fake.EnqueueFault(On(s, stream ? Fault.Stall(s.ChunksThroughFirstText, s_untilCancelled) : Fault.Slow(s_untilCancelled)));
        using var http = host.Client();
        using var gone = new CancellationTokenSource();
        var sending = http.SendAsync(s.Request(stream), HttpCompletionOption.ResponseHeadersRead, gone.Token);
        await host.Fake.WaitForRequestAsync(r => r.Method == "POST", s_patience);
        HttpResponseMessage? started = null;
        // NOTE: while the upstream holds back the rest, what it already sent must be in front of the client.
        var sawAnEvent = !stream;
        if (stream)
        {
            try
            {
                started = await sending.WaitAsync(s_patience);
                using var firstChunk = CancellationTokenSource.CreateLinkedTokenSource(gone.Token);
                firstChunk.CancelAfter(s_patience);
                using var reader = new StreamReader(await started.Content.ReadAsStreamAsync(firstChunk.Token));
                while (await reader.ReadLineAsync(firstChunk.Token) is { } line)
                {
                    if (!line.StartsWith("data:", StringComparison.Ordinal)) continue;
                    sawAnEvent = true;
                    break;
                }
            }
            catch (Exception e) when (e is OperationCanceledException or TimeoutException or IOException or HttpRequestException)
            {
            }
        }
        await gone.CancelAsync();
        started?.Dispose();
        try { (await sending).Dispose(); }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException) { }
        var upstreamSawCancel = await host.Fake.WaitForAbortAsync(s_patience);
        await host.IdleAsync();
        var rows = new[] { $"{ExchangeErrors.ClientClosedStatus} {ExchangeErrors.ClientDisconnected}" };
        return new($"client-saw-an-event=True upstream-saw-cancel=True upstream-calls=1 ledger=[{string.Join(", ", rows)}]",
            $"client-saw-an-event={sawAnEvent} upstream-saw-cancel={upstreamSawCancel} upstream-calls={UpstreamCalls(host)} ledger=[{string.Join(", ", Ledger(host))}]");
    }

    private async Task<Verdict> CircuitOpen(Surface s, bool stream)
    {
        await using var host = await AllSurfaces().WithClock(new FakeTimeProvider(s_now)).WithSettings(c =>
        {
            c["LlmServer:Gateway:Retry:MaxAttempts"] = "1";
            c["LlmServer:Gateway:CircuitBreaker:MinimumThroughput"] = "2";
            c["LlmServer:Gateway:CircuitBreaker:FailureRatio"] = "0.5";
            c["LlmServer:Gateway:CircuitBreaker:SamplingSeconds"] = "60";
            c["LlmServer:Gateway:CircuitBreaker:BreakSeconds"] = BreakSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }).StartAsync();
        // NOTE: failing answers until the breaker opens (it needs two failures in its window); bounded, the last try shows why not.
        host.Fake.EnqueueFault(On(s, Fault.Http(503)), 10);
        using (var http = host.Client())
        {
            for (var i = 0; i < 4; i++)
            {
                using var response = await http.SendAsync(s.Request(stream));
                if ((int)response.StatusCode == 503) break;
            }
        }
        await host.IdleAsync();
        host.Reset();
        return new(Observed.Expect(s.Dialect, ExchangeErrors.UpstreamUnavailable(s.Model, BreakSeconds), upstreamCalls: 0), await ExchangeAsync(host, s, s.Request(stream)));
    }

    private async Task<Verdict> UnknownModel(Surface s, bool stream) =>
        new(Observed.Expect(s.Dialect, ExchangeErrors.ModelNotFound(UnknownModelName), upstreamCalls: 0),
            await ExchangeAsync(_resilience, s, s.Request(stream, model: UnknownModelName)));

    private async Task<Verdict> VaultDown(Surface s, bool stream) =>
        new(Observed.Expect(s.Dialect, ExchangeErrors.MaskingUnavailable, upstreamCalls: 0),
            await ExchangeAsync(_vaultDown, s, s.Request(stream, prompt: MaskingSessionTests.AwsScenario)));

    private async Task<Verdict> KeyRateLimit(Surface s, bool stream)
    {
        var key = await KeyAsync(new { name = "contract-rpm", rpm = 1 });
        await ExchangeAsync(_steady, s, s.Request(stream), key);
        var second = await ExchangeAsync(_steady, s, s.Request(stream), key, anyMessage: true);
        var limited = ExchangeErrors.RateLimited(60);
        var shown = s.Dialect == ContractDialect.Anthropic ? $"{limited.AnthropicType}: *" : limited.Code;
        return new(Observed.Line(429, limited.RetryAfterSeconds, shown, false, 1, ["200 -", $"429 {limited.Code}"]), second);
    }

    private async Task<Verdict> TotalBudget(Surface s, bool stream)
    {
        var key = await KeyAsync(new { name = "contract-total", budget = new { total_usd = 0.00001 } });
        return new(Observed.Expect(s.Dialect, ExchangeErrors.BudgetExceeded(null, null), upstreamCalls: 0, anyMessage: true),
            await ExchangeAsync(_steady, s, s.Request(stream, maxTokens: 1000), key, anyMessage: true));
    }

    private async Task<Verdict> MonthlyBudget(Surface s, bool stream)
    {
        var key = await KeyAsync(new { name = "contract-monthly", budget = new { monthly_usd = 0.00001 } });
        var firstOfNextMonth = new DateTimeOffset(s_now.Year, s_now.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1);
        var retryAfter = (long)(firstOfNextMonth - _steadyClock.GetUtcNow()).TotalSeconds;
        return new(Observed.Expect(s.Dialect, ExchangeErrors.BudgetExceeded(null, retryAfter), upstreamCalls: 0, anyMessage: true),
            await ExchangeAsync(_steady, s, s.Request(stream, maxTokens: 1000), key, anyMessage: true));
    }

    private async Task<Verdict> BadSessionId(Surface s, bool stream) =>
        new(Observed.Expect(s.Dialect, ExchangeErrors.InvalidSessionId("x-session-id"), upstreamCalls: 0),
            await ExchangeAsync(_resilience, s, s.Request(stream, sessionId: new string('s', ExchangeErrors.MaxSessionIdLength + 1))));

    /// <summary>A virtual key on the steady host, created before the test's own requests (its rows are not the test's).</summary>
    private async Task<string> KeyAsync(object spec)
    {
        var (key, _) = await _steady.CreateKeyAsync(spec);
        await _steady.IdleAsync();
        _steady.Reset();
        return key;
    }

    /// <summary>Sends one request and reads what came back in full; the line includes every upstream call and ledger row of the test so far.</summary>
    private static async Task<string> ExchangeAsync(LlmServerHost host, Surface s, HttpRequestMessage request, string? key = null, bool anyMessage = false)
    {
        using var http = host.Client(key ?? host.MasterKey);
        http.Timeout = TimeSpan.FromSeconds(60);
        using (request)
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            string text;
            try { text = await response.Content.ReadAsStringAsync(); }
            catch (Exception e) when (e is IOException or HttpRequestException) { text = ""; }
            var eventStream = response.Content.Headers.ContentType?.MediaType == "text/event-stream";
            var (shown, midStream) = Observed.ErrorIn(s.Dialect, text, eventStream, anyMessage);
            await host.IdleAsync();
            return Observed.Line((int)response.StatusCode, Observed.RetryAfter(response.Headers), shown, midStream, UpstreamCalls(host), Ledger(host));
        }
    }

    private static int UpstreamCalls(LlmServerHost host) => host.Fake.Requests.Count(r => r.Method == "POST");

    private static IEnumerable<string> Ledger(LlmServerHost host) => host.Usage.Records.Select(r => $"{r.Status} {r.ErrorCode ?? "-"}");
}
