using System.Net;
using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Infrastructure;
using static LlmServer.Tests.Integration.Chat.ChatTestKit;

namespace LlmServer.Tests.Integration.Chat;

/// <summary>Server-sent events of the session chat API.</summary>
[TestFixture]
public sealed class ChatStreamingTests : SessionChatFixture
{
    private async Task<(List<string> Deltas, List<(string Event, JsonNode Data)> Events, HttpResponseMessage Response)> StreamAsync(string path, string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(json) };
        var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var events = new List<(string, JsonNode)>();
        if (response.Content.Headers.ContentType?.MediaType == "text/event-stream")
        {
            await foreach (var e in ReadSseAsync(await response.Content.ReadAsStreamAsync())) events.Add(e);
        }
        var deltas = events.Where(e => e.Item1 == "delta").Select(e => (string)e.Item2["delta"]!).ToList();
        return (deltas, events, response);
    }

    [TestCase("/api/v1/chat/stream", """{"session_id":"SID","user_prompt":"one two three"}""")]
    [TestCase("/api/v1/chat", """{"session_id":"SID","user_prompt":"one two three","stream":true}""")]
    public async Task Stream_SendsDeltasThenSummary_AndStoresTheTurn(string path, string json)
    {
        var session = "st-" + Guid.NewGuid().ToString("N");
        var (deltas, events, response) = await StreamAsync(path, json.Replace("SID", session));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType!.MediaType, Is.EqualTo("text/event-stream"));
        Assert.That(deltas, Has.Count.GreaterThan(1), "the answer arrives in pieces");
        Assert.That(string.Concat(deltas), Is.EqualTo("Echo: one two three"));
        var (name, summary) = events.Last();
        Assert.That(name, Is.EqualTo("done"));
        Assert.That((string?)summary["output_text"], Is.EqualTo("Echo: one two three"));
        Assert.That((long)summary["total_tokens"]!, Is.GreaterThan(0));
        Assert.That((string?)summary["api_key_source"], Is.EqualTo("server"));
        Assert.That((decimal?)summary["cost_usd"], Is.GreaterThan(0m));
        Assert.That((bool?)ResponsesCalls(Fake).Single().Json!["stream"], Is.True);

        var history = await BodyAsync(await Http.GetAsync($"/api/v1/chat/sessions/{session}"));
        Assert.That(history["messages"]!.AsArray(), Has.Count.EqualTo(2));
    }

    [Test]
    public async Task StreamCutByUpstream_EndsWithErrorEvent_AndStoresNothing()
    {
        var session = "cut-" + Guid.NewGuid().ToString("N");
        Fake.ChunkDelay = TimeSpan.FromMilliseconds(100); // let the first deltas reach the server before the reset
        Fake.EnqueueFault(Fault.Cut(afterChunks: 6));

        var (_, events, response) = await StreamAsync("/api/v1/chat/stream", $$"""{"session_id":"{{session}}","user_prompt":"a b c d e f g"}""");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(events.Last().Event, Is.EqualTo("error"));
        Assert.That((bool?)events.Last().Data["success"], Is.False);
        Assert.That(events.Any(e => e.Event == "done"), Is.False);
        var history = await Http.GetAsync($"/api/v1/chat/sessions/{session}");
        Assert.That(history.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public async Task StreamWithoutServerKey_Is503BeforeAnyEvent()
    {
        await using var app = new LlmServerApp(new Dictionary<string, string?> { ["LlmServer:OpenAi:BaseUrl"] = Fake.V1Url });
        using var client = app.CreateClient();

        var response = await client.PostAsync("/api/v1/chat/stream", Json("""{"user_prompt":"hi"}"""));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That((string?)(await BodyAsync(response))["error"]!["message"], Does.Contain("OPENAI_API_KEY"));
    }

    [Test]
    public async Task ClientDisconnectDuringStream_CancelsUpstream_AndStoresNothing()
    {
        var session = "dc-" + Guid.NewGuid().ToString("N");
        Fake.ChunkDelay = TimeSpan.FromMilliseconds(150);
        Fake.ReplyFactory = (_, _) => string.Join(' ', Enumerable.Range(0, 200).Select(i => $"word{i}"));
        using var cts = new CancellationTokenSource();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/chat/stream")
        {
            Content = Json($$"""{"session_id":"{{session}}","user_prompt":"talk a lot"}"""),
        };
        var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        var stream = await response.Content.ReadAsStreamAsync(cts.Token);
        await using (var enumerator = ReadSseAsync(stream).GetAsyncEnumerator())
        {
            Assert.That(await enumerator.MoveNextAsync(), Is.True);
            Assert.That(enumerator.Current.Event, Is.EqualTo("delta"));
        }
        await cts.CancelAsync();
        response.Dispose();

        Assert.That(await Fake.WaitForAbortAsync(TimeSpan.FromSeconds(10)), Is.True, "the upstream call was cancelled");
        await Host.IdleAsync();
        var history = await Http.GetAsync($"/api/v1/chat/sessions/{session}");
        Assert.That(history.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }
}
