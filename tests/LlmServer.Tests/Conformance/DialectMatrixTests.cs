using System.Text.Json.Nodes;
using LlmServer.FakeUpstream;
using LlmServer.Tests.Integration.Gateway;

namespace LlmServer.Tests.Conformance;

/// <summary>
/// Every client dialect (OpenAI chat completions, OpenAI Responses, Anthropic Messages) against every upstream kind
/// (openai, openai_compatible, azure_openai, anthropic), each kind being the fake upstream configured as a gateway
/// upstream of that kind: the same behaviour, asserted the way the client reads it, in every cell, and the
/// upstream reached on the wire its kind speaks.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class DialectMatrixTests
{
    private const string Model = "matrix-model";
    private static readonly string[] s_kinds = ["openai", "openai_compatible", "azure_openai", "anthropic"];
    private static readonly IReadOnlyList<MatrixDialect> s_dialects = MatrixDialect.All;
    private readonly Dictionary<string, GatewayHost> _hosts = [];

    public static IEnumerable<TestCaseData> Cells() =>
        from d in s_dialects from k in s_kinds select new TestCaseData(d.Name, k);

    public static IEnumerable<TestCaseData> CellsPlainAndStreamed() =>
        from d in s_dialects from k in s_kinds from stream in new[] { false, true } select new TestCaseData(d.Name, k, stream);

    [SetUp]
    public void ForgetThePreviousCell()
    {
        foreach (var host in _hosts.Values)
        {
            host.Fake.Reset();
            host.Usage.Clear();
        }
    }

    [OneTimeTearDown]
    public async Task StopHosts()
    {
        foreach (var host in _hosts.Values) await host.DisposeAsync();
        _hosts.Clear();
    }

    [TestCaseSource(nameof(Cells))]
    public async Task PlainAnswer_ArrivesAsTheUpstreamWroteIt(string dialectName, string kind)
    {
        var dialect = MatrixDialect.Named(dialectName);
        var host = await HostAsync(kind);

        var answer = await AskAsync(host, dialect, dialect.Ask(Model, "hello matrix", stream: false), stream: false);

        Assert.That(answer.Text, Is.EqualTo("Echo: hello matrix"));
        Assert.That(answer.ToolCall, Is.Null);
        AssertUpstreamWire(host, dialect, kind);
    }

    [TestCaseSource(nameof(Cells))]
    public async Task StreamedAnswer_AssemblesFromTheDialectsEvents_AndEndsWithItsFinalEvent(string dialectName, string kind)
    {
        var dialect = MatrixDialect.Named(dialectName);
        var host = await HostAsync(kind);

        var answer = await AskAsync(host, dialect, dialect.Ask(Model, "one two three four", stream: true), stream: true);

        Assert.That(answer.Text, Is.EqualTo("Echo: one two three four"));
        Assert.That(answer.FinalEventSeen, Is.True, "the stream's final event");
        AssertUpstreamWire(host, dialect, kind);
    }

    [TestCaseSource(nameof(CellsPlainAndStreamed))]
    public async Task ToolRoundTrip_CallArrives_ResultReachesTheModel_FinalTextArrives(string dialectName, string kind, bool stream)
    {
        var dialect = MatrixDialect.Named(dialectName);
        var host = await HostAsync(kind);
        host.Fake.ToolCalls.Add(new ScriptedToolCall(MatrixTool.Name, MatrixTool.Arguments));
        const string question = "what is the weather in Seoul?";

        var first = await AskAsync(host, dialect, dialect.Ask(Model, question, stream, withTool: true), stream);

        Assert.That(first.ToolCall, Is.Not.Null, "the model's tool call");
        Assert.That(first.ToolCall!.Name, Is.EqualTo(MatrixTool.Name));
        Assert.That((string?)first.ToolCall.Arguments["city"], Is.EqualTo("Seoul"));
        Assert.That(first.ToolCall.Id, Is.Not.Empty);
        Assert.That(first.StoppedForTool, Is.True, "the answer says it stopped for the tool");
        Assert.That(first.FinalEventSeen, Is.True, "the stream's final event");

        var final = await AskAsync(host, dialect, dialect.SendToolResult(Model, question, first.ToolCall, MatrixTool.Result, stream), stream);

        Assert.That(final.ToolCall, Is.Null, "no second call once the result is in");
        Assert.That(final.StoppedForTool, Is.False);
        Assert.That(final.Text, Is.EqualTo("Echo: " + MatrixTool.Result));
        Assert.That(final.FinalEventSeen, Is.True, "the stream's final event");
        Assert.That(host.Fake.Requests, Has.Count.EqualTo(2));
        AssertUpstreamWire(host, dialect, kind);
    }

    [TestCaseSource(nameof(CellsPlainAndStreamed))]
    public async Task Usage_IsInTheAnswer_AndTheLedgerHasOneRowForTheRoute(string dialectName, string kind, bool stream)
    {
        var dialect = MatrixDialect.Named(dialectName);
        var host = await HostAsync(kind);

        var answer = await AskAsync(host, dialect, dialect.Ask(Model, "count my tokens please", stream), stream);

        Assert.That(answer.FinalEventSeen, Is.True, "the stream's final event");
        Assert.That(answer.InputTokens, Is.GreaterThan(0), "input tokens in the answer");
        Assert.That(answer.OutputTokens, Is.GreaterThan(0), "output tokens in the answer");
        var row = await host.Usage.WaitForAsync(r => r.Route == dialect.Route);
        Assert.That(host.Usage.Records, Has.Count.EqualTo(1), "one ledger row per request");
        Assert.That(row.Status, Is.EqualTo(200));
        Assert.That(row.ErrorCode, Is.Null);
        Assert.That(row.Stream, Is.EqualTo(stream));
        Assert.That(row.Model, Is.EqualTo(Model));
        Assert.That(row.InputTokens, Is.EqualTo(answer.InputTokens), "the ledger counts what the client was told");
        Assert.That(row.OutputTokens, Is.EqualTo(answer.OutputTokens), "the ledger counts what the client was told");
        AssertUpstreamWire(host, dialect, kind);
    }

    /// <summary>Sends with the caller's key the way the dialect's clients send it; the answer must be a 200.</summary>
    private static async Task<ClientAnswer> AskAsync(GatewayHost host, MatrixDialect dialect, JsonObject body, bool stream)
    {
        using var http = host.Client(withKey: false);
        using var response = await http.SendAsync(dialect.Request(body, GatewayHost.MasterKey), HttpCompletionOption.ResponseHeadersRead);
        if ((int)response.StatusCode != 200) Assert.Fail($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return await dialect.ReadAsync(response, stream);
    }

    /// <summary>The upstream path each kind is reached on for a dialect: its own wire, translated where it has no such API.</summary>
    private static string UpstreamPath(MatrixDialect dialect, string kind) => (kind, dialect.Name) switch
    {
        ("anthropic", _) => "/v1/messages",
        ("azure_openai", "responses") => "/openai/v1/responses",
        ("azure_openai", _) => "/openai/v1/chat/completions",
        ("openai", "responses") => "/v1/responses",
        _ => "/v1/chat/completions",
    };

    private static void AssertUpstreamWire(GatewayHost host, MatrixDialect dialect, string kind)
    {
        var calls = host.Fake.Requests;
        Assert.That(calls, Is.Not.Empty, "the upstream was called");
        Assert.That(calls.Select(c => c.Path), Is.All.EqualTo(UpstreamPath(dialect, kind)), "the wire of a " + kind + " upstream");
        Assert.That(calls.Select(c => c.ApiKey), Is.All.EqualTo(GatewayHost.UpstreamKey), "the upstream's own key, never the caller's");
        Assert.That(calls.Select(c => (string?)c.Json?["model"]), Is.All.EqualTo(Model));
    }

    /// <summary>One server per upstream kind, started on first use and shared by the cells of that kind.</summary>
    private async Task<GatewayHost> HostAsync(string kind)
    {
        if (_hosts.TryGetValue(kind, out var running)) return running;
        var fake = await FakeUpstreamServer.StartAsync();
        var host = await GatewayHost.StartAsync(s =>
        {
            foreach (var key in s.Keys.Where(k => k.StartsWith("LlmServer:Gateway:Models:", StringComparison.Ordinal)
                || k.StartsWith("LlmServer:Gateway:Upstreams:0:Models:", StringComparison.Ordinal)).ToList())
            {
                s.Remove(key);
            }
            s["LlmServer:Gateway:Upstreams:0:Name"] = "matrix-" + kind;
            s["LlmServer:Gateway:Upstreams:0:Kind"] = kind;
            s["LlmServer:Gateway:Upstreams:0:Models:0"] = Model;
            s["LlmServer:Gateway:DefaultModel"] = Model;
            s["LlmServer:Gateway:Upstreams:0:BaseUrl"] = kind is "anthropic" or "azure_openai" ? fake.BaseUrl : fake.V1Url;
            // NOTE: an OpenAI-compatible server such as Ollama or LM Studio has no /v1/responses; the gateway answers it from chat completions.
            if (kind == "openai_compatible") s["LlmServer:Gateway:Upstreams:0:ResponsesApi"] = "translate";
        }, fake);
        _hosts[kind] = host;
        return host;
    }
}
