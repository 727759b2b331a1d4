using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace LlmServer.Services.Masking;

/// <summary>The default vault: process memory, one lock per scope, idle scopes dropped after the TTL.</summary>
public sealed class InMemoryMaskingVault : IMaskingVault
{
    private readonly ConcurrentDictionary<string, Scope> _scopes = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly TimeSpan _ttl;
    private long _nextSweep;

    /// <summary>Creates the vault with the configured TTL.</summary>
    public InMemoryMaskingVault(IOptions<MaskingOptions> options, TimeProvider time)
    {
        _time = time;
        _ttl = options.Value.VaultTtl;
    }

    /// <summary>Number of live scopes (for tests and health).</summary>
    public int ScopeCount => _scopes.Count;

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<string>> GetOrAddAsync(string scope, IReadOnlyList<VaultEntry> entries, CancellationToken cancellationToken = default)
    {
        var now = _time.GetTimestamp();
        SweepIfDue(now);
        var s = _scopes.GetOrAdd(scope, static _ => new Scope());
        var ids = new string[entries.Count];
        lock (s)
        {
            s.LastUse = now;
            for (var i = 0; i < entries.Count; i++)
            {
                var (type, original) = entries[i];
                if (!s.Forward.TryGetValue(original, out var id))
                {
                    s.Counters.TryGetValue(type, out var n);
                    s.Counters[type] = ++n;
                    id = string.Concat(type, "_", n.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    s.Forward[original] = id;
                    s.Reverse[id] = original;
                }
                ids[i] = id;
            }
        }
        return ValueTask.FromResult<IReadOnlyList<string>>(ids);
    }

    /// <inheritdoc />
    public ValueTask<string?> TryGetOriginalAsync(string scope, string id, CancellationToken cancellationToken = default)
    {
        if (!_scopes.TryGetValue(scope, out var s))
        {
            return ValueTask.FromResult<string?>(null);
        }
        lock (s)
        {
            if (IsExpired(s, _time.GetTimestamp()))
            {
                return ValueTask.FromResult<string?>(null);
            }
            s.LastUse = _time.GetTimestamp();
            return ValueTask.FromResult(s.Reverse.GetValueOrDefault(id));
        }
    }

    private bool IsExpired(Scope s, long now) => _time.GetElapsedTime(s.LastUse, now) > _ttl;

    private void SweepIfDue(long now)
    {
        var due = Interlocked.Read(ref _nextSweep);
        if (now < due || Interlocked.CompareExchange(ref _nextSweep, now + _time.TimestampFrequency * 60, due) != due)
        {
            return;
        }
        foreach (var (key, s) in _scopes)
        {
            bool expired;
            lock (s)
            {
                expired = IsExpired(s, now);
            }
            if (expired)
            {
                _scopes.TryRemove(key, out _);
            }
        }
    }

    private sealed class Scope
    {
        public readonly Dictionary<string, string> Forward = new(StringComparer.Ordinal);
        public readonly Dictionary<string, string> Reverse = new(StringComparer.Ordinal);
        public readonly Dictionary<string, int> Counters = new(StringComparer.Ordinal);
        public long LastUse;
    }
}
