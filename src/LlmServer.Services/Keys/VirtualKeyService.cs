using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using LlmServer.Services.Operations;
using Microsoft.Extensions.Options;

namespace LlmServer.Services.Keys;

/// <summary>A newly created key: the record and the plaintext key, which is shown once and never stored.</summary>
public sealed record CreatedVirtualKey(VirtualKey Key, string PlaintextKey);

/// <summary>Virtual keys: created, listed, updated and revoked by the admin API; presented by clients.</summary>
public interface IVirtualKeyService
{
    Task<CreatedVirtualKey> CreateAsync(VirtualKeySpec spec, CancellationToken cancellationToken);
    Task<IReadOnlyList<VirtualKey>> ListAsync(bool includeRevoked, CancellationToken cancellationToken);
    Task<VirtualKey?> GetAsync(string id, CancellationToken cancellationToken);
    Task<VirtualKey?> UpdateAsync(string id, VirtualKeySpec spec, CancellationToken cancellationToken);
    Task<bool> RevokeAsync(string id, CancellationToken cancellationToken);

    /// <summary>The active key matching <paramref name="presentedKey"/>, or null (unknown, malformed or revoked).</summary>
    Task<VirtualKey?> AuthenticateAsync(string? presentedKey, CancellationToken cancellationToken = default);
}

/// <inheritdoc />
public sealed class VirtualKeyService(IVirtualKeyStore store, TimeProvider time, IOptions<OperationsOptions> options) : IVirtualKeyService
{
    private const int MaxCached = 10_000;
    private readonly ConcurrentDictionary<string, (VirtualKey Key, long ExpiresAt)> _cache = new(StringComparer.Ordinal);
    private readonly long _cacheMs = Math.Max(0, options.Value.KeyCacheSeconds) * 1000L;

    /// <summary>Every virtual key starts with this.</summary>
    public const string KeyPrefix = "sk-llms-";
    private const int RandomLength = 32;
    private const int ShownPrefixLength = 12;
    private const string Base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    /// <inheritdoc />
    public async Task<CreatedVirtualKey> CreateAsync(VirtualKeySpec spec, CancellationToken cancellationToken)
    {
        var plaintext = KeyPrefix + RandomNumberGenerator.GetString(Base62, RandomLength);
        var now = time.GetUtcNow();
        var key = new VirtualKey
        {
            Id = "vk_" + RandomNumberGenerator.GetString(Base62, 16),
            Prefix = plaintext[..ShownPrefixLength],
            KeyHash = Hash(plaintext),
            Spec = spec,
            CreatedAt = now,
            UpdatedAt = now,
        };
        await store.InsertAsync(key, cancellationToken).ConfigureAwait(false);
        return new CreatedVirtualKey(key, plaintext);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<VirtualKey>> ListAsync(bool includeRevoked, CancellationToken cancellationToken) =>
        store.ListAsync(includeRevoked, cancellationToken);

    /// <inheritdoc />
    public Task<VirtualKey?> GetAsync(string id, CancellationToken cancellationToken) => store.GetAsync(id, cancellationToken);

    /// <inheritdoc />
    public async Task<VirtualKey?> UpdateAsync(string id, VirtualKeySpec spec, CancellationToken cancellationToken)
    {
        var ok = await store.UpdateAsync(id, spec, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        _cache.Clear();
        return ok ? await store.GetAsync(id, cancellationToken).ConfigureAwait(false) : null;
    }

    /// <inheritdoc />
    public async Task<bool> RevokeAsync(string id, CancellationToken cancellationToken)
    {
        var revoked = await store.RevokeAsync(id, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        _cache.Clear();
        return revoked;
    }

    /// <inheritdoc />
    public async Task<VirtualKey?> AuthenticateAsync(string? presentedKey, CancellationToken cancellationToken = default)
    {
        if (presentedKey is null || presentedKey.Length != KeyPrefix.Length + RandomLength
            || !presentedKey.StartsWith(KeyPrefix, StringComparison.Ordinal))
        {
            return null;
        }
        // NOTE: lookup by the SHA-256 of a 190-bit random key: nothing secret is compared char by char.
        var hash = Hash(presentedKey);
        var now = time.GetTimestamp() * 1000 / time.TimestampFrequency;
        if (_cacheMs > 0 && _cache.TryGetValue(hash, out var cached) && cached.ExpiresAt > now)
        {
            return cached.Key;
        }
        var key = await store.FindByHashAsync(hash, cancellationToken).ConfigureAwait(false);
        if (key is not { IsRevoked: false })
        {
            _cache.TryRemove(hash, out _);
            return null;
        }
        if (_cacheMs > 0)
        {
            if (_cache.Count >= MaxCached)
            {
                _cache.Clear();
            }
            _cache[hash] = (key, now + _cacheMs);
        }
        return key;
    }

    /// <summary>Lower-case hex SHA-256 of a key.</summary>
    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}
