using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Integration.Gateway;
using LlmServer.Tests.Integration.Pipeline;
using Microsoft.Extensions.DependencyInjection;

namespace LlmServer.Tests.Integration.BadInput;

/// <summary>The API family a route belongs to, and so the error shape it must answer in.</summary>
public enum Dialect
{
    OpenAi,
    Anthropic,
    Session,
}

/// <summary>
/// The gateway test host (<see cref="GatewayHost"/>) with every surface wired to its one healthy fake upstream:
/// gpt-4o-mini / text-embedding-3-small on an openai_compatible upstream, house-model translated on /v1/messages,
/// claude-sonnet-4-5 on the implicit Anthropic upstream (passthrough on /v1/messages, translated on
/// /v1/chat/completions), the session chat API on the fake's Responses API. Master key on; ledger rows captured.
/// </summary>
internal sealed class BadInputHost : IAsyncDisposable
{
    public const string Master = PipelineTestKit.Master;
    public const string Claude = PipelineTestKit.ClaudeModel;
    public const string Translated = "house-model";

    private BadInputHost(GatewayHost gateway) => Gateway = gateway;

    public GatewayHost Gateway { get; }
    public FakeUpstreamServer Fake => Gateway.Fake;
    public CapturingUsageSink Ledger => Gateway.Usage;
    public Uri BaseAddress => Gateway.BaseAddress;

    public static async Task<BadInputHost> StartAsync(Action<IServiceCollection>? services = null)
    {
        var fake = await FakeUpstreamServer.StartAsync();
        var gateway = await GatewayHost.StartAsync(settings =>
        {
            settings["LlmServer:Auth:MasterKey"] = Master;
            settings["LlmServer:Anthropic:ApiKey"] = "sk-ant-upstream-key";
            settings["LlmServer:Anthropic:BaseUrl"] = fake.BaseUrl;
            settings["LlmServer:OpenAi:BaseUrl"] = fake.V1Url;
            settings["LlmServer:OpenAi:ApiKey"] = "sk-server-openai-key";
        }, fake, services);
        return new BadInputHost(gateway);
    }

    /// <summary>A client with the master key (and anthropic-version, as Anthropic clients send it).</summary>
    public HttpClient Client()
    {
        var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Master);
        return http;
    }

    /// <summary>Posts raw bytes as application/json (so a body can carry bytes no string can hold).</summary>
    public static async Task<(int Status, string Body, HttpResponseMessage Response)> PostAsync(HttpClient http, string path, byte[] body,
        string contentType = "application/json", bool chunked = false, string? language = null, bool expectContinue = false)
    {
        HttpContent content = chunked ? new StreamContent(new UnknownLengthStream(body)) : new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        if (language is not null) request.Headers.AcceptLanguage.ParseAdd(language);
        if (expectContinue) request.Headers.ExpectContinue = true;
        if (path.StartsWith("/v1/messages", StringComparison.Ordinal)) request.Headers.Add("anthropic-version", "2023-06-01");
        var response = await http.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }

    public static Task<(int Status, string Body, HttpResponseMessage Response)> PostAsync(HttpClient http, string path, string body) =>
        PostAsync(http, path, Encoding.UTF8.GetBytes(body));

    public static Dialect DialectOf(string path) =>
        path.StartsWith("/v1/messages", StringComparison.OrdinalIgnoreCase) ? Dialect.Anthropic
        : path.StartsWith("/v1", StringComparison.OrdinalIgnoreCase) ? Dialect.OpenAi
        : Dialect.Session;

    /// <summary>The error message when the body is an error in the dialect, else null (the reason goes to the assertion).</summary>
    public static string? ErrorMessage(Dialect dialect, string body)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(body); }
        catch (System.Text.Json.JsonException) { return null; }
        if (node is not JsonObject o) return null;
        return dialect switch
        {
            Dialect.Anthropic when (string?)o["type"] == "error" && o["error"] is JsonObject e && e["type"] is JsonValue && e["message"] is JsonValue => (string?)e["message"],
            Dialect.OpenAi when o["error"] is JsonObject e && e["message"] is JsonValue && e["type"] is JsonValue && e.ContainsKey("param") && e.ContainsKey("code") => (string?)e["message"],
            Dialect.Session when o["success"] is JsonValue s && !(bool)s && o["error"] is JsonObject e && e["code"] is JsonValue && e["message"] is JsonValue && o["trace_id"] is JsonValue => (string?)e["message"],
            _ => null,
        };
    }

    public ValueTask DisposeAsync() => Gateway.DisposeAsync();

    /// <summary>A stream whose length is unknown, so HttpClient sends it with Transfer-Encoding: chunked.</summary>
    private sealed class UnknownLengthStream(byte[] data) : Stream
    {
        private int _position;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(count, data.Length - _position);
            Array.Copy(data, _position, buffer, offset, n);
            _position += n;
            return n;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
