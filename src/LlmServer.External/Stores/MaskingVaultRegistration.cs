using LlmServer.External.Redis;
using LlmServer.External.Stores;
using LlmServer.Services.Masking;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;

// NOTE: in the DI namespace so DependencyInjection.cs needs no extra using (fewer merge conflicts).
namespace LlmServer.External;

/// <summary>
/// Chooses the masking vault: Redis when a Redis URL is set; else PostgreSQL when LLMSERVER_DB is set (unless
/// LlmServer:Masking:Vault is Sqlite); else SQLite or memory per LlmServer:Masking:Vault.
/// </summary>
public static class MaskingVaultRegistration
{
    /// <summary>Replaces the default in-memory vault when configuration asks for another one.</summary>
    public static IServiceCollection AddMaskingVault(this IServiceCollection services, IConfiguration configuration)
    {
        var redisUrl = configuration["LlmServer:Storage:RedisUrl"];
        var pg = configuration["LlmServer:Storage:PostgresConnectionString"];
        var kind = configuration.GetValue<MaskingVaultKind?>("LlmServer:Masking:Vault") ?? MaskingVaultKind.Memory;
        if (!string.IsNullOrWhiteSpace(redisUrl))
        {
            services.AddRedisConnection(redisUrl);
            services.Replace(ServiceDescriptor.Singleton<IMaskingVault>(sp => new RedisMaskingVault(
                sp.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>(), sp.GetRequiredService<IOptions<MaskingOptions>>().Value.VaultTtl)));
        }
        else if (!string.IsNullOrWhiteSpace(pg) && kind != MaskingVaultKind.Sqlite)
        {
            // NOTE: with PostgreSQL the instances share one database, so placeholders must be shared too (memory would not be).
            services.TryAddSingleton(_ => new NpgsqlDataSourceBuilder(pg) { Name = "llmserver" }.Build());
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
        return services;
    }
}
