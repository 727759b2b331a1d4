using LlmServer.External.Redis;
using LlmServer.Services.Limits;
using LlmServer.Services.Masking;
using LlmServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace LlmServer.Tests.Integration.Operations;

/// <summary>REDIS_URL against the redis-server of scripts/services.d/redis.sh (LLMSERVER_TEST_REDIS).</summary>
public sealed class RedisConnectionTests
{
    private string Endpoint { get; set; } = "";

    [SetUp]
    public void RequireRedis() => Endpoint = TestRedis.RequireEndpoint();

    [Test]
    public async Task MaskingVaultAndRateLimits_ShareOneConnection()
    {
        var name = "llmserver-test-" + Guid.NewGuid().ToString("N");
        var admin = RedisConnection.Parse(Endpoint);
        admin.AllowAdmin = true;
        using var probe = await ConnectionMultiplexer.ConnectAsync(admin);
        await using var app = new LlmServerApp(new Dictionary<string, string?> { ["LlmServer:Storage:RedisUrl"] = $"{Endpoint},name={name}" });
        var vault = app.Services.GetRequiredService<IMaskingVault>();
        var limiter = app.Services.GetRequiredService<IKeyRateLimiter>();

        var ids = await vault.GetOrAddAsync("scope-" + name, [new VaultEntry("EMAIL", "a@b.com")]);
        var decision = await limiter.TryAcquireAsync("vk_" + name, 5, null, 1, CancellationToken.None);
        var connections = await ClientsNamedAsync(probe, name);

        Assert.That(ids.Single(), Is.EqualTo("EMAIL_1"));
        Assert.That(decision.Allowed, Is.True);
        Assert.That(connections, Is.Positive);
        Assert.That(connections, Is.EqualTo(await ReferenceConnectionsAsync(probe)), "one multiplexer's connections, not two");
    }

    [Test]
    public async Task RedisForTheVaultOnly_IsStillAComponentOfHealth()
    {
        await using var app = new LlmServerApp(new Dictionary<string, string?>
        {
            ["LlmServer:Storage:RedisUrl"] = "redis://" + Endpoint,
            ["LlmServer:Operations:RateLimits:Backend"] = "local",
        });
        using var http = app.CreateClient();

        var health = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync("/health"))!;

        Assert.That((string?)health["components"]!["redis"]!["status"], Is.EqualTo("healthy"));
        Assert.That(app.Services.GetRequiredService<IKeyRateLimiter>(), Is.InstanceOf<LocalKeyRateLimiter>());
    }

    // NOTE: how many connections one multiplexer opens after plain commands (interactive, maybe subscription).
    private async Task<int> ReferenceConnectionsAsync(IConnectionMultiplexer probe)
    {
        var name = "llmserver-ref-" + Guid.NewGuid().ToString("N");
        var options = RedisConnection.Parse(Endpoint);
        options.ClientName = name;
        using var reference = await ConnectionMultiplexer.ConnectAsync(options);
        await reference.GetDatabase().PingAsync();
        return await ClientsNamedAsync(probe, name);
    }

    private static async Task<int> ClientsNamedAsync(IConnectionMultiplexer probe, string name)
    {
        var clients = await probe.GetServer(probe.GetEndPoints().Single()).ClientListAsync();
        return clients.Count(c => c.Name == name);
    }
}
