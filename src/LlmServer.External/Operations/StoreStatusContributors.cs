using System.Diagnostics;
using Dapper;
using LlmServer.Services.Operations;
using StackExchange.Redis;

namespace LlmServer.External.Operations;

/// <summary>The operations database (SQLite or PostgreSQL) as a status component.</summary>
internal sealed class DatabaseStatusContributor(OpsDatabase db) : IStatusContributor
{
    public async Task<ComponentStatus> CheckAsync(CancellationToken cancellationToken)
    {
        var kind = db.Dialect == SqlDialect.Postgres ? "postgresql" : "sqlite";
        var sw = Stopwatch.StartNew();
        try
        {
            await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
            await c.ExecuteScalarAsync<int>(new CommandDefinition("SELECT 1", cancellationToken: cancellationToken)).ConfigureAwait(false);
            return new ComponentStatus("database", "ok", kind, sw.Elapsed.TotalMilliseconds);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // NOTE: the exception type only: a connection error message can echo the connection string.
            return new ComponentStatus("database", "down", $"{kind}: {ex.GetType().Name}", sw.Elapsed.TotalMilliseconds);
        }
    }
}

/// <summary>Redis (shared rate limits and masking vault) as a status component.</summary>
internal sealed class RedisStatusContributor(IConnectionMultiplexer redis) : IStatusContributor
{
    public async Task<ComponentStatus> CheckAsync(CancellationToken cancellationToken)
    {
        var sw = Stopwatch.StartNew();
        try
        {
            var ping = await redis.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
            return new ComponentStatus("redis", "ok", "reachable", ping.TotalMilliseconds);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new ComponentStatus("redis", "down", ex.GetType().Name, sw.Elapsed.TotalMilliseconds);
        }
    }
}
