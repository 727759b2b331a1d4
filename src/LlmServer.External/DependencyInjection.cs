using LlmServer.External.OpenAi;
using LlmServer.External.Operations;
using LlmServer.External.Redis;
using LlmServer.External.Stores;
using LlmServer.External.Upstreams;
using LlmServer.Services.Accounting;
using LlmServer.Services.Chat;
using LlmServer.Services.Configuration;
using LlmServer.Services.Keys;
using LlmServer.Services.Limits;
using LlmServer.Services.Masking;
using LlmServer.Services.Operations;
using LlmServer.Services.Ownership;
using LlmServer.Services.Routing;
using LlmServer.Services.Transport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;

namespace LlmServer.External;

/// <summary>Registration of everything that talks to another process: upstream clients and stores.</summary>
public static class DependencyInjection
{
    /// <summary>
    /// Adds the upstream clients and the configured stores: SQLite files under LlmServer:Storage:DataDir by default,
    /// PostgreSQL when LlmServer:Storage:PostgresConnectionString (LLMSERVER_DB) is set, Redis for what instances
    /// share when LlmServer:Storage:RedisUrl (REDIS_URL) is set.
    /// </summary>
    public static IServiceCollection AddLlmServerExternal(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<StorageOptions, StorageOptionsValidator>(StorageOptions.SectionName);
        // NOTE: which stores exist is decided while registering, so the storage settings are read here once.
        var storage = configuration.GetSection(StorageOptions.SectionName).Get<StorageOptions>() ?? new StorageOptions();
        // NOTE: the pipeline resolves stores while it is built, before ValidateOnStart runs; check them first.
        if (new StorageOptionsValidator().Validate(null, storage) is { Failed: true } invalid)
        {
            throw new OptionsValidationException(StorageOptions.SectionName, typeof(StorageOptions), invalid.Failures);
        }
        var vault = configuration.GetValue<MaskingVaultKind?>($"{MaskingOptions.SectionName}:Vault") ?? MaskingVaultKind.Memory;
        var rateLimitBackend = configuration.GetValue<string>($"{OperationsOptions.SectionName}:RateLimits:Backend") ?? "auto";
        services.AddSessionChatUpstreamAndHistory();
        services.AddUpstreamTransport();
        services.AddMaskingVault(storage, vault);
        services.AddOperationsStores(storage);
        services.AddSharedRateLimits(storage, rateLimitBackend);
        return services;
    }

    /// <summary>The session chat API's Responses upstream and its SQLite history store (PostgreSQL replaces it below).</summary>
    private static void AddSessionChatUpstreamAndHistory(this IServiceCollection services)
    {
        services.AddSingleton<IResponsesUpstream>(ResponsesUpstreamFactory.Create);
        services.AddSingleton<SqliteChatHistoryStore>();
        services.TryAddSingleton<IChatHistoryStore>(sp => sp.GetRequiredService<SqliteChatHistoryStore>());
        services.AddHostedService<ChatStoreInitializer>();
        services.AddHealthChecks()
            .AddCheck<ChatStoreHealthCheck>("chat_store")
            .AddCheck<OpenAiConfiguredHealthCheck>("openai_upstream");
    }

    /// <summary>The one upstream transport (every kind, both wire dialects): connection pools, protocols, the resilient forwarder, model discovery.</summary>
    private static void AddUpstreamTransport(this IServiceCollection services)
    {
        services.AddSingleton<UpstreamHttpClients>();
        services.AddSingleton<IUpstreamProtocol>(new OpenAiProtocol(UpstreamKinds.OpenAi));
        services.AddSingleton<IUpstreamProtocol>(new OpenAiProtocol(UpstreamKinds.OpenAiCompatible));
        services.AddSingleton<IUpstreamProtocol, AzureOpenAiProtocol>();
        services.AddSingleton<IUpstreamProtocol, AnthropicProtocol>();
        services.AddSingleton<UpstreamProtocols>();
        services.AddSingleton<IUpstreamForwarder, UpstreamForwarder>();
        services.AddHostedService<ModelDiscoveryService>();
    }

