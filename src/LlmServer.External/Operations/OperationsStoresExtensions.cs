using LlmServer.Services.Operations;
using Microsoft.Extensions.Logging;
using LlmServer.Services.Accounting;
using LlmServer.Services.Chat;
using LlmServer.Services.Keys;
using LlmServer.Services.Limits;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Npgsql;
using LlmServer.External.Redis;

namespace LlmServer.External.Operations;

/// <summary>Registration of the operations stores.</summary>
public static class OperationsStoresExtensions
{
    /// <summary>The SQLite file name under LlmServer:Storage:DataDir.</summary>
    public const string SqliteFileName = "llmserver-ops.db";

    /// <summary>
    /// SQLite (file under LlmServer:Storage:DataDir, WAL) by default; PostgreSQL when
    /// LlmServer:Storage:PostgresConnectionString (LLMSERVER_DB) is set — then the PostgreSQL chat history store
    /// replaces whatever IChatHistoryStore was registered before. Redis (LlmServer:Storage:RedisUrl / REDIS_URL)
    /// shares per-key rate limits across instances.
    /// </summary>
    public static IServiceCollection AddOperationsStores(this IServiceCollection services, IConfiguration configuration)
    {
        var pg = configuration["LlmServer:Storage:PostgresConnectionString"];
        if (!string.IsNullOrWhiteSpace(pg))
        {
            services.TryAddSingleton(_ => new NpgsqlDataSourceBuilder(pg) { Name = "llmserver" }.Build());
            services.TryAddSingleton(sp => new PostgresOpsDatabase(sp.GetRequiredService<NpgsqlDataSource>()));
            services.TryAddSingleton<OpsDatabase>(sp => sp.GetRequiredService<PostgresOpsDatabase>());
            services.Replace(ServiceDescriptor.Singleton<IChatHistoryStore, PostgresChatHistoryStore>());
        }
        else
        {
            var dir = configuration["LlmServer:Storage:DataDir"];
            var path = Path.Combine(string.IsNullOrWhiteSpace(dir) ? "./data" : dir, SqliteFileName);
            services.TryAddSingleton<OpsDatabase>(_ => new SqliteOpsDatabase(path));
        }
        services.TryAddSingleton<IVirtualKeyStore, SqlVirtualKeyStore>();
        services.TryAddSingleton<IBudgetStore, SqlBudgetStore>();
        services.TryAddSingleton<IUsageLedgerStore, SqlUsageLedgerStore>();
        services.TryAddSingleton<LlmServer.Services.Ownership.IOwnedResponseStore, SqlOwnedResponseStore>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<LlmServer.Services.Operations.IStatusContributor, DatabaseStatusContributor>());
        services.TryAddSingleton(sp => new DatabaseStatusContributor(sp.GetRequiredService<OpsDatabase>()));
        services.AddHealthChecks().AddCheck<ContributorHealthCheck<DatabaseStatusContributor>>("database");
        // Before the ledger writer and the server: the schema is ready (or start fails with the reason).
        services.Insert(0, ServiceDescriptor.Singleton<IHostedService, OpsSchemaInitializer>());

        var backend = configuration["LlmServer:Operations:RateLimits:Backend"] ?? "auto";
        var redisUrl = configuration["LlmServer:Storage:RedisUrl"];
        var useRedis = backend.Equals("redis", StringComparison.OrdinalIgnoreCase)
            || (backend.Equals("auto", StringComparison.OrdinalIgnoreCase) && !string.IsNullOrWhiteSpace(redisUrl));
        if (useRedis)
        {
            if (string.IsNullOrWhiteSpace(redisUrl))
            {
                throw new InvalidOperationException("LlmServer:Operations:RateLimits:Backend is 'redis' but LlmServer:Storage:RedisUrl (REDIS_URL) is empty.");
            }
            services.AddRedisConnection(redisUrl);
            services.Replace(ServiceDescriptor.Singleton<IKeyRateLimiter, RedisKeyRateLimiter>());
        }
        else if (backend.Equals("postgres", StringComparison.OrdinalIgnoreCase))
        {
            services.Replace(ServiceDescriptor.Singleton<IKeyRateLimiter, SqlKeyRateLimiter>());
        }
        return services;
    }
}

/// <summary>
/// Applies the operations schema at start. A database that cannot be reached does not stop the server:
/// it is logged, shown as a failing component on /health and the status API, and migration is retried on use.
/// </summary>
internal sealed partial class OpsSchemaInitializer(OpsDatabase db, ILogger<OpsSchemaInitializer> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await db.EnsureMigratedAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // NOTE: the type only; a connection error message can echo the connection string.
            LogMigrationFailed(ex.GetType().Name);
        }
    }

    [LoggerMessage(Level = LogLevel.Critical, Message = "Operations database unavailable at start ({ErrorType}); keys, budgets and the ledger fail until it is reachable")]
    private partial void LogMigrationFailed(string errorType);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
