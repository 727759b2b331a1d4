using System.Diagnostics;
using System.Text.Json.Nodes;

namespace LlmServer.Tests.Conformance;

/// <summary>Runs one of the Node client scripts of tests/node-clients and reads the JSON object it prints.</summary>
internal static class NodeClients
{
    /// <summary>The installed clients' folder (scripts/test.sh sets it), or the test is ignored.</summary>
    public static string Directory()
    {
        var dir = Environment.GetEnvironmentVariable("LLMSERVER_TEST_NODE_CLIENTS");
        if (string.IsNullOrEmpty(dir))
        {
            Assert.Ignore("LLMSERVER_TEST_NODE_CLIENTS is not set: run through scripts/test.sh, which installs the npm SDKs.");
        }
        return dir!;
    }

    /// <summary>Runs <c>node <paramref name="script"/></c> with <paramref name="environment"/>; a non-zero exit or a run over <paramref name="timeout"/> fails the test.</summary>
    public static async Task<JsonNode> RunAsync(string dir, string script, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo("node", script)
        {
            WorkingDirectory = dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in environment) psi.Environment[name] = value;
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new AssertionException($"node {script} did not finish within {timeout.TotalSeconds} s: " + await stderr);
        }
        Assert.That(process.ExitCode, Is.EqualTo(0), await stderr);
        return JsonNode.Parse(await stdout) ?? throw new InvalidOperationException("node printed nothing");
    }
}
