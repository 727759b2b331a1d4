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

/// <summary>A tool call as the client saw it in the answer.</summary>
internal sealed record ClientToolCall(string Id, string Name, JsonObject Arguments, JsonNode Answer);

/// <summary>What the client read from a streamed answer, in its own dialect.</summary>
internal sealed record StreamedAnswer(string Text, bool FinalEventSeen, long InputTokens, long OutputTokens);

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

    public abstract string Path { get; }

    public abstract JsonObject Ask(string model, string text, bool stream);

    public abstract JsonObject AskWithTool(string model, string text);

    /// <summary>The follow-up a client sends after running the tool: the conversation so far plus the tool's result.</summary>
    public abstract JsonObject SendToolResult(string model, string text, ClientToolCall call, string result);

    public abstract string AnswerText(JsonNode answer);

    public abstract ClientToolCall? ToolCall(JsonNode answer);

    /// <summary>Whether the answer says it stopped to call a tool (what an agent loop checks).</summary>
    public abstract bool StoppedForTool(JsonNode answer);

    public abstract (long Input, long Output) Usage(JsonNode answer);

    public abstract StreamedAnswer ReadStream(IReadOnlyList<(string? Event, string Data)> events);

    public virtual void Authenticate(HttpRequestMessage request, string key) =>
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

    public override string ToString() => Name;

    protected static long Long(JsonNode? node) => node is JsonValue v && v.TryGetValue<long>(out var n) ? n : 0;

    private sealed class ChatCompletionsDialect : MatrixDialect
    {
        public override string Name => "chat_completions";
        public override string Route => "chat_completions";
        public override string Path => "v1/chat/completions";

        private static JsonObject User(string text) => new() { ["role"] = "user", ["content"] = text };

        public override JsonObject Ask(string model, string text, bool stream)
        {
            var body = new JsonObject { ["model"] = model, ["messages"] = new JsonArray(User(text)) };
            if (stream)
            {
                body["stream"] = true;
                body["stream_options"] = new JsonObject { ["include_usage"] = true };
            }
            return body;
        }

        private static JsonArray Tools() => new(new JsonObject
        {
            ["type"] = "function",
            ["function"] = new JsonObject { ["name"] = MatrixTool.Name, ["description"] = "Current weather of a city", ["parameters"] = MatrixTool.Parameters() },
        });

        public override JsonObject AskWithTool(string model, string text) =>
            new() { ["model"] = model, ["messages"] = new JsonArray(User(text)), ["tools"] = Tools() };

        public override JsonObject SendToolResult(string model, string text, ClientToolCall call, string result) => new()
        {
            ["model"] = model,
            ["messages"] = new JsonArray(
                User(text),
                call.Answer["choices"]![0]!["message"]!.DeepClone(),
                new JsonObject { ["role"] = "tool", ["tool_call_id"] = call.Id, ["content"] = result }),
            ["tools"] = Tools(),
        };

        public override string AnswerText(JsonNode answer) => (string?)answer["choices"]?[0]?["message"]?["content"] ?? "";

        public override ClientToolCall? ToolCall(JsonNode answer) =>
            answer["choices"]?[0]?["message"]?["tool_calls"]?[0] is JsonObject call
                ? new ClientToolCall((string)call["id"]!, (string)call["function"]!["name"]!,
                    JsonNode.Parse((string)call["function"]!["arguments"]!)!.AsObject(), answer)
                : null;

        public override bool StoppedForTool(JsonNode answer) => (string?)answer["choices"]?[0]?["finish_reason"] == "tool_calls";

        public override (long Input, long Output) Usage(JsonNode answer) =>
            (Long(answer["usage"]?["prompt_tokens"]), Long(answer["usage"]?["completion_tokens"]));

        public override StreamedAnswer ReadStream(IReadOnlyList<(string? Event, string Data)> events)
        {
            var text = new StringBuilder();
            long input = 0, output = 0;
            foreach (var (_, data) in events.Where(e => e.Data != "[DONE]"))
            {
                var chunk = JsonNode.Parse(data)!;
                if (chunk["choices"] is JsonArray { Count: > 0 } choices) text.Append((string?)choices[0]!["delta"]?["content"]);
                if (chunk["usage"] is JsonObject usage)
                {
                    input = Long(usage["prompt_tokens"]);
                    output = Long(usage["completion_tokens"]);
                }
            }
            return new StreamedAnswer(text.ToString(), events.Count > 0 && events[^1].Data == "[DONE]", input, output);
        }
    }

    private sealed class ResponsesDialect : MatrixDialect
    {
        public override string Name => "responses";
        public override string Route => "responses";
        public override string Path => "v1/responses";

        public override JsonObject Ask(string model, string text, bool stream)
        {
            var body = new JsonObject { ["model"] = model, ["input"] = text };
            if (stream) body["stream"] = true;
            return body;
        }

        private static JsonArray Tools() => new(new JsonObject
        {
            ["type"] = "function", ["name"] = MatrixTool.Name, ["description"] = "Current weather of a city",
            ["parameters"] = MatrixTool.Parameters(), ["strict"] = false,
        });

        private static JsonObject User(string text) => new() { ["role"] = "user", ["content"] = text };

        public override JsonObject AskWithTool(string model, string text) =>
            new() { ["model"] = model, ["input"] = new JsonArray(User(text)), ["tools"] = Tools(), ["store"] = false };

        public override JsonObject SendToolResult(string model, string text, ClientToolCall call, string result) => new()
        {
            ["model"] = model,
            // NOTE: without a stored response the client sends the whole conversation, its call item as it came back.
            ["input"] = new JsonArray(
                User(text),
                FunctionCallItem(call.Answer)!.DeepClone(),
                new JsonObject { ["type"] = "function_call_output", ["call_id"] = call.Id, ["output"] = result }),
            ["tools"] = Tools(),
            ["store"] = false,
        };

        private static JsonObject? FunctionCallItem(JsonNode answer) =>
            answer["output"]?.AsArray().OfType<JsonObject>().FirstOrDefault(i => (string?)i["type"] == "function_call");

        public override string AnswerText(JsonNode answer) => string.Concat(
            (answer["output"]?.AsArray() ?? [])
                .Where(i => (string?)i?["type"] == "message")
                .SelectMany(i => i!["content"]!.AsArray())
                .Where(c => (string?)c?["type"] == "output_text")
                .Select(c => (string?)c!["text"]));

        public override ClientToolCall? ToolCall(JsonNode answer) =>
            FunctionCallItem(answer) is { } call
                ? new ClientToolCall((string)call["call_id"]!, (string)call["name"]!, JsonNode.Parse((string)call["arguments"]!)!.AsObject(), answer)
                : null;

        // NOTE: a Responses client loops while the output holds a function_call item; the status stays "completed".
        public override bool StoppedForTool(JsonNode answer) => (string?)answer["status"] == "completed" && FunctionCallItem(answer) is not null;

        public override (long Input, long Output) Usage(JsonNode answer) =>
            (Long(answer["usage"]?["input_tokens"]), Long(answer["usage"]?["output_tokens"]));

        public override StreamedAnswer ReadStream(IReadOnlyList<(string? Event, string Data)> events)
        {
            var text = new StringBuilder();
            JsonNode? completed = null;
            foreach (var (name, data) in events)
            {
                var payload = JsonNode.Parse(data)!;
                // NOTE: the SDKs dispatch on the payload's type; the event line must agree with it.
                Assert.That((string?)payload["type"], Is.EqualTo(name), "event name and payload type");
                if (name == "response.output_text.delta") text.Append((string?)payload["delta"]);
                if (name == "response.completed") completed = payload["response"];
            }
            var (input, output) = completed is null ? (0L, 0L) : Usage(completed);
            return new StreamedAnswer(text.ToString(), completed is not null && events[^1].Event == "response.completed", input, output);
        }
    }

    private sealed class MessagesDialect : MatrixDialect
    {
        public override string Name => "messages";
        public override string Route => "messages";
        public override string Path => "v1/messages";

        public override void Authenticate(HttpRequestMessage request, string key)
        {
            request.Headers.Add("x-api-key", key);
            request.Headers.Add("anthropic-version", "2023-06-01");
        }

        private static JsonObject User(JsonNode content) => new() { ["role"] = "user", ["content"] = content };

        public override JsonObject Ask(string model, string text, bool stream)
        {
            var body = new JsonObject { ["model"] = model, ["max_tokens"] = 256, ["messages"] = new JsonArray(User(text)) };
            if (stream) body["stream"] = true;
            return body;
        }

        private static JsonArray Tools() => new(new JsonObject
        {
            ["name"] = MatrixTool.Name, ["description"] = "Current weather of a city", ["input_schema"] = MatrixTool.Parameters(),
        });

        public override JsonObject AskWithTool(string model, string text) =>
            new() { ["model"] = model, ["max_tokens"] = 256, ["messages"] = new JsonArray(User(text)), ["tools"] = Tools() };

        public override JsonObject SendToolResult(string model, string text, ClientToolCall call, string result) => new()
        {
            ["model"] = model,
            ["max_tokens"] = 256,
            ["messages"] = new JsonArray(
                User(text),
                new JsonObject { ["role"] = "assistant", ["content"] = call.Answer["content"]!.DeepClone() },
                User(new JsonArray(new JsonObject { ["type"] = "tool_result", ["tool_use_id"] = call.Id, ["content"] = result }))),
            ["tools"] = Tools(),
        };

        public override string AnswerText(JsonNode answer) => string.Concat(
            (answer["content"]?.AsArray() ?? []).Where(b => (string?)b?["type"] == "text").Select(b => (string?)b!["text"]));

        public override ClientToolCall? ToolCall(JsonNode answer) =>
            answer["content"]?.AsArray().OfType<JsonObject>().FirstOrDefault(b => (string?)b["type"] == "tool_use") is { } use
                ? new ClientToolCall((string)use["id"]!, (string)use["name"]!, use["input"]!.AsObject(), answer)
                : null;

        public override bool StoppedForTool(JsonNode answer) => (string?)answer["stop_reason"] == "tool_use";

        public override (long Input, long Output) Usage(JsonNode answer) =>
            (Long(answer["usage"]?["input_tokens"]), Long(answer["usage"]?["output_tokens"]));

        public override StreamedAnswer ReadStream(IReadOnlyList<(string? Event, string Data)> events)
        {
            var text = new StringBuilder();
            long input = 0, output = 0;
            foreach (var (name, data) in events)
            {
                var payload = JsonNode.Parse(data)!;
                Assert.That((string?)payload["type"], Is.EqualTo(name), "event name and payload type");
                var deltaType = (string?)payload["delta"]?["type"];
                switch (name)
                {
                    case "message_start":
                        input = Long(payload["message"]?["usage"]?["input_tokens"]);
                        break;
                    case "content_block_delta" when deltaType == "text_delta":
                        text.Append((string?)payload["delta"]!["text"]);
                        break;
                    case "message_delta":
                        // NOTE: message_delta's usage is cumulative and wins, as the Anthropic SDKs read it; a translated
                        // stream learns the input tokens only at the end.
                        output = Long(payload["usage"]?["output_tokens"]);
                        if (payload["usage"]?["input_tokens"] is JsonValue) input = Long(payload["usage"]!["input_tokens"]);
                        break;
                }
            }
            return new StreamedAnswer(text.ToString(), events.Count > 0 && events[^1].Event == "message_stop", input, output);
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
