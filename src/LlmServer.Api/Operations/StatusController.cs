using LlmServer.Services.Operations;
using Microsoft.AspNetCore.Mvc;

namespace LlmServer.Api.Operations;

/// <summary>Component health and process figures for the status dashboard. Master key when one is set.</summary>
[ApiController]
[Route("api/v1/status")]
[MasterKey(required: false)]
[Produces("application/json")]
public sealed class StatusController(IEnumerable<IStatusContributor> contributors, ProcessSampler process) : ControllerBase
{
    /// <summary>
    /// {"success":true,"data":{"status":"ok|degraded|down","components":[...],"process":{...}}}.
    /// Components are checked in parallel, each bounded to 3 s.
    /// </summary>
    [HttpGet]
    public async Task<IActionResult> Get(CancellationToken cancellationToken)
    {
        var checks = contributors.Select(async c =>
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            try
            {
                return await c.CheckAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return new ComponentStatus(c.GetType().Name, "down", "timed out", 3000);
            }
        });
        var components = await Task.WhenAll(checks);
        var overall = components.Any(c => c.Status == "down") ? "down" : components.Any(c => c.Status == "degraded") ? "degraded" : "ok";
        var p = process.Sample();
        return Ok(new
        {
            success = true,
            data = new
            {
                status = overall,
                components = components.OrderBy(c => c.Name, StringComparer.Ordinal).Select(c => new
                {
                    name = c.Name,
                    status = c.Status,
                    detail = c.Detail,
                    latency_ms = c.LatencyMs is double l ? Math.Round(l, 3) : (double?)null,
                    data = c.Data,
                }),
                process = new
                {
                    cpu_percent = p.CpuPercent,
                    cpu_count = p.CpuCount,
                    working_set_bytes = p.WorkingSetBytes,
                    managed_bytes = p.ManagedBytes,
                    thread_count = p.ThreadCount,
                    uptime_seconds = Math.Round(p.UptimeSeconds, 1),
                },
            },
        });
    }
}
