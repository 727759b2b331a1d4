using LlmServer.External.Operations;
using Npgsql;

namespace LlmServer.Tests.Integration.Operations;

/// <summary>Real databases for the operations tests: a temp SQLite file, or the PostgreSQL of LLMSERVER_TEST_PG.</summary>
internal static class OpsTestDatabases
{
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    public static string? PostgresConnectionString => Environment.GetEnvironmentVariable("LLMSERVER_TEST_PG") is { Length: > 0 } s ? s : null;

    public static void RequirePostgres()
    {
        if (PostgresConnectionString is null)
        {
            Assert.Ignore("LLMSERVER_TEST_PG is not set: run `source scripts/services.sh; services_start` (scripts/services.d/postgres.sh) to test against PostgreSQL.");
        }
    }

    /// <summary>
    /// <paramref name="count"/> independent database objects over the same database — separate pools, as separate
    /// server instances would have.
    /// </summary>
    public static List<OpsDatabase> Open(string kind, int count, string sqliteDir)
    {
        var list = new List<OpsDatabase>();
        for (var i = 0; i < count; i++)
        {
            if (kind == Postgres)
            {
                RequirePostgres();
                list.Add(new PostgresOpsDatabase(new NpgsqlDataSourceBuilder(PostgresConnectionString) { Name = $"test-instance-{i}" }.Build()));
            }
            else
            {
                list.Add(new SqliteOpsDatabase(Path.Combine(sqliteDir, "ops.db")));
            }
        }
        return list;
    }

    public static string NewTempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "llmserver-ops-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static void DeleteDir(string dir)
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
