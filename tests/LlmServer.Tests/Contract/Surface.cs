using System.Text;
using System.Text.Json.Nodes;

namespace LlmServer.Tests.Contract;

/// <summary>The error shape a surface answers in (body before a response started, event after a stream did).</summary>
public enum ContractDialect
{
    /// <summary>{"error":{message,type,param,code}}; a stream ends with a data: {"error":...} chunk.</summary>
    OpenAi,
    /// <summary>Bodies as OpenAI; a stream ends with event: error {"type":"error","code","message"}.</summary>
    OpenAiResponses,
    /// <summary>{"type":"error","error":{type,message}}, in a body or an event: error.</summary>
    Anthropic,
    /// <summary>{"success":false,"error":{code,message},"trace_id"}, in a body or an event: error.</summary>
    Session,
}

/// <summary>
/// One API surface of the contract: the route a client calls, the dialect it answers in, the model that sends it
/// to its upstream kind on the fake, and the fake's path that upstream call arrives on.
/// </summary>
public sealed record Surface(string Name, string Path, ContractDialect Dialect, string Model, string UpstreamPath)
{
    public const string OpenAiModel = "gpt-4o-mini";
    public const string ClaudeModel = "claude-sonnet-4-5";

    public static readonly Surface ChatCompletions = new("S1_chat_completions", "/v1/chat/completions", ContractDialect.OpenAi, OpenAiModel, "/v1/chat/completions");
    public static readonly Surface Responses = new("S2_responses", "/v1/responses", ContractDialect.OpenAiResponses, OpenAiModel, "/v1/responses");
    public static readonly Surface MessagesPassthrough = new("S3_messages_passthrough", "/v1/messages", ContractDialect.Anthropic, ClaudeModel, "/v1/messages");
    public static readonly Surface MessagesTranslated = new("S4_messages_translated", "/v1/messages", ContractDialect.Anthropic, OpenAiModel, "/v1/chat/completions");
    public static readonly Surface ChatCompletionsToAnthropic = new("S5_chat_completions_to_anthropic", "/v1/chat/completions", ContractDialect.OpenAi, ClaudeModel, "/v1/messages");
    public static readonly Surface SessionChat = new("S6_session_chat", "/api/v1/chat", ContractDialect.Session, OpenAiModel, "/v1/responses");

    /// <summary>
    /// Events the fake's stream on <see cref="UpstreamPath"/> sends up to and including its first text delta: a stream
    /// fault after that many has put text in front of the client on every surface.
    /// </summary>
    public int ChunksThroughFirstText => UpstreamPath switch
    {
        "/v1/responses" => 5,   // created, in_progress, output_item.added, content_part.added, delta
        "/v1/messages" => 4,    // message_start, content_block_start, ping, content_block_delta
        _ => 2,                 // the role chunk, the first content chunk
    };

    public static IReadOnlyList<Surface> All { get; } = [ChatCompletions, Responses, MessagesPassthrough, MessagesTranslated, ChatCompletionsToAnthropic, SessionChat];

    /// <summary>A request a client of this surface would send.</summary>
    /// <param name="model">Overrides the surface's model (an unknown model).</param>
    /// <param name="maxTokens">The output cap (it sizes the budget reservation).</param>
    /// <param name="sessionId">Sent as x-session-id.</param>
    public HttpRequestMessage Request(bool stream, string prompt = "contract hello world", string? model = null, int maxTokens = 64, string? sessionId = null)
    {
        var m = model ?? Model;
        var user = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = prompt });
        JsonObject body = Dialect switch
        {
            ContractDialect.OpenAiResponses => new() { ["model"] = m, ["input"] = prompt, ["max_output_tokens"] = maxTokens, ["stream"] = stream },
            ContractDialect.Anthropic => new() { ["model"] = m, ["max_tokens"] = maxTokens, ["messages"] = user, ["stream"] = stream },
            ContractDialect.Session => new() { ["session_id"] = "contract-" + Guid.NewGuid().ToString("N")[..8], ["user_prompt"] = prompt, ["model"] = m, ["max_tokens"] = maxTokens },
            _ => new() { ["model"] = m, ["messages"] = user, ["max_tokens"] = maxTokens, ["stream"] = stream },
        };
        var path = Dialect == ContractDialect.Session && stream ? Path + "/stream" : Path;
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
        if (Dialect == ContractDialect.Anthropic) request.Headers.Add("anthropic-version", "2023-06-01");
        if (sessionId is not null) request.Headers.TryAddWithoutValidation("x-session-id", sessionId);
        return request;
    }

    public override string ToString() => Name;
}
