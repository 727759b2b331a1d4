using System.Text.Json;
using Dapper;
using LlmServer.Services.Keys;

namespace LlmServer.External.Operations;

/// <summary>Virtual keys in the operations database (SQLite or PostgreSQL). The spec is a JSON column.</summary>
public sealed class SqlVirtualKeyStore(OpsDatabase db) : IVirtualKeyStore
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);
    private const string Columns = "id AS Id, prefix AS Prefix, key_hash AS KeyHash, spec AS Spec, created_at AS CreatedAt, updated_at AS UpdatedAt, revoked_at AS RevokedAt";

    public async Task InsertAsync(VirtualKey key, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        await c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO virtual_keys (id, prefix, key_hash, spec, created_at, updated_at, revoked_at) VALUES (@Id, @Prefix, @KeyHash, @Spec, @CreatedAt, @UpdatedAt, NULL)",
            new { key.Id, key.Prefix, key.KeyHash, Spec = JsonSerializer.Serialize(key.Spec, s_json), CreatedAt = key.CreatedAt.ToUnixTimeMilliseconds(), UpdatedAt = key.UpdatedAt.ToUnixTimeMilliseconds() },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<VirtualKey?> GetAsync(string id, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        var row = await c.QuerySingleOrDefaultAsync<Row>(new CommandDefinition($"SELECT {Columns} FROM virtual_keys WHERE id = @id", new { id }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToKey();
    }

    public async Task<VirtualKey?> FindByHashAsync(string keyHash, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        var row = await c.QuerySingleOrDefaultAsync<Row>(new CommandDefinition($"SELECT {Columns} FROM virtual_keys WHERE key_hash = @keyHash", new { keyHash }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToKey();
    }

    public async Task<IReadOnlyList<VirtualKey>> ListAsync(bool includeRevoked, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        var sql = $"SELECT {Columns} FROM virtual_keys" + (includeRevoked ? "" : " WHERE revoked_at IS NULL") + " ORDER BY created_at, id";
        var rows = await c.QueryAsync<Row>(new CommandDefinition(sql, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => r.ToKey()).ToList();
    }

    public async Task<bool> UpdateAsync(string id, VirtualKeySpec spec, DateTimeOffset updatedAt, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        var n = await c.ExecuteAsync(new CommandDefinition("UPDATE virtual_keys SET spec = @spec, updated_at = @at WHERE id = @id",
            new { id, spec = JsonSerializer.Serialize(spec, s_json), at = updatedAt.ToUnixTimeMilliseconds() }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return n > 0;
    }

    public async Task<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        var n = await c.ExecuteAsync(new CommandDefinition("UPDATE virtual_keys SET revoked_at = @at, updated_at = @at WHERE id = @id AND revoked_at IS NULL",
            new { id, at = revokedAt.ToUnixTimeMilliseconds() }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return n > 0;
    }

    private sealed class Row
    {
        public string Id { get; set; } = "";
        public string Prefix { get; set; } = "";
        public string KeyHash { get; set; } = "";
        public string Spec { get; set; } = "";
        public long CreatedAt { get; set; }
        public long UpdatedAt { get; set; }
        public long? RevokedAt { get; set; }

        public VirtualKey ToKey() => new()
        {
            Id = Id,
            Prefix = Prefix,
            KeyHash = KeyHash,
            Spec = JsonSerializer.Deserialize<VirtualKeySpec>(Spec, s_json) ?? new VirtualKeySpec(),
            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt),
            UpdatedAt = DateTimeOffset.FromUnixTimeMilliseconds(UpdatedAt),
            RevokedAt = RevokedAt is long r ? DateTimeOffset.FromUnixTimeMilliseconds(r) : null,
        };
    }
}
