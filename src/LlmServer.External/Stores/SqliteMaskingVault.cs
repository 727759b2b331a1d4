using System.Globalization;
using LlmServer.Services.Masking;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace LlmServer.External.Stores;

/// <summary>
/// Masking vault in a SQLite file (<c>masking.db</c> under <c>LlmServer:Storage:DataDir</c>). Allocation runs in
/// an immediate (write-locked) transaction, so processes sharing the file agree on numbers. Scopes expire after
/// the TTL without use.
/// </summary>
public sealed class SqliteMaskingVault : IMaskingVault
{
    private readonly string _connectionString;
    private readonly TimeProvider _time;
    private readonly TimeSpan _ttl;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private long _nextSweepMs;

    /// <summary>Creates the vault and its schema.</summary>
    public SqliteMaskingVault(IOptions<MaskingOptions> options, IOptions<StorageOptions> storage, TimeProvider time)
        : this(Path.Combine(storage.Value.DataDirOrDefault, "masking.db"),
            options.Value.VaultTtl, time)
    {
    }

    /// <summary>Creates the vault on a given file.</summary>
    public SqliteMaskingVault(string path, TimeSpan ttl, TimeProvider time)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        _ttl = ttl;
        _time = time;
        using var c = Open();
        Execute(c, null, """
            PRAGMA journal_mode=WAL;
            CREATE TABLE IF NOT EXISTS masking_scope (scope TEXT PRIMARY KEY, expires_ms INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS masking_counter (scope TEXT NOT NULL, type TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (scope, type));
            CREATE TABLE IF NOT EXISTS masking_value (scope TEXT NOT NULL, id TEXT NOT NULL, original TEXT NOT NULL, PRIMARY KEY (scope, id));
            CREATE UNIQUE INDEX IF NOT EXISTS ix_masking_value_original ON masking_value (scope, original);
            """);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<string>> GetOrAddAsync(string scope, IReadOnlyList<VaultEntry> entries, CancellationToken cancellationToken = default)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var c = Open();
            using var tx = c.BeginTransaction(deferred: false);
            if (now >= _nextSweepMs)
            {
                _nextSweepMs = now + 600_000;
                Execute(c, tx, """
                    DELETE FROM masking_value WHERE scope IN (SELECT scope FROM masking_scope WHERE expires_ms < $now);
                    DELETE FROM masking_counter WHERE scope IN (SELECT scope FROM masking_scope WHERE expires_ms < $now);
                    DELETE FROM masking_scope WHERE expires_ms < $now;
                    """, ("$now", now));
            }
            else
            {
                var expires = Scalar(c, tx, "SELECT expires_ms FROM masking_scope WHERE scope = $s", ("$s", scope));
                if (expires is long e && e < now)
                {
                    Execute(c, tx, """
                        DELETE FROM masking_value WHERE scope = $s;
                        DELETE FROM masking_counter WHERE scope = $s;
                        """, ("$s", scope));
                }
            }
            Execute(c, tx, "INSERT INTO masking_scope (scope, expires_ms) VALUES ($s, $e) ON CONFLICT(scope) DO UPDATE SET expires_ms = $e",
                ("$s", scope), ("$e", now + (long)_ttl.TotalMilliseconds));

            var ids = new string[entries.Count];
            using var find = Command(c, tx, "SELECT id FROM masking_value WHERE scope = $s AND original = $o", ("$s", scope), ("$o", ""));
            using var next = Command(c, tx, """
                INSERT INTO masking_counter (scope, type, n) VALUES ($s, $t, 1)
                ON CONFLICT(scope, type) DO UPDATE SET n = n + 1 RETURNING n
                """, ("$s", scope), ("$t", ""));
            using var insert = Command(c, tx, "INSERT INTO masking_value (scope, id, original) VALUES ($s, $i, $o)",
                ("$s", scope), ("$i", ""), ("$o", ""));
            for (var k = 0; k < entries.Count; k++)
            {
                var (type, original) = entries[k];
                find.Parameters["$o"].Value = original;
                if (find.ExecuteScalar() is string existing)
                {
                    ids[k] = existing;
                    continue;
                }
                next.Parameters["$t"].Value = type;
                var n = Convert.ToInt64(next.ExecuteScalar(), CultureInfo.InvariantCulture);
                var id = string.Concat(type, "_", n.ToString(CultureInfo.InvariantCulture));
                insert.Parameters["$i"].Value = id;
                insert.Parameters["$o"].Value = original;
                insert.ExecuteNonQuery();
                ids[k] = id;
            }
            tx.Commit();
            return ids;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <inheritdoc />
    public ValueTask<string?> TryGetOriginalAsync(string scope, string id, CancellationToken cancellationToken = default)
    {
        using var c = Open();
        var value = Scalar(c, null, """
            SELECT v.original FROM masking_value v JOIN masking_scope s ON s.scope = v.scope
            WHERE v.scope = $s AND v.id = $i AND s.expires_ms >= $now
            """, ("$s", scope), ("$i", id), ("$now", _time.GetUtcNow().ToUnixTimeMilliseconds()));
        return ValueTask.FromResult(value as string);
    }

    private SqliteConnection Open()
    {
        var c = new SqliteConnection(_connectionString);
        c.Open();
        return c;
    }

    private static SqliteCommand Command(SqliteConnection c, SqliteTransaction? tx, string sql, params (string Name, object Value)[] args)
    {
        var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (name, value) in args)
        {
            cmd.Parameters.AddWithValue(name, value);
        }
        return cmd;
    }

    private static void Execute(SqliteConnection c, SqliteTransaction? tx, string sql, params (string Name, object Value)[] args)
    {
        using var cmd = Command(c, tx, sql, args);
        cmd.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection c, SqliteTransaction? tx, string sql, params (string Name, object Value)[] args)
    {
        using var cmd = Command(c, tx, sql, args);
        return cmd.ExecuteScalar();
    }
}
