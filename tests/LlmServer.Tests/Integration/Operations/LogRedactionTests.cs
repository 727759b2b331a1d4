using System.Net.Http.Json;
using System.Text.Json;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Infrastructure;

namespace LlmServer.Tests.Integration.Operations;

/// <summary>
/// The built server as a child process, its console log captured: strings a client chose (model names, session
/// ids, paths) reach the log only after the same redaction prompts get.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class LogRedactionTests
{
    private const string Phone = "010-2222-3333";

    [Test]
    public async Task ClientChosenStrings_WithSensitiveValues_NeverAppearInTheLog()
    {
        await using var fake = await FakeUpstreamServer.StartAsync();
        await using var server = await ServerProcess.StartAsync(new Dictionary<string, string>
        {
            ["OPENAI_BASE_URL"] = fake.V1Url,
            ["OPENAI_API_KEY"] = "sk-server-log-test",
            ["LOG_LEVEL"] = "Information",
            // NOTE: the framework's request lines carry the path (and so a session id in it); log them too.
            ["Logging__LogLevel__Microsoft.AspNetCore"] = "Information",
            // NOTE: the request lines have their own category, off as shipped (it would build a span per request).
            ["Logging__LogLevel__Microsoft.AspNetCore.Hosting.Diagnostics"] = "Information",
        });
        using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var messages = new[] { new { role = "user", content = "hello" } };

        (await http.PostAsJsonAsync("/v1/chat/completions", new { model = Phone, messages })).Dispose();
        using (var withSession = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = JsonContent.Create(new { model = "gpt-4o-mini", messages }) })
        {
            withSession.Headers.Add("x-session-id", Phone);
            (await http.SendAsync(withSession)).Dispose();
        }
        (await http.PostAsJsonAsync("/v1/messages", new { model = "claude-" + Phone, max_tokens = 10, messages })).Dispose();
        (await http.PostAsJsonAsync("/api/v1/chat", new { user_prompt = "hello", session_id = Phone, model = Phone })).Dispose();
        (await http.GetAsync("/api/v1/chat/sessions/" + Phone)).Dispose();
        (await http.GetAsync("/v1/models/" + Phone)).Dispose();
        await server.DisposeAsync();

        var log = server.Output;
        var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l.StartsWith('{')).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(log, Does.Not.Contain(Phone));
            Assert.That(log, Does.Not.Contain("2222-3333"));
            Assert.That(log, Does.Contain("/api/v1/chat/sessions/[REDACTED_"), "the request line was logged, with the session id redacted");
            Assert.That(lines, Is.Not.Empty);
            foreach (var line in lines)
            {
                Assert.DoesNotThrow(() => JsonDocument.Parse(line).Dispose(), "each log line stays valid JSON: " + line);
            }
        });
    }
}
