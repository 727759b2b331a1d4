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

    /// <summary>As <see cref="Begin(MaskingRoute, string?, string?)"/>, under an explicit policy (e.g. a virtual key's).</summary>
    MaskingSession Begin(MaskingRoute route, MaskingPolicy policy, string? sessionId, string? apiKey);

    /// <summary>
    /// Continues in a vault scope recorded earlier (<see cref="MaskingSession.Scope"/>): a background or stored
    /// response polled later, possibly on another instance that shares the vault, gets its values back.
    /// </summary>
    MaskingSession Resume(MaskingPolicy policy, string scope);

    /// <summary>
    /// Whether a JSON request body may hold something to mask: false only when the scanner finds nothing in any
    /// string value of the body (see <see cref="JsonBodyPrefilter"/>), so masking it would change nothing.
    /// </summary>
    bool MayContainSensitiveData(ReadOnlySpan<byte> utf8Json);
}

/// <summary>Default <see cref="IMaskingService"/>.</summary>
public sealed class MaskingService(IOptions<MaskingOptions> options, SensitiveDataScanner scanner, IMaskingVault vault) : IMaskingService
{
    /// <inheritdoc />
    public MaskingPolicy PolicyFor(MaskingRoute route) => options.Value.PolicyFor(route);

    /// <inheritdoc />
    public MaskingSession Begin(MaskingRoute route, string? sessionId = null, string? apiKey = null) =>
        Begin(route, PolicyFor(route), sessionId, apiKey);

    /// <inheritdoc />
    public MaskingSession Begin(MaskingRoute route, MaskingPolicy policy, string? sessionId, string? apiKey)
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

    /// <inheritdoc />
    public MaskingSession Resume(MaskingPolicy policy, string scope) =>
        new(policy, scope, scanner, scope.StartsWith("r:", StringComparison.Ordinal) ? null : vault);

    /// <inheritdoc />
    public bool MayContainSensitiveData(ReadOnlySpan<byte> utf8Json) => JsonBodyPrefilter.MayContainSensitiveData(scanner, utf8Json);

    private static string HashKey(string apiKey)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(apiKey), hash);
        return Convert.ToHexStringLower(hash[..12]);
    }
}

/// <summary>The policy of one request: a virtual key's masking policy, when it has one, overrides the route's.</summary>
public static class MaskingPolicies
{
    /// <summary>Parses off|mask|redact|block (case-insensitive); null for anything else.</summary>
    public static MaskingPolicy? Parse(string? value) =>
        Enum.TryParse<MaskingPolicy>(value?.Trim(), ignoreCase: true, out var p) && Enum.IsDefined(p) && !int.TryParse(value, out _) ? p : null;

    /// <summary>Starts masking under the key's policy (else the route's), scoped to the session, else the key, else the request.</summary>
    public static MaskingSession BeginFor(this IMaskingService masking, MaskingRoute route, string? keyPolicy, string? sessionId, string? scopeKey) =>
        masking.Begin(route, Parse(keyPolicy) ?? masking.PolicyFor(route), string.IsNullOrWhiteSpace(sessionId) ? null : sessionId, scopeKey);
}
