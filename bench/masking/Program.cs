using System.Diagnostics;
using System.Text;
using LlmServer.Services.Masking;
using LlmServer.Services.Masking.Detection;
using Microsoft.Extensions.Options;

// Masking benchmarks (Stopwatch, Release build). Prints one line per figure.
var options = new MaskingOptions();
var wrapped = Options.Create(options);
var sw = Stopwatch.StartNew();
var scanner = new SensitiveDataScanner(options);
Console.WriteLine($"scanner construction: {sw.Elapsed.TotalMilliseconds:F1} ms");
var service = new MaskingService(wrapped, scanner, new InMemoryMaskingVault(wrapped, TimeProvider.System));

if (args.Length > 0 && args[0] == "diag")
{
    var unit = args[1];
    var sb = new StringBuilder();
    while (sb.Length < 1 << 20) sb.Append(unit);
    var text = sb.ToString();
    foreach (var d in typeof(SensitiveDataScanner).Assembly.GetType("LlmServer.Services.Masking.Detection.BuiltInDetectors")!
        .GetMethod("Create")!.Invoke(null, null) as IEnumerable<object> ?? [])
    {
        var find = d.GetType().GetMethod("Find")!;
        var list = new List<Detection>();
        sw.Restart();
        find.Invoke(d, [text, list]);
        var f = d.GetType().GetField("_regex", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)?.GetValue(d);
        Console.WriteLine($"{sw.Elapsed.TotalMilliseconds,8:F1} ms  {f}");
    }
    return;
}
