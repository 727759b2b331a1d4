using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;

namespace LlmServer.Tests.Infrastructure;

/// <summary>A running server from <see cref="LlmServerHostBuilder"/>, its fake upstream and what it recorded.</summary>
public sealed class LlmServerHost : IAsyncDisposable
{
    private readonly bool _ownsFake;
    private readonly InFlightRequests _inFlight;
    private bool _kestrel;

    internal LlmServerHost(FakeUpstreamServer fake, bool ownsFake, LlmServerApp app, CapturingUsageSink usage, InFlightRequests inFlight, string? masterKey)
    {
        Fake = fake;
        _ownsFake = ownsFake;
        App = app;
        Usage = usage;
        _inFlight = inFlight;
        MasterKey = masterKey;
    }

    public FakeUpstreamServer Fake { get; }

    /// <summary>The WebApplicationFactory (its Services are the server's).</summary>
    public LlmServerApp App { get; }

    public IServiceProvider Services => App.Services;

    /// <summary>The ledger rows (unused with <see cref="LlmServerHostBuilder.WithRealLedger"/>).</summary>
    public CapturingUsageSink Usage { get; }

    /// <summary>The master key, or null when auth is off.</summary>
    public string? MasterKey { get; }

    public Uri BaseAddress { get; private set; } = null!;

    internal void Started(Uri address, bool kestrel)
    {
        BaseAddress = address;
        _kestrel = kestrel;
    }

    /// <summary>A client with the master key (when auth is on).</summary>
    public HttpClient Client() => Client(MasterKey);

    /// <summary>A client sending <paramref name="key"/> as its bearer token (null: no Authorization).</summary>
    public HttpClient Client(string? key)
    {
        var http = _kestrel ? new HttpClient { BaseAddress = BaseAddress } : App.CreateClient();
        if (key is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    /// <summary>Completes once the server handles no request: every finished request has its ledger row by then.</summary>
    public Task IdleAsync() => _inFlight.IdleAsync();

    /// <summary>Forgets what the fake received and the rows recorded, so a test sees only its own.</summary>
    public void Reset()
    {
        Fake.Reset();
        Usage.Clear();
    }

    /// <summary>Creates a virtual key through the admin API (master key); returns the key and its id.</summary>
    public async Task<(string Key, string Id)> CreateKeyAsync(object spec)
    {
        using var http = Client();
        using var response = await http.PostAsJsonAsync("/api/v1/admin/keys", spec);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.That((int)response.StatusCode, Is.EqualTo(201), body.ToJsonString());
        return ((string)body["data"]!["key"]!, (string)body["data"]!["info"]!["id"]!);
    }

    /// <summary>Waits until the server lists <paramref name="model"/> (upstream models are discovered in the background).</summary>
    public async Task WaitForModelAsync(string model)
    {
        using var http = Client();
        for (var i = 0; i < 100; i++)
        {
            if ((await http.GetStringAsync("/v1/models")).Contains($"\"{model}\"", StringComparison.Ordinal)) return;
            await Task.Delay(50);
        }
        Assert.Fail($"model {model} was never discovered");
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        if (_ownsFake) await Fake.DisposeAsync();
    }
}
