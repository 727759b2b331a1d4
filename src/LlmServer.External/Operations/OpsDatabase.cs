using System.Data;
using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace LlmServer.External.Operations;

/// <summary>SQL dialect of the operations database.</summary>
public enum SqlDialect
{
    Sqlite,
    Postgres,
}

/// <summary>
/// The operations database (keys, budgets, ledger; chat history on PostgreSQL): SQLite file in WAL mode by default,
/// PostgreSQL when LLMSERVER_DB is set. The schema is created and migrated once, at start, before use.
/// </summary>
public abstract class OpsDatabase : IAsyncDisposable
{
    private readonly Lazy<Task> _migrated;

    protected OpsDatabase()
    {
        _migrated = new Lazy<Task>(() => OpsMigrations.ApplyAsync(this, CancellationToken.None), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public abstract SqlDialect Dialect { get; }

    /// <summary>An open connection (pooled).</summary>
    public abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Begins the transaction kind that serialises writers: BEGIN IMMEDIATE on SQLite, read committed on PostgreSQL.</summary>
    public abstract ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Creates/migrates the schema once per process; later calls return the finished task.</summary>
    public async Task EnsureMigratedAsync(CancellationToken cancellationToken)
    {
        var task = _migrated.Value;
        if (!task.IsCompletedSuccessfully)
        {
            await task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A connection on a migrated schema.</summary>
    public async ValueTask<DbConnection> OpenMigratedAsync(CancellationToken cancellationToken)
    {
        await EnsureMigratedAsync(cancellationToken).ConfigureAwait(false);
        return await OpenAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>SQL for "the larger of a and b".</summary>
    public string Greatest(string a, string b) => Dialect == SqlDialect.Postgres ? $"GREATEST({a}, {b})" : $"MAX({a}, {b})";

    /// <summary>SQL summing an integer column to a bigint (0 when no rows).</summary>
    public string SumInt(string column) => Dialect == SqlDialect.Postgres ? $"COALESCE(SUM({column}), 0)::bigint" : $"COALESCE(SUM({column}), 0)";

    /// <summary>SQL for the UTC day (yyyy-MM-dd) of a unix-milliseconds column.</summary>
    public string UtcDay(string column) => Dialect == SqlDialect.Postgres
        ? $"to_char(to_timestamp({column} / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        : $"strftime('%Y-%m-%d', {column} / 1000, 'unixepoch')";

    public abstract ValueTask DisposeAsync();
}

/// <summary>SQLite file in WAL mode (one instance, or several processes on one machine).</summary>
public sealed class SqliteOpsDatabase : OpsDatabase
{
    /// <summary>The file name under LlmServer:Storage:DataDir.</summary>
    public const string FileName = "llmserver-ops.db";

    private readonly string _connectionString;

    public SqliteOpsDatabase(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    /// <summary>The database file.</summary>
    public string Path { get; }

    public override SqlDialect Dialect => SqlDialect.Sqlite;

    public override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        // NOTE: the directory is created on first use, so an unusable data dir is a failing component
        // on /health rather than a server that cannot start.
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            // NOTE: WAL lets readers run during writes; busy_timeout makes a second writer wait instead of failing.
            await connection.ExecuteAsync("PRAGMA journal_mode=WAL; PRAGMA busy_timeout=30000; PRAGMA synchronous=NORMAL;").ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public override ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        // NOTE: Microsoft.Data.Sqlite starts BEGIN IMMEDIATE when deferred is false: the write lock is taken up
        // front (waiting up to busy_timeout), so a check-then-write inside the transaction cannot interleave with
        // another writer, in this process or another one.
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(IsolationLevel.Serializable, deferred: false));
    }

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>PostgreSQL through one pooled <see cref="NpgsqlDataSource"/>.</summary>
public sealed class PostgresOpsDatabase(NpgsqlDataSource dataSource) : OpsDatabase
{
    public NpgsqlDataSource DataSource => dataSource;

    public override SqlDialect Dialect => SqlDialect.Postgres;

    public override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    public override async ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await ((NpgsqlConnection)connection).BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);

    public override ValueTask DisposeAsync() => dataSource.DisposeAsync();
}
