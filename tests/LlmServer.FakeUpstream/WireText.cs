using System.Text;
using System.Text.Json.Nodes;

namespace LlmServer.FakeUpstream;

/// <summary>Pulls the last user text out of each wire format, and counts tokens deterministically.</summary>
internal static class WireText
{
    public static string ContentText(JsonNode? content)
    {
        switch (content)
        {
            case null: return "";
            case JsonValue v: return v.TryGetValue<string>(out var s) ? s : v.ToJsonString();
            case JsonArray parts:
                var sb = new StringBuilder();
                foreach (var p in parts)
                {
                    if (p is JsonValue pv) { sb.Append(ContentText(pv)); continue; }
                    var type = (string?)p?["type"];
                    if (p?["text"] is JsonNode t) sb.Append((string?)t);
                    else if (type == "tool_result") sb.Append(ContentText(p?["content"]));
                    else if (p?["content"] is JsonNode c) sb.Append(ContentText(c));
                }
                return sb.ToString();
            case JsonObject o:
                return o["text"] is JsonNode t2 ? (string?)t2 ?? "" : ContentText(o["content"]);
        }
        return "";
    }

    /// <summary>Last user-ish message text of a chat or Anthropic messages array.</summary>
    public static string LastUser(JsonArray? messages)
    {
        if (messages is null) return "";
        for (var i = messages.Count - 1; i >= 0; i--)
        {
            var m = messages[i];
            var role = (string?)m?["role"];
            if (role is "user" or "tool") return ContentText(m?["content"]);
            if (m?["type"] is JsonNode type && (string?)type == "function_call_output") return (string?)m["output"] ?? "";
        }
        return "";
    }

    /// <summary>Last user text of a Responses request: input may be a string or a list of items.</summary>
    public static string ResponsesInput(JsonNode? input) =>
        input switch
        {
            JsonValue v => (string?)v ?? "",
            JsonArray a => LastUser(a),
            _ => "",
        };

    public static int Tokens(string text) => Math.Max(1, (text.Length + 3) / 4);

    public static int Tokens(JsonNode? node) => node is null ? 1 : Tokens(node.ToJsonString());
}
