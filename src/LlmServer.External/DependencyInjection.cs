using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LlmServer.External;

/// <summary>Registration of everything that talks to another process: upstream clients and stores.</summary>
public static class DependencyInjection
{
    /// <summary>Adds upstream clients and the configured stores (SQLite by default, PostgreSQL, Redis).</summary>
    public static IServiceCollection AddLlmServerExternal(this IServiceCollection services, IConfiguration configuration)
    {
        // --- session chat API ---
        services.AddSessionChatExternal();

        // --- upstream transport (every kind, both wire dialects) ---
        Upstreams.GatewayExternal.AddGatewayUpstreams(services);

        // --- masking ---
        services.AddMaskingVault(configuration);

        // --- operations: keys, budgets, ledger, metrics ---
        Operations.OperationsStoresExtensions.AddOperationsStores(services, configuration);

        return services;
    }
}
