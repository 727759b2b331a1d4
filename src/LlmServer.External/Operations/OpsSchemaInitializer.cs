using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LlmServer.External.Operations;

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
