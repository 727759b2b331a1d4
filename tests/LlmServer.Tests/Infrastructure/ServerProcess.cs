using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LlmServer.Tests.Infrastructure;

/// <summary>
/// The built server (src/LlmServer.Api's LlmServer.Api.dll) as a child process on a loopback port, with its
/// console output kept: what an operator's log collector would receive.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServerProcess(Process process, int port, string dataDir)
    {
        _process = process;
        Port = port;
        DataDir = dataDir;
        _process.OutputDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Port { get; }

    public string DataDir { get; }

    public Uri BaseAddress => new($"http://127.0.0.1:{Port}");

    /// <summary>Everything the server wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    /// <summary>Starts the server with <paramref name="environment"/> on top of a clean environment and waits for /health.</summary>
    public static async Task<ServerProcess> StartAsync(IReadOnlyDictionary<string, string> environment)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "llmserver-proc-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dataDir);
        var port = FreePort();
        var start = StartInfo(port, dataDir, environment);
        var server = new ServerProcess(Process.Start(start)!, port, dataDir);
        using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        for (var i = 0; i < 300; i++)
        {
            if (server._process.HasExited) break;
            try
            {
                using var r = await http.GetAsync("/health");
                return server;
            }
            catch (HttpRequestException)
            {
                await Task.Delay(100);
            }
        }
        var output = server.Output;
        await server.DisposeAsync();
        throw new AssertionException("the server did not start:\n" + output);
    }

    /// <summary>
    /// How to start the built server on <paramref name="port"/> with its data in <paramref name="dataDir"/>: the
    /// settings of this machine that would change its behaviour are removed, then <paramref name="environment"/> applies.
    /// </summary>
    internal static ProcessStartInfo StartInfo(int port, string dataDir, IReadOnlyDictionary<string, string> environment)
    {
        var dll = ServerDll();
        var start = new ProcessStartInfo("dotnet")
        {
            // NOTE: the project directory is the content root, as with `dotnet run` (appsettings.json, wwwroot, nlog.config).
            WorkingDirectory = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(dll)!, "..", "..", "..")),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        foreach (var name in new[] { "LLMSERVER_MASTER_KEY", "LLMSERVER_DB", "REDIS_URL", "LLMSERVER_MASKING", "VLLM_BASE_URL", "ASPNETCORE_URLS", "OTEL_EXPORTER_OTLP_ENDPOINT" })
        {
            start.Environment.Remove(name);
        }
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["LLMSERVER_DATA_DIR"] = dataDir;
        foreach (var (k, v) in environment) start.Environment[k] = v;
        return start;
    }

    /// <summary>The built server next to this test build (same configuration and target framework).</summary>
    internal static string ServerDll()
    {
        var testDir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        var configuration = testDir.Parent!.Name; // bin/<Configuration>/net10.0
        var root = testDir;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "LlmServer.sln"))) root = root.Parent;
        Assert.That(root, Is.Not.Null, "repository root (LlmServer.sln) not found above the test directory");
        var dll = Path.Combine(root!.FullName, "src", "LlmServer.Api", "bin", configuration, testDir.Name, "LlmServer.Api.dll");
        Assert.That(File.Exists(dll), Is.True, $"the built server is missing: {dll}");
        return dll;
    }

    /// <summary>A loopback port free right now.</summary>
    internal static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>Stops the server (SIGTERM-like kill of the process tree) and waits for its output to end.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        try { Directory.Delete(DataDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
