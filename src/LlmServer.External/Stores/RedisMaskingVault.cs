using LlmServer.Services.Masking;
using StackExchange.Redis;

namespace LlmServer.External.Stores;

/// <summary>
/// Masking vault in Redis, shared by every server instance. Per scope three hashes (original -> id, id -> original,
/// type -> last number) with a sliding TTL; allocation runs in one Lua script, so it is atomic and instances agree.
/// </summary>
public sealed class RedisMaskingVault : IMaskingVault
{
    private const string GetOrAddScript = """
        local ids = {}
        for i = 2, #ARGV, 2 do
          local t = ARGV[i]
          local o = ARGV[i + 1]
          local id = redis.call('HGET', KEYS[1], o)
          if not id then
            local n = redis.call('HINCRBY', KEYS[3], t, 1)
            id = t .. '_' .. n
            redis.call('HSET', KEYS[1], o, id)
            redis.call('HSET', KEYS[2], id, o)
          end
          ids[#ids + 1] = id
        end
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        redis.call('PEXPIRE', KEYS[2], ARGV[1])
        redis.call('PEXPIRE', KEYS[3], ARGV[1])
        return ids
        """;

    private readonly IConnectionMultiplexer _redis;
    private readonly long _ttlMs;
    private readonly string _prefix;

    /// <summary>Uses the instance's shared connection (see <see cref="Redis.RedisConnection"/>), which it does not own.</summary>
    public RedisMaskingVault(IConnectionMultiplexer redis, TimeSpan ttl, string prefix = "llmserver:mask:")
    {
        _redis = redis;
        _ttlMs = (long)ttl.TotalMilliseconds;
        _prefix = prefix;
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<string>> GetOrAddAsync(string scope, IReadOnlyList<VaultEntry> entries, CancellationToken cancellationToken = default)
    {
        var args = new RedisValue[1 + entries.Count * 2];
        args[0] = _ttlMs;
        for (var i = 0; i < entries.Count; i++)
        {
            args[1 + i * 2] = entries[i].Type;
            args[2 + i * 2] = entries[i].Original;
        }
        var result = await _redis.GetDatabase()
            .ScriptEvaluateAsync(GetOrAddScript, Keys(scope), args).ConfigureAwait(false);
        var values = (RedisValue[])result!;
        var ids = new string[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            ids[i] = values[i]!;
        }
        return ids;
    }

    /// <inheritdoc />
    public async ValueTask<string?> TryGetOriginalAsync(string scope, string id, CancellationToken cancellationToken = default)
    {
        var value = await _redis.GetDatabase().HashGetAsync(Key(scope, "rev"), id).ConfigureAwait(false);
        return value.IsNull ? null : (string?)value;
    }

    /// <summary>Deletes a scope (tests and admin).</summary>
    public Task DeleteScopeAsync(string scope) => _redis.GetDatabase().KeyDeleteAsync(Keys(scope));

    private RedisKey[] Keys(string scope) => [Key(scope, "fwd"), Key(scope, "rev"), Key(scope, "ctr")];

    // NOTE: the hash tag keeps a scope's three keys in one slot, so the script also works on Redis Cluster.
    private RedisKey Key(string scope, string kind) => $"{_prefix}{{{scope}}}:{kind}";

}
