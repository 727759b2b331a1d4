using LlmServer.Services.Limits;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace LlmServer.External.Operations;

/// <summary>
/// Per-key fixed one-minute windows in Redis, shared by every instance: one Lua script checks both limits and
/// counts the request atomically (nothing is counted when refused). While Redis is unreachable each instance
/// falls back to its own in-process windows (limits hold per instance) instead of failing requests.
/// </summary>
public sealed partial class RedisKeyRateLimiter(IConnectionMultiplexer redis, TimeProvider time, ILogger<RedisKeyRateLimiter>? logger = null) : IKeyRateLimiter
{
    private readonly LocalKeyRateLimiter _fallback = new(time);
    private readonly ILogger _logger = logger ?? NullLogger<RedisKeyRateLimiter>.Instance;

    private const long WindowMs = 60_000;

    // KEYS[1] request counter, KEYS[2] token counter of the current window.
    // ARGV[1] rpm (-1 none), ARGV[2] tpm (-1 none), ARGV[3] tokens, ARGV[4] expiry ms.
    private const string AcquireScript = """
        local r = tonumber(redis.call('GET', KEYS[1]) or '0')
        local t = tonumber(redis.call('GET', KEYS[2]) or '0')
        local rpm = tonumber(ARGV[1])
        local tpm = tonumber(ARGV[2])
        local tokens = tonumber(ARGV[3])
        if rpm >= 0 and r + 1 > rpm then return {0, 1} end
        if tpm >= 0 and t > 0 and t + tokens > tpm then return {0, 2} end
        redis.call('INCR', KEYS[1])
        redis.call('PEXPIRE', KEYS[1], ARGV[4])
        redis.call('INCRBY', KEYS[2], tokens)
        redis.call('PEXPIRE', KEYS[2], ARGV[4])
        return {1, 0}
        """;

    private const string AddTokensScript = """
        if redis.call('EXISTS', KEYS[1]) == 1 then
          local v = redis.call('INCRBY', KEYS[1], ARGV[1])
          if v < 0 then redis.call('SET', KEYS[1], 0, 'KEEPTTL') end
        end
        return 0
        """;

    public async Task<RateLimitDecision> TryAcquireAsync(string keyId, int? rpm, long? tpm, long tokens, CancellationToken cancellationToken)
    {
        if (rpm is null && tpm is null)
        {
            return RateLimitDecision.Allow;
        }
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var index = now / WindowMs;
        var remainingMs = (index + 1) * WindowMs - now;
        var (requests, tokenKey) = Keys(keyId, index);
        RedisResult[] result;
        try
        {
            result = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(AcquireScript,
                [requests, tokenKey], [rpm ?? -1, tpm ?? -1, tokens, remainingMs + 5_000]).WaitAsync(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false))!;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogRedisUnavailable(ex);
            return await _fallback.TryAcquireAsync(keyId, rpm, tpm, tokens, cancellationToken).ConfigureAwait(false);
        }
        if ((long)result[0] == 1)
        {
            return RateLimitDecision.Allow;
        }
        return new RateLimitDecision(false, Math.Max(1, (int)Math.Ceiling(remainingMs / 1000.0)), (long)result[1] == 1 ? "rpm" : "tpm");
    }

    public async Task AddTokensAsync(string keyId, long tokens, CancellationToken cancellationToken)
    {
        if (tokens == 0)
        {
            return;
        }
        var (_, tokenKey) = Keys(keyId, time.GetUtcNow().ToUnixTimeMilliseconds() / WindowMs);
        try
        {
            await redis.GetDatabase().ScriptEvaluateAsync(AddTokensScript, [tokenKey], [tokens]).WaitAsync(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogRedisUnavailable(ex);
            await _fallback.AddTokensAsync(keyId, tokens, cancellationToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is unreachable; rate limits fall back to this instance's own windows.")]
    private partial void LogRedisUnavailable(Exception ex);

    // NOTE: {keyId} is a hash tag so both counters land on one Redis Cluster slot (scripts need that).
    private static (RedisKey Requests, RedisKey Tokens) Keys(string keyId, long index) =>
        ($"llmserver:rl:{{{keyId}}}:{index}:r", $"llmserver:rl:{{{keyId}}}:{index}:t");
}
