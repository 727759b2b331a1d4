using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace LlmServer.Tests.Infrastructure;

/// <summary>
/// The real server in-process (WebApplicationFactory) with its own data directory and settings.
/// Settings go through UseSetting so they are visible while Program registers services.
/// Call <see cref="WebApplicationFactory{TEntryPoint}.UseKestrel()"/> before first use to get a real port.
/// </summary>
public sealed class LlmServerApp : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;

    public LlmServerApp(IDictionary<string, string?>? settings = null)
    {
        DataDir = Path.Combine(Path.GetTempPath(), "llmserver-test-" + Guid.NewGuid().ToString("N")[..8]);
        _settings = new Dictionary<string, string?>
        {
            ["LlmServer:Storage:DataDir"] = DataDir,
            // NOTE: a test host that stops with a request still open need not wait the production drain.
            ["LlmServer:Shutdown:DrainSeconds"] = "5",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>())
        {
            _settings[k] = v;
        }
    }

    /// <summary>Where this instance keeps its SQLite files.</summary>
    public string DataDir { get; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        foreach (var (k, v) in _settings)
        {
            builder.UseSetting(k, v);
        }
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        try { Directory.Delete(DataDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