    /// <summary>
    /// The masking vault: Redis when a Redis URL is set; else PostgreSQL when LLMSERVER_DB is set (unless
    /// LlmServer:Masking:Vault is Sqlite); else SQLite or memory per LlmServer:Masking:Vault.
    /// </summary>
    private static void AddMaskingVault(this IServiceCollection services, StorageOptions storage, MaskingVaultKind kind)
    {
        if (storage.UsesRedis)
        {
            services.AddRedisConnection(storage.RedisUrl);
            services.Replace(ServiceDescriptor.Singleton<IMaskingVault>(sp => new RedisMaskingVault(
                sp.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>(), sp.GetRequiredService<IOptions<MaskingOptions>>().Value.VaultTtl)));
        }
        else if (storage.UsesPostgres && kind != MaskingVaultKind.Sqlite)
        {
            // NOTE: with PostgreSQL the instances share one database, so placeholders must be shared too (memory would not be).
            services.AddPostgresDataSource(storage);
            services.Replace(ServiceDescriptor.Singleton<IMaskingVault>(sp => new PostgresMaskingVault(
                sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<IOptions<MaskingOptions>>().Value.VaultTtl,
                sp.GetService<TimeProvider>() ?? TimeProvider.System)));
        }
        else if (kind == MaskingVaultKind.Sqlite)
        {
            services.Replace(ServiceDescriptor.Singleton<IMaskingVault, SqliteMaskingVault>());
        }
        else if (kind == MaskingVaultKind.Redis)
        {
            throw new InvalidOperationException(
                "LlmServer:Masking:Vault is 'Redis' but no Redis URL is set (REDIS_URL or LlmServer:Storage:RedisUrl).");
        }
    }

    /// <summary>
    /// Keys, budgets, the ledger and stored responses: a SQLite file (WAL) by default; PostgreSQL when configured,
    /// which then also replaces the SQLite chat history store.
    /// </summary>
    private static void AddOperationsStores(this IServiceCollection services, StorageOptions storage)
    {
        if (storage.UsesPostgres)
        {
            services.AddPostgresDataSource(storage);
            services.TryAddSingleton(sp => new PostgresOpsDatabase(sp.GetRequiredService<NpgsqlDataSource>()));
            services.TryAddSingleton<OpsDatabase>(sp => sp.GetRequiredService<PostgresOpsDatabase>());
            services.Replace(ServiceDescriptor.Singleton<IChatHistoryStore, PostgresChatHistoryStore>());
        }
        else
        {
            var path = Path.Combine(storage.DataDirOrDefault, SqliteOpsDatabase.FileName);
            services.TryAddSingleton<OpsDatabase>(_ => new SqliteOpsDatabase(path));
        }
        services.TryAddSingleton<IVirtualKeyStore, SqlVirtualKeyStore>();
        services.TryAddSingleton<IBudgetStore, SqlBudgetStore>();
        services.TryAddSingleton<IUsageLedgerStore, SqlUsageLedgerStore>();
        services.TryAddSingleton<IOwnedResponseStore, SqlOwnedResponseStore>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStatusContributor, DatabaseStatusContributor>());
        services.TryAddSingleton(sp => new DatabaseStatusContributor(sp.GetRequiredService<OpsDatabase>()));
        services.AddHealthChecks().AddCheck<ContributorHealthCheck<DatabaseStatusContributor>>("database");
        // NOTE: before the ledger writer and the server: the schema is ready (or start fails with the reason).
        services.Insert(0, ServiceDescriptor.Singleton<IHostedService, OpsSchemaInitializer>());
    }

    /// <summary>Per-key rpm/tpm windows shared across instances: Redis ("auto" with a Redis URL, or "redis") or PostgreSQL.</summary>
    private static void AddSharedRateLimits(this IServiceCollection services, StorageOptions storage, string backend)
    {
        var useRedis = backend.Equals("redis", StringComparison.OrdinalIgnoreCase)
            || (backend.Equals("auto", StringComparison.OrdinalIgnoreCase) && storage.UsesRedis);
        if (useRedis)
        {
            if (!storage.UsesRedis)
            {
                throw new InvalidOperationException("LlmServer:Operations:RateLimits:Backend is 'redis' but LlmServer:Storage:RedisUrl (REDIS_URL) is empty.");
            }
            services.AddRedisConnection(storage.RedisUrl);
            services.Replace(ServiceDescriptor.Singleton<IKeyRateLimiter, RedisKeyRateLimiter>());
        }
        else if (backend.Equals("postgres", StringComparison.OrdinalIgnoreCase))
        {
            services.Replace(ServiceDescriptor.Singleton<IKeyRateLimiter, SqlKeyRateLimiter>());
        }
    }

    /// <summary>One PostgreSQL data source for every store that uses it.</summary>
    private static void AddPostgresDataSource(this IServiceCollection services, StorageOptions storage)
    {
        var connectionString = storage.PostgresConnectionString;
        services.TryAddSingleton(_ => new NpgsqlDataSourceBuilder(connectionString) { Name = "llmserver" }.Build());
    }
}
