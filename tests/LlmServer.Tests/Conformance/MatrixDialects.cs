using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace LlmServer.Tests.Conformance;

/// <summary>The tool every matrix cell offers and the fake upstream is scripted to call.</summary>
internal static class MatrixTool
{
    public const string Name = "get_weather";
    public const string Arguments = """{"city":"Seoul"}""";
    /// <summary>What the client's tool returns; the fake echoes the last tool result, so the final text proves it reached the model.</summary>
    public const string Result = "sunny in Seoul";

    public static JsonObject Parameters() => new()
    {
        ["type"] = "object",
        ["properties"] = new JsonObject { ["city"] = new JsonObject { ["type"] = "string" } },
        ["required"] = new JsonArray("city"),
    };
}

/// <summary>A tool call as the client assembled it from the answer.</summary>
internal sealed record ClientToolCall(string Id, string Name, string ArgumentsJson)
{
    public JsonObject Arguments => JsonNode.Parse(ArgumentsJson)!.AsObject();
}

/// <summary>
/// What a client of the dialect reads from an answer, plain or streamed: the text, a tool call, whether the model
/// stopped to call a tool, the usage, and (streamed) whether the stream's final event came.
/// </summary>
internal sealed record ClientAnswer(string Text, ClientToolCall? ToolCall, bool StoppedForTool, long InputTokens, long OutputTokens, bool FinalEventSeen);

/// <summary>One client dialect as a user's client speaks it: exact wire bodies out, the dialect's fields read back.</summary>
internal abstract class MatrixDialect
{
    public static readonly MatrixDialect ChatCompletions = new ChatCompletionsDialect();
    public static readonly MatrixDialect Responses = new ResponsesDialect();
    public static readonly MatrixDialect Messages = new MessagesDialect();
    public static readonly IReadOnlyList<MatrixDialect> All = [ChatCompletions, Responses, Messages];

    public static MatrixDialect Named(string name) => All.Single(d => d.Name == name);

    public abstract string Name { get; }

    /// <summary>The ledger's route family for this dialect.</summary>
    public abstract string Route { get; }

    protected abstract string Path { get; }

    /// <summary>A question, with the weather tool offered when <paramref name="withTool"/>.</summary>
    public abstract JsonObject Ask(string model, string text, bool stream, bool withTool = false);

    /// <summary>The follow-up a client sends after running the tool: the question, the model's call, the tool's result.</summary>
    public abstract JsonObject SendToolResult(string model, string text, ClientToolCall call, string result, bool stream);

    protected abstract ClientAnswer ReadPlain(JsonNode answer);

    protected abstract ClientAnswer ReadStream(IReadOnlyList<(string? Event, string Data)> events);

