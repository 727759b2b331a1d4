using System.Diagnostics;
using System.Runtime.InteropServices;

namespace LlmServer.Api.Chat;

/// <summary>Process and machine figures for GET /api/v1/system/info. CPU % is measured since the previous call.</summary>
public sealed class SystemInfoCollector
{
    private readonly Lock _lock = new();
    private TimeSpan _lastCpu = Process.GetCurrentProcess().TotalProcessorTime;
    private long _lastTimestamp = Stopwatch.GetTimestamp();

    /// <summary>Process CPU use across all cores, in percent of the machine, since the previous call.</summary>
    public double CpuPercent()
    {
        lock (_lock)
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var now = Stopwatch.GetTimestamp();
            var wall = Stopwatch.GetElapsedTime(_lastTimestamp, now);
            var used = cpu - _lastCpu;
            _lastCpu = cpu;
            _lastTimestamp = now;
            return wall <= TimeSpan.Zero ? 0 : Math.Round(100.0 * used.TotalMilliseconds / (wall.TotalMilliseconds * Environment.ProcessorCount), 2);
        }
    }

    /// <summary>Total and available machine memory in bytes (from /proc/meminfo on Linux; GC's view elsewhere).</summary>
    public static (long? Total, long? Available) MachineMemory()
    {
        try
        {
            if (File.Exists("/proc/meminfo"))
            {
                long? total = null, available = null;
                foreach (var line in File.ReadLines("/proc/meminfo"))
                {
                    if (line.StartsWith("MemTotal:", StringComparison.Ordinal)) total = Kb(line);
                    else if (line.StartsWith("MemAvailable:", StringComparison.Ordinal)) available = Kb(line);
                }
                return (total, available);
            }
        }
        catch (IOException)
        {
        }
        return (GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, null);
    }

    private static long? Kb(string line)
    {
        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 2 && long.TryParse(parts[1], out var kb) ? kb * 1024 : null;
    }

    /// <summary>The OS description.</summary>
    public static string Os => RuntimeInformation.OSDescription;
}
