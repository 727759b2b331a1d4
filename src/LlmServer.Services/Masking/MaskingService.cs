using System.Security.Cryptography;
using System.Text;
using LlmServer.Services.Masking.Detection;
using Microsoft.Extensions.Options;

namespace LlmServer.Services.Masking;

/// <summary>Entry point of masking for the API layers.</summary>
public interface IMaskingService
{
    /// <summary>The policy configured for a route.</summary>
    MaskingPolicy PolicyFor(MaskingRoute route);

    /// <summary>
    /// Starts masking for one request. The vault scope is the session id (per API key), else the API key,
    /// else the request alone. The key itself is never stored: only a hash of it.
    /// </summary>
    MaskingSession Begin(MaskingRoute route, string? sessionId = null, string? apiKey = null);

    /// <summary>As <see cref="Begin(MaskingRoute, string?, string?)"/> with an explicit policy (e.g. a virtual key's own).</summary>
    MaskingSession Begin(MaskingPolicy policy, string? sessionId, string? apiKey);
}

/// <summary>Default <see cref="IMaskingService"/>.</summary>
public sealed class MaskingService(IOptions<MaskingOptions> options, SensitiveDataScanner scanner, IMaskingVault vault) : IMaskingService
{
    /// <inheritdoc />
    public MaskingPolicy PolicyFor(MaskingRoute route) => options.Value.PolicyFor(route);

    /// <inheritdoc />
    public MaskingSession Begin(MaskingRoute route, string? sessionId = null, string? apiKey = null) =>
        Begin(PolicyFor(route), sessionId, apiKey);

    /// <inheritdoc />
    public MaskingSession Begin(MaskingPolicy policy, string? sessionId, string? apiKey)
    {
        var keyPart = string.IsNullOrEmpty(apiKey) ? "anon" : HashKey(apiKey);
        if (!string.IsNullOrEmpty(sessionId))
        {
            return new MaskingSession(policy, $"s:{keyPart}:{sessionId}", scanner, vault);
        }
        if (!string.IsNullOrEmpty(apiKey))
        {
            return new MaskingSession(policy, $"k:{keyPart}", scanner, vault);
        }
        // NOTE: a request-only scope never outlives the request, so it needs no vault round trips.
        return new MaskingSession(policy, "r:" + Guid.NewGuid().ToString("N"), scanner, null);
    }

    private static string HashKey(string apiKey)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(apiKey), hash);
        return Convert.ToHexStringLower(hash[..12]);
    }
}
