using Dapper;
using LlmServer.Services.Limits;

namespace LlmServer.External.Operations;

/// <summary>
/// Per-key fixed one-minute windows in the operations database (PostgreSQL shares them across instances).
/// One conditional upsert per request: counted only when both limits hold.
/// </summary>
public sealed class SqlKeyRateLimiter(OpsDatabase db, TimeProvider time) : IKeyRateLimiter
{
    private const long WindowMs = 60_000;
    private long _lastCleanup;

    public async Task<RateLimitDecision> TryAcquireAsync(string keyId, int? rpm, long? tpm, long tokens, CancellationToken cancellationToken)
    {
        if (rpm is null && tpm is null)
        {
            return RateLimitDecision.Allow;
        }
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var start = now / WindowMs * WindowMs;
        var retryAfter = Math.Max(1, (int)Math.Ceiling((start + WindowMs - now) / 1000.0));
        if (rpm is < 1)
        {
            return new RateLimitDecision(false, retryAfter, "rpm");
        }
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        var counted = await c.QueryFirstOrDefaultAsync<long?>(new CommandDefinition("""
            INSERT INTO rate_windows AS w (key_id, window_start, requests, tokens) VALUES (@keyId, @start, 1, @tokens)
            ON CONFLICT (key_id, window_start) DO UPDATE SET requests = w.requests + 1, tokens = w.tokens + @tokens
            WHERE (@rpm < 0 OR w.requests + 1 <= @rpm) AND (@tpm < 0 OR w.tokens = 0 OR w.tokens + @tokens <= @tpm)
            RETURNING requests
            """, new { keyId, start, tokens, rpm = (long?)rpm ?? -1L, tpm = tpm ?? -1L }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        if (now - Interlocked.Read(ref _lastCleanup) > WindowMs * 5)
        {
            Interlocked.Exchange(ref _lastCleanup, now);
            await c.ExecuteAsync(new CommandDefinition("DELETE FROM rate_windows WHERE window_start < @old", new { old = start - WindowMs * 2 }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        }
        if (counted is not null)
        {
            return RateLimitDecision.Allow;
        }
        var row = await c.QueryFirstOrDefaultAsync<long?>(new CommandDefinition(
            "SELECT requests FROM rate_windows WHERE key_id = @keyId AND window_start = @start", new { keyId, start }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return new RateLimitDecision(false, retryAfter, rpm is int r && row >= r ? "rpm" : "tpm");
    }

    public async Task AddTokensAsync(string keyId, long tokens, CancellationToken cancellationToken)
    {
        if (tokens == 0)
        {
            return;
        }
        var start = time.GetUtcNow().ToUnixTimeMilliseconds() / WindowMs * WindowMs;
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        await c.ExecuteAsync(new CommandDefinition(
            $"UPDATE rate_windows SET tokens = {db.Greatest("tokens + @tokens", "0")} WHERE key_id = @keyId AND window_start = @start",
            new { keyId, start, tokens }, cancellationToken: cancellationToken)).ConfigureAwait(false);
    }
}
