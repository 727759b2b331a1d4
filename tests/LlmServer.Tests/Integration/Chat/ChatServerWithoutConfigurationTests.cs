using System.Net;
using LlmServer.Tests.Infrastructure;
using static LlmServer.Tests.Integration.Chat.ChatTestKit;

namespace LlmServer.Tests.Integration.Chat;

/// <summary>The server starts with no configuration at all: chat answers a clear 503, system API, health and /docs work.</summary>
[TestFixture]
public sealed class ChatServerWithoutConfigurationTests
{
    private LlmServerApp _app = null!;
    private HttpClient _client = null!;

    [OneTimeSetUp]
    public void Start()
    {
        _app = new LlmServerApp();
        _client = _app.CreateClient();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
    }

    [TestCase("ko", "OPENAI_API_KEY")]
    [TestCase("en", "OPENAI_API_KEY")]
    public async Task Chat_Is503NamingOpenAiApiKey(string language, string setting)
    {
        var response = await PostAsync(_client, "/api/v1/chat", """{"user_prompt":"안녕하세요"}""", language);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        var body = await BodyAsync(response);
        Assert.That((string?)body["error"]!["code"], Is.EqualTo("config_missing"));
        Assert.That((string?)body["error"]!["message"], Does.Contain(setting));
        Assert.That((string?)body["error"]!["message"], language == "ko" ? Does.Contain("설정") : Does.Contain("Set"));
    }

    [Test]
    public async Task OpenAiCompatibleApi_Is503NamingWhatToConfigure()
    {
        var response = await PostAsync(_client, "/v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", "en");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        var body = await BodyAsync(response);
        Assert.That((string?)body["error"]!["code"], Is.EqualTo("no_upstream_configured"));
        Assert.That((string?)body["error"]!["message"], Does.Contain("OPENAI_API_KEY").And.Contain("VLLM_BASE_URL"));
    }

    [Test]
    public async Task AnthropicApi_Is503InAnthropicShapeNamingWhatToConfigure()
    {
        var response = await PostAsync(_client, "/v1/messages", """{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}""", "en");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        var body = await BodyAsync(response);
        Assert.That((string?)body["type"], Is.EqualTo("error"));
        Assert.That((string?)body["error"]!["type"], Is.EqualTo("api_error"));
        Assert.That((string?)body["error"]!["message"], Does.Contain("ANTHROPIC_API_KEY"));
    }

    [Test]
    public async Task SqliteFile_IsCreatedOnFirstStart()
    {
        Assert.That(File.Exists(Path.Combine(_app.DataDir, "chat.db")), Is.True);
        await Task.CompletedTask;
    }

    [Test]
    public async Task Root_ReportsNameVersionUptime()
    {
        var body = await BodyAsync(await _client.GetAsync("/api/v1/"));

        Assert.That((string?)body["name"], Is.EqualTo("LlmServer"));
        Assert.That((string?)body["version"], Is.Not.Empty);
        Assert.That((double)body["uptime_seconds"]!, Is.GreaterThanOrEqualTo(0));
    }

    [Test]
    public async Task Status_ReportsComponentsAndRequestFigures()
    {
        await _client.GetAsync("/api/v1/");
        await PostAsync(_client, "/api/v1/chat", """{"user_prompt":"x"}""");

        var response = await _client.GetAsync("/api/v1/system/status");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var body = await BodyAsync(response);
        Assert.That((string?)body["components"]!["chat_store"]!["status"], Is.EqualTo("healthy"));
        Assert.That((string?)body["components"]!["openai_upstream"]!["status"], Is.EqualTo("degraded"));
        Assert.That((long)body["requests"]!["total"]!, Is.GreaterThanOrEqualTo(2));
        Assert.That((long)body["requests"]!["server_errors"]!, Is.GreaterThanOrEqualTo(1), "the 503 counts as an error");
        Assert.That((double?)body["requests"]!["latency_ms_p95"], Is.GreaterThan(0));
    }

    [Test]
    public async Task Info_ReportsProcessMachineGcThreadPoolOsAndDotnet()
    {
        var body = await BodyAsync(await _client.GetAsync("/api/v1/system/info"));

        Assert.That((long)body["process"]!["working_set_bytes"]!, Is.GreaterThan(0));
        Assert.That((long?)body["machine"]!["memory_total_bytes"], Is.GreaterThan(0));
        Assert.That((long)body["gc"]!["heap_size_bytes"]!, Is.GreaterThan(0));
        Assert.That((int)body["thread_pool"]!["threads"]!, Is.GreaterThan(0));
        Assert.That((string?)body["os"]!["description"], Is.Not.Empty);
        Assert.That((string?)body["dotnet"]!["version"], Does.StartWith("10."));
        Assert.That(body["cpu"]!["percent"], Is.Not.Null);
    }

    [Test]
    public async Task Health_NamesEachComponent()
    {
        var response = await _client.GetAsync("/health");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var body = await BodyAsync(response);
        Assert.That((string?)body["components"]!["chat_store"]!["status"], Is.EqualTo("healthy"));
        Assert.That(body["components"]!["openai_upstream"], Is.Not.Null);
    }

    [Test]
    public async Task Docs_ServeSwaggerUiAndTheChatApi()
    {
        var ui = await _client.GetAsync("/docs/index.html");
        var spec = await _client.GetStringAsync("/docs/v1/swagger.json");

        Assert.That(ui.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(spec, Does.Contain("/api/v1/chat"));
        Assert.That(spec, Does.Contain("\"user_prompt\""));
        Assert.That(spec, Does.Contain("당신은 친절한 프로그래밍 튜터입니다."), "XML examples reach the document");
        Assert.That(spec, Does.Not.Contain("\"servers\""), "no fixed server URL: try-it-out calls the origin the page came from");
        var example = System.Text.Json.Nodes.JsonNode.Parse(spec)!["paths"]!["/api/v1/chat"]!["post"]!["requestBody"]!["content"]!["application/json"]!["example"];
        Assert.That((string?)example!["user_prompt"], Is.EqualTo("Python의 특징을 설명해주세요."));
    }
}
