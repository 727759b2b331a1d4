namespace LlmServer.Services.Keys;

/// <summary>Budgets in USD per period; null means no limit for that period.</summary>
public sealed record KeyBudget
{
    public decimal? TotalUsd { get; init; }
    public decimal? MonthlyUsd { get; init; }
    public decimal? DailyUsd { get; init; }

    /// <summary>True when any period has a limit.</summary>
    public bool Any => TotalUsd is not null || MonthlyUsd is not null || DailyUsd is not null;
}

/// <summary>What can be set on a virtual key (create and update).</summary>
public sealed record VirtualKeySpec
{
    public string? Name { get; init; }
    /// <summary>Models this key may call; empty means every model.</summary>
    public IReadOnlyList<string> AllowedModels { get; init; } = [];
    public KeyBudget Budget { get; init; } = new();
    /// <summary>Requests per minute; null means no limit.</summary>
    public int? Rpm { get; init; }
    /// <summary>Tokens per minute; null means no limit.</summary>
    public long? Tpm { get; init; }
    /// <summary>Masking policy for this key's /v1/messages calls (e.g. "mask", "off"); null follows the server's.</summary>
    public string? MaskingPolicy { get; init; }
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();
}

/// <summary>A stored virtual key. The key itself is never stored: only its SHA-256 hash and its first characters.</summary>
public sealed record VirtualKey
{
    /// <summary>Stable id (attributes ledger rows; safe to log).</summary>
    public required string Id { get; init; }
    /// <summary>The first characters of the key (e.g. "sk-llms-AbC1"), to recognise it in a list.</summary>
    public required string Prefix { get; init; }
    /// <summary>Lower-case hex SHA-256 of the key.</summary>
    public required string KeyHash { get; init; }
    public required VirtualKeySpec Spec { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset? RevokedAt { get; init; }

    public bool IsRevoked => RevokedAt is not null;

    /// <summary>True when the key may call <paramref name="model"/> (empty list: every model; case-insensitive).</summary>
    public bool AllowsModel(string? model) =>
        Spec.AllowedModels.Count == 0 || (model is not null && Spec.AllowedModels.Contains(model, StringComparer.OrdinalIgnoreCase));
}

/// <summary>Persistence of virtual keys (SQLite or PostgreSQL).</summary>
public interface IVirtualKeyStore
{
    Task InsertAsync(VirtualKey key, CancellationToken cancellationToken);
    Task<VirtualKey?> GetAsync(string id, CancellationToken cancellationToken);
    Task<VirtualKey?> FindByHashAsync(string keyHash, CancellationToken cancellationToken);
    Task<IReadOnlyList<VirtualKey>> ListAsync(bool includeRevoked, CancellationToken cancellationToken);
    /// <summary>Replaces the spec; false when the key does not exist.</summary>
    Task<bool> UpdateAsync(string id, VirtualKeySpec spec, DateTimeOffset updatedAt, CancellationToken cancellationToken);
    /// <summary>Marks the key revoked; false when it does not exist or was already revoked.</summary>
    Task<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken);
}
