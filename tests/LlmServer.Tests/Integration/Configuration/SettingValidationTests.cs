using System.Diagnostics;
using LlmServer.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace LlmServer.Tests.Integration.Configuration;

/// <summary>A bad setting stops the server at start with a message naming it, instead of failing requests later.</summary>
[TestFixture]
public sealed class SettingValidationTests
{
    [TestCase("LlmServer:Gateway:Retry:MaxAttempts", "5", "LlmServer:Gateway:Retry:MaxAttempts must be between 1 and 3")]
    [TestCase("LlmServer:Gateway:CircuitBreaker:FailureRatio", "1.5", "LlmServer:Gateway:CircuitBreaker:FailureRatio must be between 0 and 1")]
    [TestCase("LlmServer:Gateway:Timeouts:FirstByteSeconds", "0", "LlmServer:Gateway:Timeouts:FirstByteSeconds must be more than 0")]
    [TestCase("LlmServer:Gateway:MaxRequestBodyBytes", "0", "LlmServer:Gateway:MaxRequestBodyBytes must be at least 1")]
    [TestCase("LlmServer:Chat:History:MaxTurns", "-1", "LlmServer:Chat:History:MaxTurns must be between 0 and 1000")]
    [TestCase("LlmServer:Chat:DefaultLanguage", "fr", "LlmServer:Chat:DefaultLanguage must be ko or en")]
    [TestCase("LlmServer:OpenAi:BaseUrl", "api.openai.com/v1", "LlmServer:OpenAi:BaseUrl (OPENAI_BASE_URL) must be an absolute http(s) URL")]
    [TestCase("LlmServer:Vllm:BaseUrl", "gpu-host:8000", "LlmServer:Vllm:BaseUrl (VLLM_BASE_URL) must be an absolute http(s) URL")]
    [TestCase("LlmServer:Anthropic:TimeoutSeconds", "0", "LlmServer:Anthropic:TimeoutSeconds must be between")]
    [TestCase("LlmServer:Operations:Ledger:BatchSize", "0", "LlmServer:Operations:Ledger:BatchSize must be at least 1")]
    [TestCase("LlmServer:Operations:Budgets:UnknownPrice", "maybe", "LlmServer:Operations:Budgets:UnknownPrice must be allow or deny")]
    [TestCase("LlmServer:Shutdown:DrainSeconds", "0", "LlmServer:Shutdown:DrainSeconds must be between 1 and 3600")]
    [TestCase("LlmServer:Limits:MaxRequestBodyBytes", "0", "LlmServer:Limits:MaxRequestBodyBytes must be at least 1")]
    [TestCase("LlmServer:Pricing:Models:gpt-4o:Output", "-10", "LlmServer:Pricing:Models:gpt-4o:Output must not be negative")]
    public void BadSetting_FailsTheStartNamingIt(string key, string value, string message)
    {
        using var app = new LlmServerApp(new Dictionary<string, string?> { [key] = value });

        var ex = Assert.Throws<OptionsValidationException>(() => app.CreateClient());

        Assert.That(ex!.Message, Does.Contain(message));
    }

    [Test]
    public void MasterKeyLongerThanAnyPresentableKey_FailsTheStartNamingIt()
    {
        using var app = new LlmServerApp(new Dictionary<string, string?> { ["LlmServer:Auth:MasterKey"] = new string('k', 1025) });

        var ex = Assert.Throws<OptionsValidationException>(() => app.CreateClient());

        Assert.That(ex!.Message, Does.Contain("LlmServer:Auth:MasterKey (LLMSERVER_MASTER_KEY) must be at most 1024 characters"));
    }

    [Test]
    public void MalformedPostgresConnectionString_FailsTheStartWithoutQuotingIt()
    {
        using var app = new LlmServerApp(new Dictionary<string, string?>
        {
            ["LlmServer:Storage:PostgresConnectionString"] = "Host=db;Password=hunter2-secret;oops",
        });

        var ex = Assert.Throws<OptionsValidationException>(() => app.CreateClient());

        Assert.That(ex!.Message, Does.Contain("LlmServer:Storage:PostgresConnectionString (LLMSERVER_DB)"));
        Assert.That(ex.Message, Does.Not.Contain("hunter2-secret"));
    }

    [Test]
    public async Task BadSettingFromTheEnvironment_StopsTheBuiltServerWithTheSettingInItsOutput()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "llmserver-badsetting-" + Guid.NewGuid().ToString("N")[..8]);
        var start = ServerProcess.StartInfo(ServerProcess.FreePort(), dataDir,
            new Dictionary<string, string> { ["LlmServer__Gateway__Retry__MaxAttempts"] = "9" });
        // NOTE: a safety net so a server that wrongly keeps running fails the test instead of hanging it.
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        using var process = Process.Start(start)!;
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(stop.Token);
            var stderr = process.StandardError.ReadToEndAsync(stop.Token);
            await process.WaitForExitAsync(stop.Token);
            var output = await stdout + await stderr;

            Assert.That(process.ExitCode, Is.Not.Zero, output);
            Assert.That(output, Does.Contain("LlmServer:Gateway:Retry:MaxAttempts must be between 1 and 3"));
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            try { Directory.Delete(dataDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
