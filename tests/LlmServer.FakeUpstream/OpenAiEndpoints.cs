using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LlmServer.FakeUpstream;

/// <summary>OpenAI / vLLM endpoints of the fake upstream.</summary>
internal static class OpenAiEndpoints
{

    private const long Created = 1_700_000_000;
    private static readonly ConcurrentDictionary<string, JsonObject> s_responses = new();

    public static void Map(WebApplication app, FakeUpstreamServer server)
    {
        app.MapGet("/v1/models", () => Results.Text(new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray(server.Models.Select(m => (JsonNode)Model(m, server.MaxModelLen)).ToArray()),
        }.ToJsonString(), "application/json"));

        app.MapGet("/v1/models/{id}", (string id) => server.Models.Contains(id)
            ? Results.Text(Model(id, server.MaxModelLen).ToJsonString(), "application/json")
            : Results.Text(Error($"The model `{id}` does not exist.", "invalid_request_error", "model_not_found"), "application/json", statusCode: 404));

        app.MapGet("/health", () => Results.Ok());

        app.MapPost("/v1/chat/completions", (HttpContext ctx) => ChatAsync(ctx, server));
        app.MapPost("/v1/completions", (HttpContext ctx) => CompletionsAsync(ctx, server));
        app.MapPost("/v1/embeddings", (HttpContext ctx) => EmbeddingsAsync(ctx));
        app.MapPost("/v1/responses", (HttpContext ctx) => ResponsesAsync(ctx, server));
        app.MapGet("/v1/responses/{id}", (string id) => s_responses.TryGetValue(id, out var r)
            ? Results.Text(Completed(r).ToJsonString(), "application/json")
            : Results.Text(Error($"No response found with id '{id}'.", "invalid_request_error", null), "application/json", statusCode: 404));
    }

    private static JsonObject Model(string id, int maxModelLen) => new()
    {
        ["id"] = id, ["object"] = "model", ["created"] = Created, ["owned_by"] = "fake",
        ["root"] = id, ["parent"] = null, ["max_model_len"] = maxModelLen,
    };

    private static string Error(string message, string type, string? code) =>
        new JsonObject { ["error"] = new JsonObject { ["message"] = message, ["type"] = type, ["param"] = null, ["code"] = code } }.ToJsonString();

    private static RecordedRequest Recorded(HttpContext ctx) => (RecordedRequest)ctx.Items["recorded"]!;

    private static async Task<JsonObject?> BodyAsync(HttpContext ctx)
    {
        try
        {
            return Recorded(ctx).Json as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
        finally
        {
            await Task.CompletedTask;
        }
    }

    private static async Task BadRequestAsync(HttpContext ctx, string message)
    {
        ctx.Response.StatusCode = 400;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(Error(message, "invalid_request_error", null));
    }

    private static JsonObject Usage(int prompt, int completion, int cached) => new()
    {
        ["prompt_tokens"] = prompt, ["completion_tokens"] = completion, ["total_tokens"] = prompt + completion,
        ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = cached },
        ["completion_tokens_details"] = new JsonObject { ["reasoning_tokens"] = 0 },
    };

    private static async Task ChatAsync(HttpContext ctx, FakeUpstreamServer server)
    {
        var body = await BodyAsync(ctx);
        if (body?["messages"] is not JsonArray messages)
        {
            await BadRequestAsync(ctx, "'messages' is a required property");
            return;
        }
        var model = (string?)body["model"] ?? "gpt-4o-mini";
        var text = server.Reply(Recorded(ctx), WireText.LastUser(messages));
        // NOTE: a conversation that ends with a tool's result gets the answer, not another call (an agent would loop).
        var chosen = body["tools"] is JsonArray { Count: > 0 } tools && (string?)body["tool_choice"] != "none"
            && (string?)messages[^1]?["role"] != "tool"
            ? ToolChoice.Choose(server, tools.Select(t => (string?)t?["function"]?["name"]), WireText.LastUser(messages)) : null;
        var tool = chosen?.Name;
        var args = chosen?.Arguments;
        var prompt = WireText.Tokens(messages);
        var completion = WireText.Tokens(args ?? text);
        var id = "chatcmpl-fake" + Guid.NewGuid().ToString("N")[..12];

        if (body["stream"] is JsonValue s && s.TryGetValue<bool>(out var stream) && stream)
        {
            var includeUsage = body["stream_options"]?["include_usage"] is JsonValue iu && iu.TryGetValue<bool>(out var b) && b;
            var sse = await SseStream.StartAsync(ctx, server);
            JsonObject Chunk(JsonObject delta, string? finish) => new()
            {
                ["id"] = id, ["object"] = "chat.completion.chunk", ["created"] = Created, ["model"] = model,
                ["system_fingerprint"] = "fp_fake",
                ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["logprobs"] = null, ["finish_reason"] = finish }),
            };
            if (!await sse.SendAsync(null, Chunk(new JsonObject { ["role"] = "assistant", ["content"] = "" }, null).ToJsonString())) return;
            if (tool is null)
            {
                foreach (var piece in server.Chunks(text))
                {
                    if (!await sse.SendAsync(null, Chunk(new JsonObject { ["content"] = piece }, null).ToJsonString())) return;
                }
            }
            else
            {
                var first = new JsonObject
                {
                    ["tool_calls"] = new JsonArray(new JsonObject
                    {
                        ["index"] = 0, ["id"] = "call_fake1", ["type"] = "function",
                        ["function"] = new JsonObject { ["name"] = tool, ["arguments"] = "" },
                    }),
                };
                if (!await sse.SendAsync(null, Chunk(first, null).ToJsonString())) return;
                foreach (var piece in server.Chunks(args!))
                {
                    var delta = new JsonObject
                    {
                        ["tool_calls"] = new JsonArray(new JsonObject { ["index"] = 0, ["function"] = new JsonObject { ["arguments"] = piece } }),
                    };
                    if (!await sse.SendAsync(null, Chunk(delta, null).ToJsonString())) return;
                }
            }
            if (!await sse.SendAsync(null, Chunk(new JsonObject(), tool is null ? "stop" : "tool_calls").ToJsonString())) return;
            if (includeUsage)
            {
                var last = Chunk(new JsonObject(), null);
                last["choices"] = new JsonArray();
                last["usage"] = Usage(prompt, completion, server.CachedTokens);
                if (!await sse.SendAsync(null, last.ToJsonString())) return;
            }
            await sse.SendAsync(null, "[DONE]");
            return;
        }

        var message = new JsonObject { ["role"] = "assistant", ["content"] = tool is null ? text : null, ["refusal"] = null };
        if (tool is not null)
        {
            message["tool_calls"] = new JsonArray(new JsonObject
            {
                ["id"] = "call_fake1", ["type"] = "function",
                ["function"] = new JsonObject { ["name"] = tool, ["arguments"] = args },
            });
        }
        var response = new JsonObject
        {
            ["id"] = id, ["object"] = "chat.completion", ["created"] = Created, ["model"] = model,
            ["system_fingerprint"] = "fp_fake",
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0, ["message"] = message, ["logprobs"] = null, ["finish_reason"] = tool is null ? "stop" : "tool_calls",
            }),
            ["usage"] = Usage(prompt, completion, server.CachedTokens),
        };
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(response.ToJsonString());
    }

    private static async Task CompletionsAsync(HttpContext ctx, FakeUpstreamServer server)
    {
        var body = await BodyAsync(ctx);
        if (body?["prompt"] is not JsonNode promptNode)
        {
            await BadRequestAsync(ctx, "'prompt' is a required property");
            return;
        }
        var promptText = promptNode is JsonArray pa ? string.Join("", pa.Select(p => (string?)p)) : (string?)promptNode ?? "";
        var model = (string?)body["model"] ?? "gpt-4o-mini";
        var text = server.Reply(Recorded(ctx), promptText);
        var id = "cmpl-fake" + Guid.NewGuid().ToString("N")[..12];
        var usage = new JsonObject
        {
            ["prompt_tokens"] = WireText.Tokens(promptText), ["completion_tokens"] = WireText.Tokens(text),
            ["total_tokens"] = WireText.Tokens(promptText) + WireText.Tokens(text),
        };
        JsonObject Choice(string t, string? finish) => new() { ["text"] = t, ["index"] = 0, ["logprobs"] = null, ["finish_reason"] = finish };
        JsonObject Envelope(JsonArray choices) => new()
        {
            ["id"] = id, ["object"] = "text_completion", ["created"] = Created, ["model"] = model, ["choices"] = choices,
        };
        if (body["stream"] is JsonValue s && s.TryGetValue<bool>(out var stream) && stream)
        {
            var includeUsage = body["stream_options"]?["include_usage"] is JsonValue iu && iu.TryGetValue<bool>(out var b) && b;
            var sse = await SseStream.StartAsync(ctx, server);
            foreach (var piece in server.Chunks(text))
            {
                if (!await sse.SendAsync(null, Envelope(new JsonArray(Choice(piece, null))).ToJsonString())) return;
            }
            if (!await sse.SendAsync(null, Envelope(new JsonArray(Choice("", "stop"))).ToJsonString())) return;
            if (includeUsage)
            {
                var last = Envelope(new JsonArray());
                last["usage"] = usage;
                if (!await sse.SendAsync(null, last.ToJsonString())) return;
            }
            await sse.SendAsync(null, "[DONE]");
            return;
        }
        var response = Envelope(new JsonArray(Choice(text, "stop")));
        response["usage"] = usage;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(response.ToJsonString());
    }

    private static async Task EmbeddingsAsync(HttpContext ctx)
    {
        var body = await BodyAsync(ctx);
        if (body?["input"] is not JsonNode input)
        {
            await BadRequestAsync(ctx, "'input' is a required property");
            return;
        }
        var inputs = input is JsonArray a ? a.Select(x => x?.ToJsonString() ?? "").ToList() : [(string?)input ?? ""];
        var base64 = (string?)body["encoding_format"] == "base64";
        var data = new JsonArray();
        var tokens = 0;
        for (var i = 0; i < inputs.Count; i++)
        {
            tokens += WireText.Tokens(inputs[i]);
            var vector = Enumerable.Range(0, 8).Select(k => (float)((inputs[i].Length + k) % 7) / 7f).ToArray();
            JsonNode embedding = base64
                ? Convert.ToBase64String(vector.SelectMany(BitConverter.GetBytes).ToArray())
                : new JsonArray(vector.Select(f => (JsonNode)f).ToArray());
            data.Add(new JsonObject { ["object"] = "embedding", ["index"] = i, ["embedding"] = embedding });
        }
        var response = new JsonObject
        {
            ["object"] = "list", ["data"] = data, ["model"] = (string?)body["model"] ?? "text-embedding-3-small",
            ["usage"] = new JsonObject { ["prompt_tokens"] = tokens, ["total_tokens"] = tokens },
        };
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(response.ToJsonString());
    }

    private static JsonObject ResponseObject(string id, JsonObject request, string status, string text, int input, int output, int cached, JsonObject? call = null)
    {
        var itemId = "msg_" + id[5..];
        var response = new JsonObject
        {
            ["id"] = id, ["object"] = "response", ["created_at"] = Created, ["status"] = status,
            ["error"] = null, ["incomplete_details"] = null,
            ["instructions"] = request["instructions"]?.DeepClone(),
            ["max_output_tokens"] = request["max_output_tokens"]?.DeepClone(),
            ["model"] = (string?)request["model"] ?? "gpt-4o-mini",
            ["output"] = status == "completed" && call is not null ? new JsonArray(call.DeepClone())
                : status == "completed"
                ? new JsonArray(new JsonObject
                {
                    ["type"] = "message", ["id"] = itemId, ["status"] = "completed", ["role"] = "assistant",
                    ["content"] = new JsonArray(new JsonObject { ["type"] = "output_text", ["text"] = text, ["annotations"] = new JsonArray(), ["logprobs"] = new JsonArray() }),
                })
                : new JsonArray(),
            ["parallel_tool_calls"] = true,
            ["previous_response_id"] = request["previous_response_id"]?.DeepClone(),
            ["temperature"] = request["temperature"]?.DeepClone() ?? 1.0,
            ["top_p"] = 1.0,
            ["tool_choice"] = "auto",
            ["tools"] = request["tools"]?.DeepClone() ?? new JsonArray(),
            ["text"] = new JsonObject { ["format"] = new JsonObject { ["type"] = "text" } },
            ["background"] = request["background"]?.DeepClone() ?? false,
            ["metadata"] = new JsonObject(),
        };
        // NOTE: usage only once the response is complete (an unfinished response has none).
        if (status == "completed")
        {
            response["usage"] = new JsonObject
                {
                    ["input_tokens"] = input, ["input_tokens_details"] = new JsonObject { ["cached_tokens"] = cached, ["cache_write_tokens"] = 0 },
                    ["output_tokens"] = output, ["output_tokens_details"] = new JsonObject { ["reasoning_tokens"] = 0 },
                    ["total_tokens"] = input + output,
                };
        }
        return response;
    }

    private static JsonObject Completed(JsonObject stored) => (JsonObject)stored.DeepClone();

    private static async Task ResponsesAsync(HttpContext ctx, FakeUpstreamServer server)
    {
        var body = await BodyAsync(ctx);
        if (body?["input"] is not JsonNode input)
        {
            await BadRequestAsync(ctx, "'input' is a required property");
            return;
        }
        var userText = WireText.ResponsesInput(input);
        var text = server.Reply(Recorded(ctx), userText);
        var inputTokens = WireText.Tokens(input) + WireText.Tokens((string?)body["instructions"] ?? "");
        var outputTokens = WireText.Tokens(text);
        var id = "resp_" + Guid.NewGuid().ToString("N")[..24];
        // NOTE: only scripted tool calls here, and none once the input ends with a tool's output (the agent's next turn).
        var endsWithToolOutput = input is JsonArray items && items.Count > 0 && (string?)items[^1]?["type"] == "function_call_output";
        var chosen = server.ToolCalls.Count > 0 && body["tools"] is JsonArray offered && !endsWithToolOutput
            ? ToolChoice.Choose(server, offered.Select(t => (string?)t?["name"]), userText) : null;
        var call = chosen is { } c
            ? new JsonObject
            {
                ["type"] = "function_call", ["id"] = "fc_" + id[5..], ["call_id"] = "call_fake1", ["name"] = c.Name,
                ["arguments"] = c.Arguments, ["status"] = "completed",
            }
            : null;
        var completed = ResponseObject(id, body, "completed", text, inputTokens, outputTokens, server.CachedTokens, call);

        if (body["background"] is JsonValue bg && bg.TryGetValue<bool>(out var background) && background)
        {
            s_responses[id] = completed;
            ctx.Response.ContentType = "application/json";
            await ctx.Response.WriteAsync(ResponseObject(id, body, "queued", "", 0, 0, 0).ToJsonString());
            return;
        }

        if (body["stream"] is JsonValue s && s.TryGetValue<bool>(out var stream) && stream)
        {
            var sse = await SseStream.StartAsync(ctx, server);
            var seq = 0;
            var itemId = "msg_" + id[5..];
            Task<bool> Send(string type, JsonObject payload)
            {
                payload["type"] = type;
                payload["sequence_number"] = seq++;
                return sse.SendAsync(type, payload.ToJsonString());
            }
            var inProgress = ResponseObject(id, body, "in_progress", "", 0, 0, 0);
            if (!await Send("response.created", new JsonObject { ["response"] = inProgress.DeepClone() })) return;
            if (!await Send("response.in_progress", new JsonObject { ["response"] = inProgress.DeepClone() })) return;
            if (call is not null)
            {
                var added = (JsonObject)call.DeepClone();
                added["arguments"] = "";
                added["status"] = "in_progress";
                if (!await Send("response.output_item.added", new JsonObject { ["output_index"] = 0, ["item"] = added })) return;
                foreach (var piece in server.Chunks((string)call["arguments"]!))
                {
                    if (!await Send("response.function_call_arguments.delta", new JsonObject
                    {
                        ["item_id"] = (string?)call["id"], ["output_index"] = 0, ["delta"] = piece,
                    })) return;
                }
                if (!await Send("response.function_call_arguments.done", new JsonObject
                {
                    ["item_id"] = (string?)call["id"], ["output_index"] = 0, ["arguments"] = (string?)call["arguments"],
                })) return;
                if (!await Send("response.output_item.done", new JsonObject { ["output_index"] = 0, ["item"] = call.DeepClone() })) return;
                await Send("response.completed", new JsonObject { ["response"] = completed.DeepClone() });
                return;
            }
            if (!await Send("response.output_item.added", new JsonObject
            {
                ["output_index"] = 0,
                ["item"] = new JsonObject { ["type"] = "message", ["id"] = itemId, ["status"] = "in_progress", ["role"] = "assistant", ["content"] = new JsonArray() },
            })) return;
            if (!await Send("response.content_part.added", new JsonObject
            {
                ["item_id"] = itemId, ["output_index"] = 0, ["content_index"] = 0,
                ["part"] = new JsonObject { ["type"] = "output_text", ["text"] = "", ["annotations"] = new JsonArray(), ["logprobs"] = new JsonArray() },
            })) return;
            foreach (var piece in server.Chunks(text))
            {
                if (!await Send("response.output_text.delta", new JsonObject
                {
                    ["item_id"] = itemId, ["output_index"] = 0, ["content_index"] = 0, ["delta"] = piece, ["logprobs"] = new JsonArray(),
                })) return;
            }
            if (!await Send("response.output_text.done", new JsonObject
            {
                ["item_id"] = itemId, ["output_index"] = 0, ["content_index"] = 0, ["text"] = text, ["logprobs"] = new JsonArray(),
            })) return;
            if (!await Send("response.content_part.done", new JsonObject
            {
                ["item_id"] = itemId, ["output_index"] = 0, ["content_index"] = 0,
                ["part"] = new JsonObject { ["type"] = "output_text", ["text"] = text, ["annotations"] = new JsonArray(), ["logprobs"] = new JsonArray() },
            })) return;
            if (!await Send("response.output_item.done", new JsonObject { ["output_index"] = 0, ["item"] = completed["output"]![0]!.DeepClone() })) return;
            await Send("response.completed", new JsonObject { ["response"] = completed.DeepClone() });
            return;
        }

        s_responses[id] = completed;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(completed.ToJsonString());
    }
}
