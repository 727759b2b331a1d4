using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmServer.FakeUpstream;

/// <summary>
/// A real Kestrel server on loopback that speaks the OpenAI (Responses, Chat Completions, Completions,
/// Embeddings, Models), vLLM (/v1/models with max_model_len), Azure OpenAI (its paths and api-key header, see
/// <see cref="AzurePaths"/>) and Anthropic (/v1/messages) wire formats,
/// deterministically, recording every request, with programmable faults.
/// The reply to a request is "Echo: " + the last user text, unless <see cref="ReplyFactory"/> says otherwise;
/// when the request offers tools, the reply is a call of the first tool with arguments {"input": text}.
/// </summary>
public sealed class FakeUpstreamServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Fault> _faults = new();
    private readonly ConcurrentQueue<RecordedRequest> _received = new();
    private int _aborted;
    private TaskCompletionSource _abortSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _arrival = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private FakeUpstreamServer(WebApplication app) => _app = app;

    /// <summary>http://127.0.0.1:port (no trailing slash, no /v1).</summary>
    public string BaseUrl { get; private set; } = "";

    /// <summary>Base URL with /v1, the form OpenAI clients take.</summary>
    public string V1Url => BaseUrl + "/v1";

    /// <summary>Every request received, in order.</summary>
    public IReadOnlyList<RecordedRequest> Requests => _received.ToArray();

    /// <summary>The most recent request (throws when none).</summary>
    public RecordedRequest LastRequest => _received.Last();

    /// <summary>Models served by /v1/models (vLLM style, with max_model_len).</summary>
    public List<string> Models { get; } = ["gpt-4o-mini", "gpt-4o", "fake-vllm-model"];

    /// <summary>The context length /v1/models reports for every model (vLLM's max_model_len).</summary>
    public int MaxModelLen { get; set; } = 8192;

    /// <summary>When non-empty, only these keys are accepted; others get 401 in the path's dialect.</summary>
    public HashSet<string> ValidKeys { get; } = [];

    /// <summary>Overrides the reply text; receives the request and the last user text.</summary>
    public Func<RecordedRequest, string, string>? ReplyFactory { get; set; }

    /// <summary>
    /// Tool calls to make: a request offering one of these tools (and not ending with a tool's result) gets a call
    /// to the first one it offers. Empty: the first offered tool is called with the last user text.
    /// </summary>
    public List<ScriptedToolCall> ToolCalls { get; } = [];

    /// <summary>Stream chunking: when set, the reply is cut every N characters; otherwise at each word.</summary>
    public int? ChunkSize { get; set; }

    /// <summary>Cached prompt tokens reported in usage (for cost tests).</summary>
    public int CachedTokens { get; set; }

    /// <summary>Anthropic: prompt tokens reported as written to the 5-minute prompt cache (cache_creation.ephemeral_5m_input_tokens).</summary>
    public int CacheCreation5mTokens { get; set; }

    /// <summary>Anthropic: prompt tokens reported as written to the 1-hour prompt cache (cache_creation.ephemeral_1h_input_tokens).</summary>
    public int CacheCreation1hTokens { get; set; }

    /// <summary>Anthropic usage as the API reports it: input without the cache, reads and writes (split by lifetime) beside it.</summary>
    internal System.Text.Json.Nodes.JsonObject AnthropicUsage(int inputTokens, int outputTokens) => new()
    {
        ["input_tokens"] = inputTokens, ["output_tokens"] = outputTokens,
        ["cache_creation_input_tokens"] = CacheCreation5mTokens + CacheCreation1hTokens,
        ["cache_read_input_tokens"] = CachedTokens,
        ["cache_creation"] = new System.Text.Json.Nodes.JsonObject
        {
            ["ephemeral_5m_input_tokens"] = CacheCreation5mTokens, ["ephemeral_1h_input_tokens"] = CacheCreation1hTokens,
        },
    };

    /// <summary>Delay between stream chunks.</summary>
    public TimeSpan ChunkDelay { get; set; } = TimeSpan.Zero;

    /// <summary>How many requests the caller aborted while the fake was still answering.</summary>
    public int AbortedRequests => Volatile.Read(ref _aborted);

    /// <summary>Starts on the given URL (default: a free loopback port).</summary>
    public static async Task<FakeUpstreamServer> StartAsync(string url = "http://127.0.0.1:0")
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(url);
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(o => o.Limits.MaxRequestBodySize = null);
        var app = builder.Build();
        var server = new FakeUpstreamServer(app);
        app.Use(server.RecordAndFaultAsync);
        // NOTE: routing after the recorder, so Azure's paths (rewritten there) reach the OpenAI endpoints.
        app.UseRouting();
        OpenAiEndpoints.Map(app, server);
        AnthropicEndpoints.Map(app, server);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseUrl = address.Replace("[::]", "127.0.0.1").Replace("localhost", "127.0.0.1").TrimEnd('/');
        return server;
    }

    /// <summary>Queues a fault; the next matching request takes it.</summary>
    public void EnqueueFault(Fault fault) => _faults.Enqueue(fault);

    /// <summary>Queues the same fault n times.</summary>
    public void EnqueueFault(Fault fault, int times)
    {
        for (var i = 0; i < times; i++) _faults.Enqueue(fault);
    }

    /// <summary>Forgets recorded requests, faults and settings changed by a test.</summary>
    public void Reset()
    {
        _received.Clear();
        _faults.Clear();
        ValidKeys.Clear();
        ReplyFactory = null;
        ToolCalls.Clear();
        ChunkSize = null;
        ChunkDelay = TimeSpan.Zero;
        CachedTokens = 0;
        CacheCreation5mTokens = 0;
        CacheCreation1hTokens = 0;
        Interlocked.Exchange(ref _aborted, 0);
        _abortSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Completes when a request has been aborted by its caller (or after the timeout, returning false).</summary>
    public async Task<bool> WaitForAbortAsync(TimeSpan timeout)
    {
        var t = _abortSignal.Task;
        return await Task.WhenAny(t, Task.Delay(timeout)) == t;
    }

    /// <summary>Completes when a request matching <paramref name="match"/> has been received (or after the timeout, returning false).</summary>
    public async Task<bool> WaitForRequestAsync(Func<RecordedRequest, bool> match, TimeSpan timeout)
    {
        using var patience = new CancellationTokenSource(timeout);
        while (true)
        {
            var arrival = Volatile.Read(ref _arrival).Task;
            if (_received.Any(match)) return true;
            try { await arrival.WaitAsync(patience.Token); }
            catch (OperationCanceledException) { return false; }
        }
    }

    /// <summary>Counts the caller's abort of this request once, whichever of the abort callback or a failed write sees it first.</summary>
    internal void NoteAbortedOnce(HttpContext ctx)
    {
        if (ctx.Items["abort-once"] is System.Runtime.CompilerServices.StrongBox<int> once && Interlocked.Exchange(ref once.Value, 1) == 0) NoteAborted();
    }

    internal void NoteAborted()
    {
        Interlocked.Increment(ref _aborted);
        _abortSignal.TrySetResult();
    }

    internal string Reply(RecordedRequest request, string lastUserText) =>
        ReplyFactory?.Invoke(request, lastUserText) ?? "Echo: " + lastUserText;

    internal IEnumerable<string> Chunks(string text)
    {
        if (ChunkSize is int n and > 0)
        {
            for (var i = 0; i < text.Length; i += n) yield return text.Substring(i, Math.Min(n, text.Length - i));
            yield break;
        }
        var start = 0;
        for (var i = 1; i <= text.Length; i++)
        {
            if (i == text.Length || text[i] == ' ')
            {
                yield return text[start..i];
                start = i;
            }
        }
    }

    internal static Fault? CurrentFault(HttpContext ctx) => ctx.Items["fault"] as Fault;

    private async Task RecordAndFaultAsync(HttpContext ctx, RequestDelegate next)
    {
        ctx.Request.EnableBuffering();
        using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8, leaveOpen: true);
        var body = await reader.ReadToEndAsync();
        ctx.Request.Body.Position = 0;
        var headers = ctx.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString());
        var recorded = new RecordedRequest(ctx.Request.Method, ctx.Request.Path + ctx.Request.QueryString, headers, body)
        {
            RemotePort = ctx.Connection.RemotePort,
        };
        _received.Enqueue(recorded);
        ctx.Items["recorded"] = recorded;
        Interlocked.Exchange(ref _arrival, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

        if (AzurePaths.IsAzure(ctx) && !await AzurePaths.AdmitAsync(ctx, server: this)) return;
        var anthropic = ctx.Request.Path.StartsWithSegments("/v1/messages");
        if (ValidKeys.Count > 0 && (recorded.ApiKey is null || !ValidKeys.Contains(recorded.ApiKey)))
        {
            await WriteErrorAsync(ctx, 401, anthropic, anthropic ? "authentication_error" : "invalid_request_error",
                "Incorrect API key provided.", "invalid_api_key");
            return;
        }

        Fault? fault = null;
        if (_faults.TryPeek(out var head) && (head.PathPrefix is null || ctx.Request.Path.StartsWithSegments(head.PathPrefix)))
        {
            _faults.TryDequeue(out fault);
        }
        ctx.Items["fault"] = fault;
        ctx.Items["abort-once"] = new System.Runtime.CompilerServices.StrongBox<int>();
        ctx.RequestAborted.Register(() =>
        {
            if (!ctx.Response.HasStarted || !ctx.Items.ContainsKey("completed")) NoteAbortedOnce(ctx);
        });

        switch (fault?.Kind)
        {
            case FaultKind.Status:
                if (fault.RetryAfter is not null) ctx.Response.Headers.RetryAfter = fault.RetryAfter;
                await WriteErrorAsync(ctx, fault.StatusCode, anthropic,
                    fault.StatusCode == 429 ? (anthropic ? "rate_limit_error" : "rate_limit_exceeded") : (anthropic ? "api_error" : "server_error"),
                    $"fake upstream fault {fault.StatusCode} (internal host fake-internal.local:9000)", null);
                return;
            case FaultKind.Reset:
                ctx.Features.Get<IHttpResponseFeature>(); // keep the pipeline honest
                ctx.Abort();
                return;
            case FaultKind.SlowFirstByte:
                try { await Task.Delay(fault.Delay, ctx.RequestAborted); }
                catch (OperationCanceledException) { return; }
                break;
            case FaultKind.CutStream when !(recorded.Json is JsonObject o && o["stream"] is JsonValue v && v.TryGetValue<bool>(out var streamed) && streamed):
                // NOTE: a plain answer cut midway: headers promise the whole body, part of it arrives, then the connection drops.
                ctx.Response.StatusCode = 200;
                ctx.Response.ContentType = "application/json";
                ctx.Response.ContentLength = 400;
                await ctx.Response.WriteAsync("{\"id\": \"cut\", \"type\": \"message\", \"choices\": [ {\"message\": {\"content\": \"par");
                await ctx.Response.Body.FlushAsync();
                ctx.Abort();
                return;
            case FaultKind.MalformedJson:
                ctx.Response.StatusCode = 200;
                ctx.Response.ContentType = "application/json";
                await ctx.Response.WriteAsync("{\"id\": \"broken\", \"choices\": [ {\"message\": ");
                return;
        }

        try
        {
            await next(ctx);
        }
        catch (Exception e) when (!ctx.Response.HasStarted && e is not OperationCanceledException)
        {
            // NOTE: like a real provider, a body of the wrong shape is the caller's 400, not a crash of the upstream.
            await WriteErrorAsync(ctx, 400, anthropic, "invalid_request_error", "The fake upstream could not read this request: " + e.GetType().Name, null);
        }
        ctx.Items["completed"] = true;
    }

    internal static Task WriteErrorAsync(HttpContext ctx, int status, bool anthropic, string type, string message, string? code)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        JsonNode body = anthropic
            ? new JsonObject { ["type"] = "error", ["error"] = new JsonObject { ["type"] = type, ["message"] = message } }
            : new JsonObject { ["error"] = new JsonObject { ["message"] = message, ["type"] = type, ["param"] = null, ["code"] = code } };
        return ctx.Response.WriteAsync(body.ToJsonString());
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(TimeSpan.FromSeconds(2));
        await _app.DisposeAsync();
    }
}
