using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace LlmServer.Services.Auth;

/// <summary>Who called: the master key holder, or (later) a virtual key. Never holds the key itself.</summary>
/// <param name="KeyId">A stable id for accounting (never the key).</param>
/// <param name="IsMaster">True for the master key.</param>
public sealed record CallerIdentity(string KeyId, bool IsMaster)
{
    /// <summary>The virtual key the caller presented (allowed models, limits, budget, masking policy), or null.</summary>
    public Keys.VirtualKey? VirtualKey { get; init; }

    /// <summary>The key id to attribute usage to: the virtual key's id, "master", or null when the server runs open.</summary>
    public string? LedgerKeyId => VirtualKey?.Id ?? (IsMaster ? "master" : null);

    /// <summary>Who owns what this caller stores (sessions, responses): its virtual key, else the operator.</summary>
    public string Owner => Ownership.Owners.Of(VirtualKey?.Id);

    /// <summary>The caller when the server runs open (no master key).</summary>
    public static CallerIdentity Anonymous { get; } = new("anonymous", false);
}

/// <summary>
/// Checks a presented API key. The master key is one implementation; virtual keys plug in by
/// registering another (or a composite) in its place.
/// </summary>
public interface IApiKeyAuthenticator
{
    /// <summary>False when the server runs open: every caller is <see cref="CallerIdentity.Anonymous"/>.</summary>
    bool Enabled { get; }

    /// <summary>The caller for <paramref name="presentedKey"/>, or null when the key is missing or wrong.</summary>
    ValueTask<CallerIdentity?> AuthenticateAsync(string? presentedKey, CancellationToken cancellationToken);
}

/// <summary>LlmServer:Auth:MasterKey (LLMSERVER_MASTER_KEY); constant-time compare over SHA-256 hashes.</summary>
public sealed class MasterKeyAuthenticator : IApiKeyAuthenticator
{
    private static readonly CallerIdentity s_master = new("master", true);
    private readonly byte[]? _hash;

    public MasterKeyAuthenticator(IOptions<AuthOptions> options)
    {
        var key = options.Value.MasterKey;
        _hash = string.IsNullOrEmpty(key) ? null : SHA256.HashData(Encoding.UTF8.GetBytes(key));
    }

    public bool Enabled => _hash is not null;

    public ValueTask<CallerIdentity?> AuthenticateAsync(string? presentedKey, CancellationToken cancellationToken)
    {
        if (_hash is null) return ValueTask.FromResult<CallerIdentity?>(CallerIdentity.Anonymous);
        if (string.IsNullOrEmpty(presentedKey) || presentedKey.Length > AuthOptions.MaxKeyLength) return ValueTask.FromResult<CallerIdentity?>(null);
        // NOTE: hashing first makes the compare length-independent; FixedTimeEquals keeps it constant-time.
        Span<byte> utf8 = stackalloc byte[Encoding.UTF8.GetMaxByteCount(presentedKey.Length)];
        var n = Encoding.UTF8.GetBytes(presentedKey, utf8);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(utf8[..n], hash);
        return ValueTask.FromResult(CryptographicOperations.FixedTimeEquals(hash, _hash) ? s_master : null);
    }
}

/// <summary>
/// Master key first (constant-time), then virtual keys (stored as SHA-256 hashes). Auth is enabled when a master
/// key is configured; virtual keys can only be made through the admin API, which needs the master key.
/// </summary>
public sealed class CompositeApiKeyAuthenticator(MasterKeyAuthenticator master, Keys.IVirtualKeyService virtualKeys) : IApiKeyAuthenticator
{
    public bool Enabled => master.Enabled;

    public async ValueTask<CallerIdentity?> AuthenticateAsync(string? presentedKey, CancellationToken cancellationToken)
    {
        var identity = await master.AuthenticateAsync(presentedKey, cancellationToken).ConfigureAwait(false);
        if (identity is not null || !master.Enabled || string.IsNullOrEmpty(presentedKey))
        {
            return identity;
        }
        var key = await virtualKeys.AuthenticateAsync(presentedKey, cancellationToken).ConfigureAwait(false);
        return key is null ? null : new CallerIdentity(key.Id, IsMaster: false) { VirtualKey = key };
    }
}
