using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LlmServer.FakeUpstream;

/// <summary>Anthropic Messages API endpoints of the fake upstream (plain and streamed, text and tool_use).</summary>
internal static class AnthropicEndpoints
{
    public static void Map(WebApplication app, FakeUpstreamServer server)
    {
        app.MapPost("/v1/messages", (HttpContext ctx) => MessagesAsync(ctx, server));
        app.MapPost("/v1/messages/count_tokens", async (HttpContext ctx) =>
        {
            var body = ((RecordedRequest)ctx.Items["recorded"]!).Json;
            ctx.Response.ContentType = "application/json";
            await ctx.Response.WriteAsync(new JsonObject { ["input_tokens"] = WireText.Tokens(body?["messages"]) }.ToJsonString());
        });
    }

    private static Task ErrorAsync(HttpContext ctx, string message) =>
        FakeUpstreamServer.WriteErrorAsync(ctx, 400, anthropic: true, "invalid_request_error", message, null);

    private static async Task MessagesAsync(HttpContext ctx, FakeUpstreamServer server)
    {
        var recorded = (RecordedRequest)ctx.Items["recorded"]!;
        if (recorded.Json is not JsonObject body || body["messages"] is not JsonArray messages)
        {
            await ErrorAsync(ctx, "messages: Field required");
            return;
        }
        if (body["max_tokens"] is null)
        {
            await ErrorAsync(ctx, "max_tokens: Field required");
            return;
        }
        var model = (string?)body["model"] ?? "claude-sonnet-4-5";
        var userText = WireText.LastUser(messages);
        var text = server.Reply(recorded, userText);
        var chosen = body["tools"] is JsonArray { Count: > 0 } tools && (string?)body["tool_choice"]?["type"] != "none"
            && !LastIsToolResult(messages) ? ToolChoice.Choose(server, tools.Select(t => (string?)t?["name"]), userText) : null;
        var tool = chosen?.Name;
        var inputJson = chosen is { } c ? JsonNode.Parse(c.Arguments)!.AsObject() : new JsonObject { ["input"] = userText };
        var inputTokens = WireText.Tokens(messages) + WireText.Tokens(body["system"]);
        var outputTokens = WireText.Tokens(tool is null ? text : inputJson.ToJsonString());
        var id = "msg_fake" + Guid.NewGuid().ToString("N")[..16];
        var stopReason = tool is null ? "end_turn" : "tool_use";

        if (body["stream"] is JsonValue s && s.TryGetValue<bool>(out var stream) && stream)
        {
            var sse = await SseStream.StartAsync(ctx, server);
            Task<bool> Send(string type, JsonObject payload)
            {
                payload["type"] = type;
                return sse.SendAsync(type, payload.ToJsonString());
            }
            var start = new JsonObject
            {
                ["id"] = id, ["type"] = "message", ["role"] = "assistant", ["model"] = model, ["content"] = new JsonArray(),
                ["stop_reason"] = null, ["stop_sequence"] = null,
                ["usage"] = server.AnthropicUsage(inputTokens, 1),
            };
            if (!await Send("message_start", new JsonObject { ["message"] = start })) return;
            JsonObject block = tool is null
                ? new JsonObject { ["type"] = "text", ["text"] = "" }
                : new JsonObject { ["type"] = "tool_use", ["id"] = "toolu_fake1", ["name"] = tool, ["input"] = new JsonObject() };
            if (!await Send("content_block_start", new JsonObject { ["index"] = 0, ["content_block"] = block })) return;
            if (!await Send("ping", new JsonObject())) return;
            var pieces = server.Chunks(tool is null ? text : inputJson.ToJsonString());
            foreach (var piece in pieces)
            {
                JsonObject delta = tool is null
                    ? new JsonObject { ["type"] = "text_delta", ["text"] = piece }
                    : new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = piece };
                if (!await Send("content_block_delta", new JsonObject { ["index"] = 0, ["delta"] = delta })) return;
            }
            if (!await Send("content_block_stop", new JsonObject { ["index"] = 0 })) return;
            if (!await Send("message_delta", new JsonObject
            {
                ["delta"] = new JsonObject { ["stop_reason"] = stopReason, ["stop_sequence"] = null },
                ["usage"] = new JsonObject { ["output_tokens"] = outputTokens },
            })) return;
            await Send("message_stop", new JsonObject());
            return;
        }

        JsonObject content = tool is null
            ? new JsonObject { ["type"] = "text", ["text"] = text }
            : new JsonObject { ["type"] = "tool_use", ["id"] = "toolu_fake1", ["name"] = tool, ["input"] = inputJson };
        var response = new JsonObject
        {
            ["id"] = id, ["type"] = "message", ["role"] = "assistant", ["model"] = model,
            ["content"] = new JsonArray(content), ["stop_reason"] = stopReason, ["stop_sequence"] = null,
            ["usage"] = server.AnthropicUsage(inputTokens, outputTokens),
        };
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(response.ToJsonString());
    }

    private static bool LastIsToolResult(JsonArray messages) =>
        messages.Count > 0 && messages[^1]?["content"] is JsonArray blocks && blocks.Any(b => (string?)b?["type"] == "tool_result");
}
