using System.Net;
using LlmServer.Tests.Infrastructure;
using static LlmServer.Tests.Integration.Chat.ChatTestKit;

namespace LlmServer.Tests.Integration.Chat;

/// <summary>A store that cannot be opened: the server still starts, /health answers 503 naming it, chat says why.</summary>
[TestFixture]
public sealed class ChatHealthFailureTests
{
    [Test]
    public async Task UnusableDataDir_Health503NamesChatStore_AndSessionChatIs503()
    {
        var file = Path.GetTempFileName();
        try
        {
            // NOTE: a data directory below a regular file can never be created.
            await using var app = new LlmServerApp(new Dictionary<string, string?>
            {
                ["LlmServer:Storage:DataDir"] = Path.Combine(file, "data"),
                // NOTE: a loopback port nothing listens on: the test never reaches a real provider.
                ["LlmServer:OpenAi:BaseUrl"] = "http://127.0.0.1:9/v1",
                ["LlmServer:OpenAi:ApiKey"] = ServerKey,
            });
            using var client = app.CreateClient();

            var health = await client.GetAsync("/health");

            Assert.That(health.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
            var body = await BodyAsync(health);
            Assert.That(body["failing"]!.AsArray().Select(n => (string?)n), Is.EquivalentTo(new[] { "chat_store", "database" }));
            Assert.That((string?)body["components"]!["chat_store"]!["status"], Is.EqualTo("unhealthy"));

            var chat = await PostAsync(client, "/api/v1/chat", """{"session_id":"s","user_prompt":"hi"}""", "en");
            Assert.That(chat.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
            Assert.That((string?)(await BodyAsync(chat))["error"]!["message"], Does.Contain("LLMSERVER_DATA_DIR"));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
