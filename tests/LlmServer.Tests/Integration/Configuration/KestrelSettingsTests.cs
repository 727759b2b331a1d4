using System.Net;
using LlmServer.Tests.Infrastructure;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LlmServer.Tests.Integration.Configuration;

/// <summary>
/// Kestrel's limits and its socket transport are settings like any other (Kestrel:Limits:*, Kestrel:Sockets:*), and
/// the transport buffers at most 64 KB per connection ahead of the reader unless told otherwise.
/// </summary>
[TestFixture]
public sealed class KestrelSettingsTests
{
    [Test]
    public async Task AHeaderLimitFromConfiguration_RefusesLargerHeadersOnARealSocket()
    {
        await using var host = await LlmServerHostBuilder.Create()
            .WithSetting("Kestrel:Limits:MaxRequestHeadersTotalSize", "2048")
            .OnKestrel()
            .StartAsync();
        using var client = host.Client(null);
        using var small = new HttpRequestMessage(HttpMethod.Get, "/version");
        using var large = new HttpRequestMessage(HttpMethod.Get, "/version");
        large.Headers.Add("X-Filler", new string('h', 4096));

        using var fits = await client.SendAsync(small);
        using var refused = await client.SendAsync(large);

        Assert.That(fits.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.RequestHeaderFieldsTooLarge));
    }

    [Test]
    public async Task TheReadBuffer_Is64KbByDefault_AndASettingOverridesIt()
    {
        await using var shipped = await LlmServerHostBuilder.Create().StartAsync();
        await using var tuned = await LlmServerHostBuilder.Create().WithSetting("Kestrel:Sockets:MaxReadBufferSize", "262144").StartAsync();

        var byDefault = shipped.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value;
        var overridden = tuned.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value;

        Assert.That(byDefault.MaxReadBufferSize, Is.EqualTo(64 * 1024));
        Assert.That(overridden.MaxReadBufferSize, Is.EqualTo(256 * 1024));
    }
}
