using LlmServer.Services.Transport;
using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using LlmServer.External.Upstreams;
using LlmServer.Services.Accounting;
using LlmServer.Services.Anthropic;
using LlmServer.Services.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using NSubstitute;
using NSubstitute.ExceptionExtensions;

namespace LlmServer.Tests.Integration.BadInput;

/// <summary>
/// A failure nothing specific maps (a seam inside the process throws) answers 500 in the route's dialect with a
/// trace id, is logged once without the request's content, and is counted in llmserver_unhandled_errors_total.
/// </summary>
[TestFixture]
public sealed class UnhandledErrorTests
{
    private const string Secret = "user-secret-0102";
    private BadInputHost _host = null!;
    private HttpClient _http = null!;
    private readonly CapturingLoggerProvider _logs = new();

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        var boom = new InvalidOperationException("failed while reading " + Secret);
        var forwarder = Substitute.For<IUpstreamForwarder>();
        forwarder.SendAsync(Arg.Any<UpstreamRequest>(), Arg.Any<ModelRoute>(), Arg.Any<CancellationToken>()).Throws(boom);
        var ledger = Substitute.For<IUsageLedgerStore>();
        ledger.QueryTotalsAsync(default, default, default, default, default).ReturnsForAnyArgs<Task<IReadOnlyList<UsageTotals>>>(_ => throw boom);
        _host = await BadInputHost.StartAsync(s =>
        {
            s.RemoveAll<IUpstreamForwarder>();
            s.AddSingleton(forwarder);
            s.RemoveAll<IUsageLedgerStore>();
            s.AddSingleton(ledger);
            s.AddSingleton<ILoggerProvider>(_logs);
        });
        _http = _host.Client();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _http.Dispose();
        await _host.DisposeAsync();
    }

    [TestCase("POST", "/v1/chat/completions", "chat_completions", Dialect.OpenAi)]
    [TestCase("POST", "/v1/messages", "messages", Dialect.Anthropic)]
    [TestCase("GET", "/api/v1/usage", "api_usage", Dialect.Session)]
    public async Task UnexpectedFailure_Is500InTheDialectWithATraceId_LoggedWithoutUserData_AndCounted(string method, string path, string route, Dialect dialect)
    {
        var body = path == "/v1/messages"
            ? $$"""{"model":"{{BadInputHost.Claude}}","max_tokens":16,"messages":[{"role":"user","content":"{{Secret}}"}]}"""
            : $$"""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"{{Secret}}"}]}""";
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST") request.Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        Assert.That((int)response.StatusCode, Is.EqualTo(500), text);
        var message = BadInputHost.ErrorMessage(dialect, text);
        Assert.That(message, Is.Not.Null, "not in the route's dialect: " + text);
        Assert.That(text, Does.Not.Contain(Secret));
        var traceId = dialect == Dialect.Session ? (string)JsonNode.Parse(text)!["trace_id"]! : message!;
        var lines = _logs.Lines.Where(l => l.Contains("Unhandled", StringComparison.Ordinal) && l.Contains(route, StringComparison.Ordinal)).ToList();
        Assert.That(lines, Has.Count.GreaterThanOrEqualTo(1));
        Assert.That(_logs.Lines, Has.None.Contains(Secret), "the request's content or the exception's message was logged");
        Assert.That(lines.Any(l => traceId.Contains(l.Split("trace id ")[^1].Trim(), StringComparison.Ordinal)), "the answer's trace id is not in the log line");

        using var scrape = await _http.GetAsync("/metrics");
        var metrics = await scrape.Content.ReadAsStringAsync();
        Assert.That(metrics, Does.Match($"llmserver_unhandled_errors_total\\{{[^}}]*route=\"{route}\"[^}}]*\\}} [1-9]"));
    }

    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        public ConcurrentQueue<string> Queue { get; } = new();
        public IEnumerable<string> Lines => Queue.ToArray();
        public ILogger CreateLogger(string categoryName) => new Capture(this);
        public void Dispose() { }

        private sealed class Capture(CapturingLoggerProvider owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Queue.Enqueue(formatter(state, exception) + (exception is null ? "" : " " + exception));
        }
    }
}
