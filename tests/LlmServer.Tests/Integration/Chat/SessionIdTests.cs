using System.Net;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Infrastructure;
using static LlmServer.Tests.Integration.Chat.ChatTestKit;

namespace LlmServer.Tests.Integration.Chat;

/// <summary>The session chat API takes a conversation id under the exchange core's rule, in the body or the x-session-id header.</summary>
[TestFixture]
public sealed class SessionIdTests
{
    private FakeUpstreamServer _fake = null!;
    private LlmServerApp _app = null!;
    private HttpClient _client = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _fake = await FakeUpstreamServer.StartAsync();
        _app = App(_fake);
        _client = _app.CreateClient();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
        await _fake.DisposeAsync();
    }

    [SetUp]
    public void ResetFake() => _fake.Reset();

    private async Task<HttpResponseMessage> PostWithHeaderAsync(string json, string sessionHeader)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/chat") { Content = Json(json) };
        request.Headers.TryAddWithoutValidation("x-session-id", sessionHeader);
        return await _client.SendAsync(request);
    }

    [TestCase(129, "a")]
    [TestCase(10, " ")]
    [TestCase(4, "세")]
    public async Task BodySessionIdOutsideTheRule_Is400InvalidSessionId_AndNothingIsSent(int length, string unit)
    {
        var id = "s" + string.Concat(Enumerable.Repeat(unit, length - 1));

        var response = await PostAsync(_client, "/api/v1/chat", $$"""{"session_id":"{{id}}","user_prompt":"hi"}""", "en");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var body = await BodyAsync(response);
        Assert.That((string?)body["error"]!["code"], Is.EqualTo("invalid_session_id"));
        Assert.That((string?)body["error"]!["message"], Does.Contain("128"));
        Assert.That(ResponsesCalls(_fake), Is.Empty);
    }

    [Test]
    public async Task BodySessionIdOf128Characters_IsAccepted_AndKeysTheHistory()
    {
        var id = "k" + new string('x', 127);

        var response = await PostAsync(_client, "/api/v1/chat", $$"""{"session_id":"{{id}}","user_prompt":"hi"}""");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await _client.GetAsync($"/api/v1/chat/sessions/{id}")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task BadSessionHeader_Is400InvalidSessionId_InTheSessionDialect_KoreanByDefault()
    {
        var response = await PostWithHeaderAsync("""{"user_prompt":"hi"}""", new string('h', 129));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var body = await BodyAsync(response);
        Assert.That((bool?)body["success"], Is.False);
        Assert.That((string?)body["error"]!["code"], Is.EqualTo("invalid_session_id"));
        Assert.That((string?)body["error"]!["message"], Does.Contain("128자"));
        Assert.That((string?)body["trace_id"], Is.Not.Empty);
        Assert.That(ResponsesCalls(_fake), Is.Empty);
    }

    [Test]
    public async Task SessionHeader_NamesTheSession_WhenTheBodyDoesNot()
    {
        var id = "hdr-" + Guid.NewGuid().ToString("N");

        var first = await PostWithHeaderAsync("""{"user_prompt":"first question"}""", id);
        var second = await PostWithHeaderAsync("""{"user_prompt":"second question"}""", id);

        Assert.That((first.StatusCode, second.StatusCode), Is.EqualTo((HttpStatusCode.OK, HttpStatusCode.OK)));
        Assert.That(InputOf(ResponsesCalls(_fake)[1]), Does.Contain("user:first question"), "the second turn carries the first");
    }
}
