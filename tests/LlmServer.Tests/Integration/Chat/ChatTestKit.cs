using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Infrastructure;

namespace LlmServer.Tests.Integration.Chat;

/// <summary>Helpers shared by the session chat API integration tests.</summary>
internal static class ChatTestKit
{
    public const string ServerKey = "sk-server-test-key";

    /// <summary>The server pointed at the fake upstream, with a server key (unless overridden).</summary>
    public static LlmServerApp App(FakeUpstreamServer fake, IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["LlmServer:OpenAi:BaseUrl"] = fake.V1Url,
            ["LlmServer:OpenAi:ApiKey"] = ServerKey,
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string?>()) settings[k] = v;
        return new LlmServerApp(settings);
    }

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static async Task<HttpResponseMessage> PostAsync(HttpClient client, string path, string json, string? language = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(json) };
        if (language is not null) request.Headers.AcceptLanguage.Add(new StringWithQualityHeaderValue(language));
        return await client.SendAsync(request);
    }

    public static async Task<JsonNode> BodyAsync(HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

    /// <summary>The Responses input items the upstream received, as "role:text".</summary>
    public static List<string> InputOf(RecordedRequest request) =>
        request.Json!["input"]!.AsArray().Select(item =>
        {
            var content = item!["content"];
            var text = content is JsonArray parts ? string.Concat(parts.Select(p => (string?)p!["text"])) : (string?)content;
            return $"{(string?)item["role"]}:{text}";
        }).ToList();

    /// <summary>The /v1/responses POSTs the fake received.</summary>
    public static List<RecordedRequest> ResponsesCalls(FakeUpstreamServer fake) =>
        fake.Requests.Where(r => r.Method == "POST" && r.Path.StartsWith("/v1/responses", StringComparison.Ordinal)).ToList();

    /// <summary>Parses a server-sent event stream into (event, data) pairs.</summary>
    public static async IAsyncEnumerable<(string Event, JsonNode Data)> ReadSseAsync(Stream stream)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string? name = null;
        var data = new StringBuilder();
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0)
            {
                if (data.Length > 0) yield return (name ?? "message", JsonNode.Parse(data.ToString())!);
                name = null;
                data.Clear();
                continue;
            }
            if (line.StartsWith("event:", StringComparison.Ordinal)) name = line[6..].Trim();
            else if (line.StartsWith("data:", StringComparison.Ordinal)) data.Append(line[5..].TrimStart());
        }
    }

    /// <summary>A loopback port nothing listens on.</summary>
    public static int ClosedPort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}

/// <summary>
/// A fixture of the session chat API: one server pointed at one fake upstream for the whole fixture (a server key
/// configured); the fake's faults and records are reset before each test.
/// </summary>
public abstract class ChatFixture
{
    private LlmServerApp _app = null!;

    /// <summary>The fake upstream the server calls.</summary>
    protected FakeUpstreamServer Fake { get; private set; } = null!;

    /// <summary>A client of the server.</summary>
    protected HttpClient Client { get; private set; } = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        Fake = await FakeUpstreamServer.StartAsync();
        _app = ChatTestKit.App(Fake);
        Client = _app.CreateClient();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        Client.Dispose();
        await _app.DisposeAsync();
        await Fake.DisposeAsync();
    }

    [SetUp]
    public void ResetFake() => Fake.Reset();
}
