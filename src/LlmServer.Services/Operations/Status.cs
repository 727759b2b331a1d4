using System.Diagnostics;
using LlmServer.Services.Accounting;

namespace LlmServer.Services.Operations;

/// <summary>Health of one component ("database", "redis", "ledger", an upstream ...).</summary>
/// <param name="Name">Component name.</param>
/// <param name="Status">"ok", "degraded" or "down".</param>
/// <param name="Detail">A short, secret-free description (kind, error message).</param>
/// <param name="LatencyMs">How long the check took.</param>
/// <param name="Data">Extra numbers (queue depth ...).</param>
public sealed record ComponentStatus(string Name, string Status, string? Detail, double? LatencyMs, IReadOnlyDictionary<string, double>? Data = null);

/// <summary>
/// Something the status page reports on. Register more with
/// <c>services.AddSingleton&lt;IStatusContributor, MyCheck&gt;()</c> (upstreams, masking vault ...).
/// </summary>
public interface IStatusContributor
{
    Task<ComponentStatus> CheckAsync(CancellationToken cancellationToken);
}

/// <summary>Process figures for the status page.</summary>
public sealed record ProcessStatus(double CpuPercent, int CpuCount, long WorkingSetBytes, long ManagedBytes, int ThreadCount, double UptimeSeconds);

/// <summary>The ledger queue as a status component.</summary>
internal sealed class LedgerStatusContributor(ChannelUsageSink sink, IUsageLedgerStore store) : IStatusContributor
{
    public async Task<ComponentStatus> CheckAsync(CancellationToken cancellationToken)
    {
        var sw = Stopwatch.StartNew();
        try
        {
            var rows = await store.CountAsync(cancellationToken).ConfigureAwait(false);
            var depth = sink.QueueDepth;
            return new ComponentStatus("ledger", "ok", null, sw.Elapsed.TotalMilliseconds,
                new Dictionary<string, double> { ["queue_depth"] = depth, ["rows"] = rows });
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return new ComponentStatus("ledger", "down", ex.GetType().Name + ": " + ex.Message, sw.Elapsed.TotalMilliseconds,
                new Dictionary<string, double> { ["queue_depth"] = sink.QueueDepth });
        }
    }
}

/// <summary>Samples CPU use between calls (percent of all processors since the previous sample).</summary>
public sealed class ProcessSampler(TimeProvider time)
{
    private readonly Lock _gate = new();
    private readonly long _started = time.GetTimestamp();
    private long _lastTimestamp = time.GetTimestamp();
    private TimeSpan _lastCpu = Environment.CpuUsage.TotalTime;

    public ProcessStatus Sample()
    {
        double percent;
        lock (_gate)
        {
            var now = time.GetTimestamp();
            var cpu = Environment.CpuUsage.TotalTime;
            var wall = time.GetElapsedTime(_lastTimestamp, now);
            percent = wall.TotalMilliseconds > 0 ? (cpu - _lastCpu).TotalMilliseconds / wall.TotalMilliseconds / Environment.ProcessorCount * 100 : 0;
            _lastTimestamp = now;
            _lastCpu = cpu;
        }
        return new ProcessStatus(Math.Round(Math.Clamp(percent, 0, 100), 2), Environment.ProcessorCount, Environment.WorkingSet,
            GC.GetTotalMemory(false), ThreadPool.ThreadCount, time.GetElapsedTime(_started).TotalSeconds);
    }
}

/// <summary>
/// Shows a status contributor on /health and /api/v1/system/status (ASP.NET Core health checks), so a
/// database or Redis that is down makes /health answer 503 naming it.
/// </summary>
public sealed class ContributorHealthCheck<T>(T contributor) : Microsoft.Extensions.Diagnostics.HealthChecks.IHealthCheck
    where T : IStatusContributor
{
    public async Task<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult> CheckHealthAsync(
        Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var s = await contributor.CheckAsync(cancellationToken).ConfigureAwait(false);
        return s.Status switch
        {
            "ok" => Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy(s.Detail),
            "degraded" => Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Degraded(s.Detail),
            _ => Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Unhealthy(s.Detail),
        };
    }
}
