using LlmServer.External.Redis;
using LlmServer.External.Stores;
using LlmServer.Services.Masking;
using LlmServer.Tests.Infrastructure;
using StackExchange.Redis;

namespace LlmServer.Tests.Integration.Masking;

/// <summary>Runs against the redis-server started by scripts/services.d/redis.sh (LLMSERVER_TEST_REDIS).</summary>
public sealed class RedisMaskingVaultTests : MaskingVaultContract
{
    private readonly List<IConnectionMultiplexer> _connections = [];

    private string Endpoint { get; set; } = "";

    [SetUp]
    public void RequireRedis() => Endpoint = TestRedis.RequireEndpoint();

    [TearDown]
    public void DisposeConnections()
    {
        foreach (var c in _connections)
        {
            c.Dispose();
        }
        _connections.Clear();
    }

    // NOTE: each vault gets its own connection, as each server instance holds one.
    protected override IMaskingVault CreateVault(TimeSpan ttl)
    {
        var connection = ConnectionMultiplexer.Connect(RedisConnection.Parse("redis://" + Endpoint));
        _connections.Add(connection);
        return new RedisMaskingVault(connection, ttl, "llmserver-test:mask:");
    }

    protected override IMaskingVault CreatePeer(TimeSpan ttl) => CreateVault(ttl);

    // NOTE: Redis expires keys on its own clock (PEXPIRE), so here the time really passes.
    protected override Task LetTimePassAsync(TimeSpan span) => Task.Delay(span);

    [Test]
    public async Task UnreachableRedis_FailsClosed()
    {
        var options = Microsoft.Extensions.Options.Options.Create(new MaskingOptions());
        using var connection = ConnectionMultiplexer.Connect(RedisConnection.Parse("127.0.0.1:1,connectTimeout=200"));
        var vault = new RedisMaskingVault(connection, TimeSpan.FromHours(1));
        var service = new MaskingService(options, new LlmServer.Services.Masking.Detection.SensitiveDataScanner(options.Value), vault);
        var session = service.Begin(MaskingRoute.Messages, apiKey: "k");
        await Assert.ThrowsAsync<MaskingFailedException>(async () => await session.MaskAsync("a@b.com"));
    }
}
