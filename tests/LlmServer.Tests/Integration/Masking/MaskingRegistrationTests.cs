using LlmServer.External.Stores;
using LlmServer.Services.Masking;
using LlmServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LlmServer.Tests.Integration.Masking;

/// <summary>The server's container wires masking from configuration.</summary>
public sealed class MaskingRegistrationTests
{
    [Test]
    public async Task OutOfTheBox_EveryRouteMasks_WithTheInMemoryVault()
    {
        await using var app = new LlmServerApp();
        var service = app.Services.GetRequiredService<IMaskingService>();
        foreach (var route in Enum.GetValues<MaskingRoute>())
        {
            Assert.That(service.PolicyFor(route), Is.EqualTo(MaskingPolicy.Mask), route.ToString());
        }
        Assert.That(app.Services.GetRequiredService<IMaskingVault>(), Is.InstanceOf<InMemoryMaskingVault>());
        var masked = await service.Begin(MaskingRoute.Messages, apiKey: "k").MaskAsync("010-1234-5678입니다");
        Assert.That(masked.Text, Is.EqualTo("<<PHONE_1>>입니다"));
    }

    [Test]
    public void PolicyRouteOverridesAndCustomDetectors_BindFromConfiguration()
    {
        using var app = new LlmServerApp(new Dictionary<string, string?>
        {
            ["LlmServer:Masking:Policy"] = "redact",
            ["LlmServer:Masking:Routes:messages"] = "block",
            ["LlmServer:Masking:CustomDetectors:0:Type"] = "EMPLOYEE_ID",
            ["LlmServer:Masking:CustomDetectors:0:Pattern"] = "EMP-[0-9]{6}",
            ["LlmServer:Masking:VaultTtl"] = "00:30:00",
        });
        var service = app.Services.GetRequiredService<IMaskingService>();
        Assert.That(service.PolicyFor(MaskingRoute.Messages), Is.EqualTo(MaskingPolicy.Block));
        Assert.That(service.PolicyFor(MaskingRoute.Responses), Is.EqualTo(MaskingPolicy.Redact));
        var options = app.Services.GetRequiredService<IOptions<MaskingOptions>>().Value;
        Assert.That(options.VaultTtl, Is.EqualTo(TimeSpan.FromMinutes(30)));
        Assert.That(options.CustomDetectors.Single().Type, Is.EqualTo("EMPLOYEE_ID"));
    }

    [Test]
    public void SqliteVault_IsChosenByConfiguration()
    {
        using var app = new LlmServerApp(new Dictionary<string, string?> { ["LlmServer:Masking:Vault"] = "sqlite" });
        Assert.That(app.Services.GetRequiredService<IMaskingVault>(), Is.InstanceOf<SqliteMaskingVault>());
        Assert.That(File.Exists(Path.Combine(app.DataDir, "masking.db")), Is.True);
    }

    [Test]
    public void RedisUrl_SelectsTheRedisVault()
    {
        using var app = new LlmServerApp(new Dictionary<string, string?> { ["LlmServer:Storage:RedisUrl"] = "redis://127.0.0.1:1" });
        Assert.That(app.Services.GetRequiredService<IMaskingVault>(), Is.InstanceOf<RedisMaskingVault>());
    }

    [Test]
    public void InvalidCustomDetector_StopsTheServerAtStart_NamingTheSetting()
    {
        using var app = new LlmServerApp(new Dictionary<string, string?>
        {
            ["LlmServer:Masking:CustomDetectors:0:Type"] = "X_ID",
            ["LlmServer:Masking:CustomDetectors:0:Pattern"] = "(?<=a)b",
        });
        var ex = Assert.Catch(() => _ = app.Services);
        Assert.That(ex!.ToString(), Does.Contain("CustomDetectors:0:Pattern"));
    }
}