    protected virtual void Authenticate(HttpRequestMessage request, string key) =>
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);

    public HttpRequestMessage Request(JsonObject body, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, Path)
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        Authenticate(request, key);
        return request;
    }

    /// <summary>Reads a 200 answer as this dialect's client does; a streamed one must be an event stream.</summary>
    public async Task<ClientAnswer> ReadAsync(HttpResponseMessage response, bool stream)
    {
        if (!stream) return ReadPlain(JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/event-stream"));
        return ReadStream(await SseEvents.ReadAllAsync(response));
    }

    public override string ToString() => Name;

    protected static long Long(JsonNode? node) => node is JsonValue v && v.TryGetValue<long>(out var n) ? n : 0;

    private static void StreamFlag(JsonObject body, bool stream)
    {
        if (stream) body["stream"] = true;
    }

    private sealed class ChatCompletionsDialect : MatrixDialect
    {
        public override string Name => "chat_completions";
        public override string Route => "chat_completions";
        protected override string Path => "v1/chat/completions";

        private static JsonObject User(string text) => new() { ["role"] = "user", ["content"] = text };

        private static JsonObject Body(string model, JsonArray messages, bool stream, bool withTool)
        {
            var body = new JsonObject { ["model"] = model, ["messages"] = messages };
            if (withTool)
            {
                body["tools"] = new JsonArray(new JsonObject
                {
                    ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = MatrixTool.Name, ["description"] = "Current weather of a city", ["parameters"] = MatrixTool.Parameters() },
                });
            }
            StreamFlag(body, stream);
            if (stream) body["stream_options"] = new JsonObject { ["include_usage"] = true };
            return body;
        }

        public override JsonObject Ask(string model, string text, bool stream, bool withTool = false) =>
            Body(model, new JsonArray(User(text)), stream, withTool);

        public override JsonObject SendToolResult(string model, string text, ClientToolCall call, string result, bool stream) =>
            Body(model, new JsonArray(
                User(text),
                new JsonObject
                {
                    ["role"] = "assistant", ["content"] = null,
                    ["tool_calls"] = new JsonArray(new JsonObject
                    {
                        ["id"] = call.Id, ["type"] = "function",
                        ["function"] = new JsonObject { ["name"] = call.Name, ["arguments"] = call.ArgumentsJson },
                    }),
                },
                new JsonObject { ["role"] = "tool", ["tool_call_id"] = call.Id, ["content"] = result }), stream, withTool: true);

        protected override ClientAnswer ReadPlain(JsonNode answer)
        {
            var choice = answer["choices"]![0]!;
            var call = choice["message"]?["tool_calls"]?[0] is JsonObject c
                ? new ClientToolCall((string)c["id"]!, (string)c["function"]!["name"]!, (string)c["function"]!["arguments"]!)
                : null;
            return new ClientAnswer((string?)choice["message"]?["content"] ?? "", call, (string?)choice["finish_reason"] == "tool_calls",
                Long(answer["usage"]?["prompt_tokens"]), Long(answer["usage"]?["completion_tokens"]), FinalEventSeen: true);
        }

        protected override ClientAnswer ReadStream(IReadOnlyList<(string? Event, string Data)> events)
        {
            var text = new StringBuilder();
            var arguments = new StringBuilder();
            string? callId = null, callName = null, finish = null;
            long input = 0, output = 0;
            foreach (var (_, data) in events.Where(e => e.Data != "[DONE]"))
            {
                var chunk = JsonNode.Parse(data)!;
                if (chunk["usage"] is JsonObject usage)
                {
                    input = Long(usage["prompt_tokens"]);
                    output = Long(usage["completion_tokens"]);
                }
                if (chunk["choices"] is not JsonArray { Count: > 0 } choices) continue;
                var delta = choices[0]!["delta"];
                text.Append((string?)delta?["content"]);
                if (delta?["tool_calls"]?[0] is JsonObject piece)
                {
                    callId ??= (string?)piece["id"];
                    callName ??= (string?)piece["function"]?["name"];
                    arguments.Append((string?)piece["function"]?["arguments"]);
                }
                finish = (string?)choices[0]!["finish_reason"] ?? finish;
            }
            var call = callName is null ? null : new ClientToolCall(callId ?? "", callName, arguments.ToString());
            return new ClientAnswer(text.ToString(), call, finish == "tool_calls", input, output, events.Count > 0 && events[^1].Data == "[DONE]");
        }
    }

    private sealed class ResponsesDialect : MatrixDialect
    {
        public override string Name => "responses";
        public override string Route => "responses";
        protected override string Path => "v1/responses";

        private static JsonObject User(string text) => new() { ["role"] = "user", ["content"] = text };

        private static JsonObject Body(string model, JsonNode input, bool stream, bool withTool)
        {
            var body = new JsonObject { ["model"] = model, ["input"] = input };
            if (withTool)
            {
                body["tools"] = new JsonArray(new JsonObject
                {
                    ["type"] = "function", ["name"] = MatrixTool.Name, ["description"] = "Current weather of a city",
                    ["parameters"] = MatrixTool.Parameters(), ["strict"] = false,
                });
                // NOTE: without a stored response the client sends the whole conversation on the next turn.
                body["store"] = false;
            }
            StreamFlag(body, stream);
            return body;
        }

        public override JsonObject Ask(string model, string text, bool stream, bool withTool = false) =>
            Body(model, withTool ? new JsonArray(User(text)) : JsonValue.Create(text), stream, withTool);

        public override JsonObject SendToolResult(string model, string text, ClientToolCall call, string result, bool stream) =>
            Body(model, new JsonArray(
                User(text),
                new JsonObject { ["type"] = "function_call", ["call_id"] = call.Id, ["name"] = call.Name, ["arguments"] = call.ArgumentsJson },
                new JsonObject { ["type"] = "function_call_output", ["call_id"] = call.Id, ["output"] = result }), stream, withTool: true);

        protected override ClientAnswer ReadPlain(JsonNode answer)
        {
            var output = answer["output"]?.AsArray() ?? [];
            var text = string.Concat(output
                .Where(i => (string?)i?["type"] == "message")
                .SelectMany(i => i!["content"]!.AsArray())
                .Where(c => (string?)c?["type"] == "output_text")
                .Select(c => (string?)c!["text"]));
            var item = output.OfType<JsonObject>().FirstOrDefault(i => (string?)i["type"] == "function_call");
            var call = item is null ? null : new ClientToolCall((string)item["call_id"]!, (string)item["name"]!, (string)item["arguments"]!);
            // NOTE: a Responses client loops while the output holds a function_call item; the status stays "completed".
            return new ClientAnswer(text, call, call is not null && (string?)answer["status"] == "completed",
                Long(answer["usage"]?["input_tokens"]), Long(answer["usage"]?["output_tokens"]), FinalEventSeen: true);
        }

        protected override ClientAnswer ReadStream(IReadOnlyList<(string? Event, string Data)> events)
        {
            var text = new StringBuilder();
            var arguments = new StringBuilder();
            JsonNode? addedCall = null, completed = null;
            foreach (var (name, data) in events)
            {
                var payload = JsonNode.Parse(data)!;
                // NOTE: the SDKs dispatch on the payload's type; the event line must agree with it.
                Assert.That((string?)payload["type"], Is.EqualTo(name), "event name and payload type");
                var itemType = (string?)payload["item"]?["type"];
                switch (name)
                {
                    case "response.output_text.delta":
                        text.Append((string?)payload["delta"]);
                        break;
                    case "response.output_item.added" when itemType == "function_call":
                        addedCall = payload["item"];
                        break;
                    case "response.function_call_arguments.delta":
                        arguments.Append((string?)payload["delta"]);
                        break;
                    case "response.completed":
                        completed = payload["response"];
                        break;
                }
            }
            var call = addedCall is null ? null : new ClientToolCall((string)addedCall["call_id"]!, (string)addedCall["name"]!, arguments.ToString());
            var final = completed is null ? null : ReadPlain(completed);
            return new ClientAnswer(text.ToString(), call, call is not null && final?.StoppedForTool == true,
                final?.InputTokens ?? 0, final?.OutputTokens ?? 0, completed is not null && events[^1].Event == "response.completed");
        }
    }

    private sealed class MessagesDialect : MatrixDialect
    {
        public override string Name => "messages";
        public override string Route => "messages";
        protected override string Path => "v1/messages";

        protected override void Authenticate(HttpRequestMessage request, string key)
        {
            request.Headers.Add("x-api-key", key);
            request.Headers.Add("anthropic-version", "2023-06-01");
        }

        private static JsonObject Message(string role, JsonNode content) => new() { ["role"] = role, ["content"] = content };

        private static JsonObject Body(string model, JsonArray messages, bool stream, bool withTool)
        {
            var body = new JsonObject { ["model"] = model, ["max_tokens"] = 256, ["messages"] = messages };
            if (withTool)
            {
                body["tools"] = new JsonArray(new JsonObject
                {
                    ["name"] = MatrixTool.Name, ["description"] = "Current weather of a city", ["input_schema"] = MatrixTool.Parameters(),
                });
            }
            StreamFlag(body, stream);
            return body;
        }

        public override JsonObject Ask(string model, string text, bool stream, bool withTool = false) =>
            Body(model, new JsonArray(Message("user", text)), stream, withTool);

        public override JsonObject SendToolResult(string model, string text, ClientToolCall call, string result, bool stream) =>
            Body(model, new JsonArray(
                Message("user", text),
                Message("assistant", new JsonArray(new JsonObject { ["type"] = "tool_use", ["id"] = call.Id, ["name"] = call.Name, ["input"] = call.Arguments })),
                Message("user", new JsonArray(new JsonObject { ["type"] = "tool_result", ["tool_use_id"] = call.Id, ["content"] = result }))),
                stream, withTool: true);

        protected override ClientAnswer ReadPlain(JsonNode answer)
        {
            var blocks = answer["content"]?.AsArray() ?? [];
            var text = string.Concat(blocks.Where(b => (string?)b?["type"] == "text").Select(b => (string?)b!["text"]));
            var use = blocks.OfType<JsonObject>().FirstOrDefault(b => (string?)b["type"] == "tool_use");
            var call = use is null ? null : new ClientToolCall((string)use["id"]!, (string)use["name"]!, use["input"]!.ToJsonString());
            return new ClientAnswer(text, call, (string?)answer["stop_reason"] == "tool_use",
                Long(answer["usage"]?["input_tokens"]), Long(answer["usage"]?["output_tokens"]), FinalEventSeen: true);
        }

        protected override ClientAnswer ReadStream(IReadOnlyList<(string? Event, string Data)> events)
        {
            var text = new StringBuilder();
            var arguments = new StringBuilder();
            JsonNode? use = null;
            string? stopReason = null;
            long input = 0, output = 0;
            foreach (var (name, data) in events)
            {
                var payload = JsonNode.Parse(data)!;
                Assert.That((string?)payload["type"], Is.EqualTo(name), "event name and payload type");
                var deltaType = (string?)payload["delta"]?["type"];
                var blockType = (string?)payload["content_block"]?["type"];
                switch (name)
                {
                    case "message_start":
                        input = Long(payload["message"]?["usage"]?["input_tokens"]);
                        break;
                    case "content_block_start" when blockType == "tool_use":
                        use = payload["content_block"];
                        break;
                    case "content_block_delta" when deltaType == "text_delta":
                        text.Append((string?)payload["delta"]!["text"]);
                        break;
                    case "content_block_delta" when deltaType == "input_json_delta":
                        arguments.Append((string?)payload["delta"]!["partial_json"]);
                        break;
                    case "message_delta":
                        stopReason = (string?)payload["delta"]?["stop_reason"];
                        // NOTE: message_delta's usage is cumulative and wins, as the Anthropic SDKs read it; a translated
                        // stream learns the input tokens only at the end.
                        output = Long(payload["usage"]?["output_tokens"]);
                        if (payload["usage"]?["input_tokens"] is JsonValue) input = Long(payload["usage"]!["input_tokens"]);
                        break;
                }
            }
            var call = use is null ? null : new ClientToolCall((string)use["id"]!, (string)use["name"]!, arguments.ToString());
            return new ClientAnswer(text.ToString(), call, stopReason == "tool_use", input, output, events.Count > 0 && events[^1].Event == "message_stop");
        }
    }
}

/// <summary>Server-sent events as a client reads them: the event line (if any) and the raw data.</summary>
internal static class SseEvents
{
    public static async Task<IReadOnlyList<(string? Event, string Data)>> ReadAllAsync(HttpResponseMessage response)
    {
        var events = new List<(string?, string)>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(), Encoding.UTF8);
        string? name = null;
        var data = new StringBuilder();
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0)
            {
                if (data.Length > 0) events.Add((name, data.ToString()));
                name = null;
                data.Clear();
            }
            else if (line.StartsWith("event:", StringComparison.Ordinal)) name = line[6..].Trim();
            else if (line.StartsWith("data:", StringComparison.Ordinal)) data.Append(line[5..].TrimStart());
        }
        if (data.Length > 0) events.Add((name, data.ToString()));
        return events;
    }
}
