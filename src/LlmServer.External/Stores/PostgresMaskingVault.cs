using LlmServer.Services.Masking;
using Npgsql;

namespace LlmServer.External.Stores;

/// <summary>
/// Masking vault in PostgreSQL (LLMSERVER_DB set and no Redis URL), shared by every instance on the database.
/// Allocation in a scope is serialised by a transaction-scoped advisory lock on the scope, so instances agree on
/// numbers; the same original always gets the same id. Scopes expire after the TTL without use (sliding).
/// </summary>
public sealed class PostgresMaskingVault : IMaskingVault
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly TimeProvider _time;
    private readonly TimeSpan _ttl;
    private readonly SemaphoreSlim _schemaLock = new(1, 1);
    private volatile bool _schemaReady;
    private long _nextSweepMs;

    /// <summary>Creates the vault; the schema is created on first use.</summary>
    public PostgresMaskingVault(NpgsqlDataSource dataSource, TimeSpan ttl, TimeProvider time)
    {
        _dataSource = dataSource;
        _ttl = ttl;
        _time = time;
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<string>> GetOrAddAsync(string scope, IReadOnlyList<VaultEntry> entries, CancellationToken cancellationToken = default)
    {
        await EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var c = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(c, tx, "SELECT pg_advisory_xact_lock(hashtextextended(@s, 7311))", cancellationToken, ("s", scope)).ConfigureAwait(false);
        var sweep = now >= Interlocked.Read(ref _nextSweepMs);
        if (sweep)
        {
            Interlocked.Exchange(ref _nextSweepMs, now + 600_000);
            await ExecuteAsync(c, tx, """
                DELETE FROM masking_value v USING masking_scope s WHERE s.scope = v.scope AND s.expires_ms < @now AND s.scope <> @s;
                DELETE FROM masking_counter v USING masking_scope s WHERE s.scope = v.scope AND s.expires_ms < @now AND s.scope <> @s;
                DELETE FROM masking_scope WHERE expires_ms < @now AND scope <> @s;
                """, cancellationToken, ("now", now), ("s", scope)).ConfigureAwait(false);
        }
        await ExecuteAsync(c, tx, """
            DELETE FROM masking_value WHERE scope = @s AND EXISTS (SELECT 1 FROM masking_scope WHERE scope = @s AND expires_ms < @now);
            DELETE FROM masking_counter WHERE scope = @s AND EXISTS (SELECT 1 FROM masking_scope WHERE scope = @s AND expires_ms < @now);
            INSERT INTO masking_scope (scope, expires_ms) VALUES (@s, @e) ON CONFLICT (scope) DO UPDATE SET expires_ms = EXCLUDED.expires_ms;
            """, cancellationToken, ("s", scope), ("now", now), ("e", now + (long)_ttl.TotalMilliseconds)).ConfigureAwait(false);

        var ids = new string[entries.Count];
        for (var k = 0; k < entries.Count; k++)
        {
            var (type, original) = entries[k];
            await using (var find = Command(c, tx, "SELECT id FROM masking_value WHERE scope = @s AND original = @o", ("s", scope), ("o", original)))
            {
                if (await find.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is string existing)
                {
                    ids[k] = existing;
                    continue;
                }
            }
            long n;
            await using (var next = Command(c, tx, """
                INSERT INTO masking_counter (scope, type, n) VALUES (@s, @t, 1)
                ON CONFLICT (scope, type) DO UPDATE SET n = masking_counter.n + 1 RETURNING n
                """, ("s", scope), ("t", type)))
            {
                n = (long)(await next.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }
            var id = string.Concat(type, "_", n.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await ExecuteAsync(c, tx, "INSERT INTO masking_value (scope, id, original) VALUES (@s, @i, @o)", cancellationToken,
                ("s", scope), ("i", id), ("o", original)).ConfigureAwait(false);
            ids[k] = id;
        }
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return ids;
    }

    /// <inheritdoc />
    public async ValueTask<string?> TryGetOriginalAsync(string scope, string id, CancellationToken cancellationToken = default)
    {
        await EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        await using var c = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = Command(c, null, """
            SELECT v.original FROM masking_value v JOIN masking_scope s ON s.scope = v.scope
            WHERE v.scope = @s AND v.id = @i AND s.expires_ms >= @now
            """, ("s", scope), ("i", id), ("now", _time.GetUtcNow().ToUnixTimeMilliseconds()));
        return await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
    }

    private async ValueTask EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        if (_schemaReady) return;
        await _schemaLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_schemaReady) return;
            await using var c = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var tx = await c.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            // NOTE: concurrent CREATE TABLE IF NOT EXISTS from several instances can still collide; the lock orders them.
            await ExecuteAsync(c, tx, """
                SELECT pg_advisory_xact_lock(7311004);
                CREATE TABLE IF NOT EXISTS masking_scope (scope TEXT PRIMARY KEY, expires_ms BIGINT NOT NULL);
                CREATE TABLE IF NOT EXISTS masking_counter (scope TEXT NOT NULL, type TEXT NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (scope, type));
                CREATE TABLE IF NOT EXISTS masking_value (scope TEXT NOT NULL, id TEXT NOT NULL, original TEXT NOT NULL, PRIMARY KEY (scope, id));
                CREATE UNIQUE INDEX IF NOT EXISTS ix_masking_value_original ON masking_value (scope, original);
                CREATE INDEX IF NOT EXISTS ix_masking_scope_expires ON masking_scope (expires_ms);
                """, cancellationToken).ConfigureAwait(false);
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            _schemaReady = true;
        }
        finally
        {
            _schemaLock.Release();
        }
    }

    private static NpgsqlCommand Command(NpgsqlConnection c, NpgsqlTransaction? tx, string sql, params (string Name, object Value)[] args)
    {
        var cmd = new NpgsqlCommand(sql, c, tx);
        foreach (var (name, value) in args)
        {
            cmd.Parameters.AddWithValue(name, value);
        }
        return cmd;
    }

    private static async Task ExecuteAsync(NpgsqlConnection c, NpgsqlTransaction? tx, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] args)
    {
        await using var cmd = Command(c, tx, sql, args);
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
