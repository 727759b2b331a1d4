using LlmServer.Services.Accounting;
using LlmServer.Services.Keys;
using LlmServer.Services.Limits;
using LlmServer.Services.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmServer.Services.Operations;

/// <summary>Registration of keys, budgets, rate limits, the usage ledger and metrics.</summary>
public static class OperationsServiceCollectionExtensions
{
    /// <summary>
    /// Adds the operations services. Stores (IVirtualKeyStore, IBudgetStore, IUsageLedgerStore, shared rate
    /// limiters) come from LlmServer.External's AddOperationsStores.
    /// </summary>
    public static IServiceCollection AddOperations(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<OperationsOptions>().BindConfiguration(OperationsOptions.SectionName)
            .Validate(o => o.Ledger.BatchSize > 0 && o.Ledger.QueueCapacity > 0 && o.Ledger.FlushIntervalMs > 0,
                "LlmServer:Operations:Ledger: BatchSize, QueueCapacity and FlushIntervalMs must be positive.")
            .Validate(o => o.RateLimits.GlobalConcurrency >= 0 && o.RateLimits.GlobalQueue >= 0,
                "LlmServer:Operations:RateLimits: GlobalConcurrency and GlobalQueue must not be negative.")
            .Validate(o => o.RateLimits.Backend is "auto" or "local" or "redis" or "postgres",
                "LlmServer:Operations:RateLimits:Backend must be auto, local, redis or postgres.")
            .ValidateOnStart();
        services.AddMetrics();
        services.TryAddSingleton<MetricLabels>();
        services.TryAddSingleton<LlmServerMetrics>();
        services.TryAddSingleton<LlmServerTelemetry>();

        // Shutdown: the host drains running requests for DrainSeconds, then cancels them; the ledger waits for them.
        services.AddOptions<ShutdownOptions>().BindConfiguration(ShutdownOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<Microsoft.Extensions.Hosting.HostOptions>().Configure<Microsoft.Extensions.Options.IOptions<ShutdownOptions>>(
            (host, shutdown) => host.ShutdownTimeout = TimeSpan.FromSeconds(shutdown.Value.DrainSeconds));
        services.TryAddSingleton<InFlightRequests>();

        services.TryAddSingleton<ChannelUsageSink>();
        services.Replace(ServiceDescriptor.Singleton<IUsageSink>(sp => sp.GetRequiredService<ChannelUsageSink>()));
        services.AddHostedService<UsageLedgerWriter>();

        services.TryAddSingleton<IVirtualKeyService, VirtualKeyService>();
        services.TryAddSingleton<IBudgetService, BudgetService>();
        services.TryAddSingleton<LocalKeyRateLimiter>();
        services.TryAddSingleton<IKeyRateLimiter>(sp => sp.GetRequiredService<LocalKeyRateLimiter>());
        services.TryAddSingleton<GlobalConcurrencyLimiter>();
        services.TryAddSingleton<IRequestAdmission, RequestAdmission>();
        services.TryAddSingleton<ProcessSampler>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStatusContributor, LedgerStatusContributor>());
        return services;
    }
}
