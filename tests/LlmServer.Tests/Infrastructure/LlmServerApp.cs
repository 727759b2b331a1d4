using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace LlmServer.Tests.Infrastructure;

/// <summary>
/// The real server in-process (WebApplicationFactory) with its own data directory, settings and test service
/// overrides. Settings go through UseSetting so they are visible while Program registers services.
/// Call <see cref="WebApplicationFactory{TEntryPoint}.UseKestrel()"/> before first use to get a real port.
/// Fixtures compose it through <see cref="LlmServerHostBuilder"/>.
/// </summary>
public sealed class LlmServerApp : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _services;

    public LlmServerApp(IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
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
        _services = services;
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
        if (_services is not null) builder.ConfigureTestServices(_services);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        try { Directory.Delete(DataDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
