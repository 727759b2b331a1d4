using LlmServer.External.Stores;
using LlmServer.Services.Masking;

namespace LlmServer.Tests.Integration.Masking;

/// <summary>Runs against the redis-server started by scripts/services.d/redis.sh (LLMSERVER_TEST_REDIS).</summary>
public sealed class RedisMaskingVaultTests : MaskingVaultContract
{
    private readonly List<RedisMaskingVault> _created = [];

    private static string Endpoint =>
        Environment.GetEnvironmentVariable("LLMSERVER_TEST_REDIS") is { Length: > 0 } e ? e : "";

    [SetUp]
    public void RequireRedis()
    {
        if (Endpoint.Length == 0)
        {
            Assert.Ignore("LLMSERVER_TEST_REDIS is not set: start redis-server with `source scripts/services.sh; services_start` (scripts/test.sh does).");
        }
    }

    [TearDown]
    public void DisposeVaults()
    {
        foreach (var v in _created)
        {
            v.Dispose();
        }
        _created.Clear();
    }

    protected override IMaskingVault CreateVault(TimeSpan ttl)
    {
        var vault = new RedisMaskingVault("redis://" + Endpoint, ttl, "llmserver-test:mask:");
        _created.Add(vault);
        return vault;
    }

    // NOTE: a separate connection multiplexer behaves like another server instance.
    protected override IMaskingVault CreatePeer(TimeSpan ttl) => CreateVault(ttl);

    [Test]
    public async Task UnreachableRedis_FailsClosed()
    {
        var options = Microsoft.Extensions.Options.Options.Create(new MaskingOptions());
        using var vault = new RedisMaskingVault("127.0.0.1:1", TimeSpan.FromHours(1));
        var service = new MaskingService(options, new LlmServer.Services.Masking.Detection.SensitiveDataScanner(options.Value), vault);
        var session = service.Begin(MaskingRoute.Messages, apiKey: "k");
        await Assert.ThrowsAsync<MaskingFailedException>(async () => await session.MaskAsync("a@b.com"));
    }
}
