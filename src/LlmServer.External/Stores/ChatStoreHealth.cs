using LlmServer.Services.Chat;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LlmServer.External.Stores;

/// <summary>Creates the SQLite file on first start.</summary>
internal sealed partial class ChatStoreInitializer(SqliteChatHistoryStore store, ILogger<ChatStoreInitializer> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            store.EnsureCreated();
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException or UnauthorizedAccessException)
        {
            // NOTE: keep serving (system API, /docs, chat without session); /health names the failing store.
            LogStoreFailed(logger, store.FilePath, ex);
        }
        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = 2401, Level = LogLevel.Error, Message = "Chat history store {Path} could not be created")]
    private static partial void LogStoreFailed(ILogger logger, string path, Exception exception);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Healthy when the SQLite history store answers a query.</summary>
internal sealed class ChatStoreHealthCheck(SqliteChatHistoryStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await store.PingAsync(cancellationToken);
            return HealthCheckResult.Healthy("SQLite " + Path.GetFileName(store.FilePath));
        }
        catch (LlmServer.Services.Errors.LlmServerException ex)
        {
            return HealthCheckResult.Unhealthy("SQLite history store unavailable: " + ex.Message);
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException or UnauthorizedAccessException)
        {
            return HealthCheckResult.Unhealthy("SQLite history store unavailable: " + ex.GetType().Name);
        }
    }
}

/// <summary>Degraded (not failing) when no server key is configured: callers' own keys still work.</summary>
internal sealed class OpenAiConfiguredHealthCheck(IResponsesUpstream upstream) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(upstream.HasServerKey
            ? HealthCheckResult.Healthy("server key configured")
            : HealthCheckResult.Degraded("OPENAI_API_KEY not set: only requests with their own openai_api_key work"));
}
