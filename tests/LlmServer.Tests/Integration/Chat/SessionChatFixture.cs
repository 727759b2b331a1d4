using LlmServer.FakeUpstream;

namespace LlmServer.Tests.Integration.Chat;

/// <summary>
/// One server per fixture for the session chat API tests: the fake's Responses API as its OpenAI upstream, a
/// server key, no auth; the fake forgets its requests and faults before each test.
/// </summary>
public abstract class SessionChatFixture
{
    /// <summary>The server under test.</summary>
    protected LlmServerHost Host { get; private set; } = null!;

    /// <summary>The server's upstream.</summary>
    protected FakeUpstreamServer Fake => Host.Fake;

    /// <summary>A client of the server (no key: auth is off).</summary>
    protected HttpClient Http { get; private set; } = null!;

    [OneTimeSetUp]
    public async Task StartServerAsync()
    {
        Host = await LlmServerHostBuilder.Create().WithSessionChat(ChatTestKit.ServerKey).WithRealLedger().StartAsync();
        Http = Host.Client(null);
    }

    [OneTimeTearDown]
    public async Task StopServerAsync()
    {
        Http.Dispose();
        await Host.DisposeAsync();
    }

    [SetUp]
    public void ResetFake() => Fake.Reset();
}
