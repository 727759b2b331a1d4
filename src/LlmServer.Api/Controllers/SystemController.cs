using System.Reflection;
using System.Runtime.InteropServices;
using LlmServer.Api.Chat;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmServer.Api.Controllers;

/// <summary>System API: name and version, component health and request figures, process and machine figures.</summary>
[ApiController]
[Route("api/v1")]
[Produces("application/json")]
public sealed class SystemController(RequestStats stats, SystemInfoCollector info, HealthCheckService health) : ControllerBase
{
    private static readonly string s_version =
        typeof(SystemController).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    /// <summary>Name, version and uptime.</summary>
    [HttpGet("")]
    public IActionResult Root() => Ok(new
    {
        name = "LlmServer",
        version = s_version,
        status = "running",
        started_at = stats.StartedAt,
        uptime_seconds = Math.Round((DateTimeOffset.UtcNow - stats.StartedAt).TotalSeconds, 1),
        docs = "/docs",
    });

    /// <summary>Each component's health (store, upstream configured) and requests, errors, p50/p95 latency since start.</summary>
    [HttpGet("system/status")]
    public async Task<IActionResult> StatusAsync()
    {
        var report = await health.CheckHealthAsync(HttpContext.RequestAborted);
        var s = stats.Snapshot();
        return Ok(new
        {
            status = HealthText(report.Status),
            uptime_seconds = Math.Round((DateTimeOffset.UtcNow - stats.StartedAt).TotalSeconds, 1),
            components = report.Entries.ToDictionary(e => e.Key, e => new { status = HealthText(e.Value.Status), description = e.Value.Description }),
            requests = new
            {
                total = s.Requests,
                client_errors = s.ClientErrors,
                server_errors = s.ServerErrors,
                latency_ms_p50 = s.P50,
                latency_ms_p95 = s.P95,
            },
            cpu_percent = info.CpuPercent(),
            memory_working_set_bytes = Environment.WorkingSet,
        });
    }

    /// <summary>CPU %, process and machine memory, GC, thread pool, OS and .NET version.</summary>
    [HttpGet("system/info")]
    public IActionResult Info()
    {
        var (total, available) = SystemInfoCollector.MachineMemory();
        var gc = GC.GetGCMemoryInfo();
        ThreadPool.GetMinThreads(out var minWorkers, out var minIo);
        ThreadPool.GetMaxThreads(out var maxWorkers, out var maxIo);
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        return Ok(new
        {
            cpu = new { percent = info.CpuPercent(), processor_count = Environment.ProcessorCount },
            process = new
            {
                id = Environment.ProcessId,
                working_set_bytes = process.WorkingSet64,
                private_memory_bytes = process.PrivateMemorySize64,
                threads = process.Threads.Count,
                start_time = stats.StartedAt,
            },
            machine = new { memory_total_bytes = total, memory_available_bytes = available, name = Environment.MachineName },
            gc = new
            {
                heap_size_bytes = GC.GetTotalMemory(forceFullCollection: false),
                last_gc_heap_size_bytes = gc.HeapSizeBytes,
                total_allocated_bytes = GC.GetTotalAllocatedBytes(),
                gen0_collections = GC.CollectionCount(0),
                gen1_collections = GC.CollectionCount(1),
                gen2_collections = GC.CollectionCount(2),
                server_gc = System.Runtime.GCSettings.IsServerGC,
                pause_time_percentage = gc.PauseTimePercentage,
                // NOTE: what the GC holds from the OS and how much of it is free space between objects, so a rise in
                // RSS can be told apart: live objects, the GC keeping freed space, or memory outside the GC.
                committed_bytes = gc.TotalCommittedBytes,
                fragmented_bytes = gc.FragmentedBytes,
                generations = GenerationSizes(gc),
            },
            thread_pool = new
            {
                threads = ThreadPool.ThreadCount,
                pending_work_items = ThreadPool.PendingWorkItemCount,
                completed_work_items = ThreadPool.CompletedWorkItemCount,
                min_worker_threads = minWorkers, min_io_threads = minIo,
                max_worker_threads = maxWorkers, max_io_threads = maxIo,
            },
            jit = new
            {
                compiled_methods = System.Runtime.JitInfo.GetCompiledMethodCount(),
                compiled_il_bytes = System.Runtime.JitInfo.GetCompiledILBytes(),
                compilation_time_ms = System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds,
            },
            os = new { description = SystemInfoCollector.Os, architecture = RuntimeInformation.OSArchitecture.ToString() },
            dotnet = new { version = Environment.Version.ToString(), framework = RuntimeInformation.FrameworkDescription },
        });
    }

    private static object[] GenerationSizes(GCMemoryInfo gc)
    {
        // NOTE: 0-2, then the large- and pinned-object heaps, as the runtime numbers them.
        string[] names = ["gen0", "gen1", "gen2", "loh", "poh"];
        var generations = gc.GenerationInfo;
        var sizes = new object[Math.Min(names.Length, generations.Length)];
        for (var i = 0; i < sizes.Length; i++)
        {
            sizes[i] = new { name = names[i], size_after_bytes = generations[i].SizeAfterBytes, fragmentation_after_bytes = generations[i].FragmentationAfterBytes };
        }
        return sizes;
    }

    internal static string HealthText(HealthStatus status) => status switch
    {
        HealthStatus.Healthy => "healthy",
        HealthStatus.Degraded => "degraded",
        _ => "unhealthy",
    };
}
