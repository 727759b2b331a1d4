using System.Text;
using System.Text.Json.Nodes;
using LlmServer.Services.Pricing;

namespace LlmServer.Services.Anthropic;

/// <summary>Anthropic message -> OpenAI chat.completion.</summary>
public static class MessagesToChatResponse
{
    /// <summary>Translates a (non-streamed) Anthropic message.</summary>
    public static JsonObject Translate(JsonObject message, string? requestedModel = null, long? created = null)
    {
        var text = new StringBuilder();
        var reasoning = new StringBuilder();
        var toolCalls = new JsonArray();
        if (message["content"] is JsonArray blocks)
        {
            foreach (var b in blocks)
            {
                switch (J.Str(b?["type"]))
                {
                    case "text": text.Append(J.Str(b?["text"])); break;
                    case "thinking": reasoning.Append(J.Str(b?["thinking"])); break;
                    case "tool_use":
                        toolCalls.Add(new JsonObject
                        {
                            ["id"] = J.Str(b?["id"]),
                            ["type"] = "function",
                            ["function"] = new JsonObject { ["name"] = J.Str(b?["name"]), ["arguments"] = J.Compact(b?["input"] ?? new JsonObject()) },
                        });
                        break;
                }
            }
        }
        var msg = new JsonObject
        {
            ["role"] = "assistant",
            ["content"] = text.Length > 0 || toolCalls.Count == 0 ? text.ToString() : null,
            ["refusal"] = null,
        };
        if (reasoning.Length > 0) msg["reasoning_content"] = reasoning.ToString();
        if (toolCalls.Count > 0) msg["tool_calls"] = toolCalls;
        return new JsonObject
        {
            ["id"] = ChatId(J.Str(message["id"])),
            ["object"] = "chat.completion",
            ["created"] = created ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["model"] = requestedModel ?? J.Str(message["model"]),
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = msg,
                ["logprobs"] = null,
                ["finish_reason"] = StopReasons.ToOpenAi(J.Str(message["stop_reason"])),
            }),
            ["usage"] = Usage(message["usage"]),
        };
    }

    /// <summary>chatcmpl- id derived from msg_ id.</summary>
    public static string ChatId(string? messageId) =>
        "chatcmpl-" + (string.IsNullOrEmpty(messageId) ? Guid.NewGuid().ToString("N")[..24]
            : messageId.StartsWith("msg_", StringComparison.Ordinal) ? messageId[4..] : messageId);

    /// <summary>OpenAI usage from Anthropic usage: prompt_tokens includes cache reads and writes.</summary>
    public static JsonObject Usage(JsonNode? usage)
    {
        var input = J.Long(usage?["input_tokens"]) ?? 0;
        var cacheRead = J.Long(usage?["cache_read_input_tokens"]) ?? 0;
        var cacheWrite = J.Long(usage?["cache_creation_input_tokens"]) ?? 0;
        var output = J.Long(usage?["output_tokens"]) ?? 0;
        var prompt = input + cacheRead + cacheWrite;
        var result = new JsonObject
        {
            ["prompt_tokens"] = prompt,
            ["completion_tokens"] = output,
            ["total_tokens"] = prompt + output,
            ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = cacheRead },
        };
        // NOTE: OpenAI has no field for cache writes, which cost more than plain input; they ride beside prompt_tokens
        // under Anthropic's names (as LiteLLM does), so the ledger and a cost-aware client can price them.
        if (cacheWrite > 0 && usage is JsonObject u)
        {
            var (fiveMinutes, oneHour) = UsageJson.CacheCreation(u);
            UsageJson.WriteAnthropicCacheCreation(result, fiveMinutes, oneHour);
        }
        return result;
    }
}
