// allocs TRACE.nettrace REQUESTS : sampled allocations (AllocationTick, one per ~100 KB) per type and per allocating frame, scaled per request.
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;
var path = args[0]; var requests = double.Parse(args[1]);
var etlx = TraceLog.CreateFromEventPipeDataFile(path);
using var log = new TraceLog(etlx);
var byType = new Dictionary<string, double>(); var byFrame = new Dictionary<string, double>();
double total = 0;
foreach (var ev in log.Events)
{
    if (ev is not GCAllocationTickTraceData a) continue;
    var bytes = (double)a.AllocationAmount64; total += bytes;
    byType[a.TypeName] = byType.GetValueOrDefault(a.TypeName) + bytes;
    var stack = ev.CallStack(); var depth = 0; var key = "";
    while (stack is not null && depth < 12)
    {
        var m = stack.CodeAddress.FullMethodName;
        if (!string.IsNullOrEmpty(m) && !m.StartsWith("System.Runtime.CompilerServices") && !m.Contains("Allocat") && !m.StartsWith("System.GC") && !m.Contains("ArrayPool") )
        { key = m; if (m.Contains("LlmServer") || m.Contains("Polly") || m.Contains("Kestrel") || m.Contains("Http") || m.Contains("Json") || m.Contains("OpenTelemetry") || m.Contains("Sqlite")) break; }
        stack = stack.Caller; depth++;
    }
    byFrame[key] = byFrame.GetValueOrDefault(key) + bytes;
}
Console.WriteLine($"total sampled {total / requests:F0} bytes/request");
foreach (var (k, v) in byType.OrderByDescending(p => p.Value).Take(40)) Console.WriteLine($"{v / requests,8:F0} B/req  {k}");
Console.WriteLine("-- by nearest interesting frame");
foreach (var (k, v) in byFrame.OrderByDescending(p => p.Value).Take(40)) Console.WriteLine($"{v / requests,8:F0} B/req  {k}");
