using System.Text.Json;
using System.Text.Json.Nodes;
using LlmServer.Services.Anthropic;

namespace LlmServer.Services.Responses;

/// <summary>
/// What the gateway keeps of a response it answered by translation, for an upstream that stores nothing: every
/// item of the conversation up to and including this response's output (what a later previous_response_id puts
/// before its input), and the response object for retrieval. Both as the client saw them: originals restored, so
/// masking applies afresh when they are sent again.
/// </summary>
public sealed record StoredConversation(JsonArray Items, JsonObject Response)
{
    /// <summary>The conversation after <paramref name="response"/>: the request's input items (history already in them) and its output.</summary>
    public static StoredConversation Of(JsonObject request, JsonObject response)
    {
        var items = InputItems(request["input"]);
        if (response["output"] is JsonArray output)
        {
            foreach (var item in output)
            {
                if (item is not null) items.Add(item.DeepClone());
            }
        }
        return new StoredConversation(items, (JsonObject)response.DeepClone());
    }

    /// <summary>The request with the stored conversation put before its own input (instructions are not carried over, as at OpenAI).</summary>
    public JsonObject Continue(JsonObject request)
    {
        var items = (JsonArray)Items.DeepClone();
        foreach (var item in InputItems(request["input"])) items.Add(item!.DeepClone());
        var continued = (JsonObject)request.DeepClone();
        continued["input"] = items;
        return continued;
    }

    /// <summary>The stored form (one JSON text).</summary>
    public string ToJson() => new JsonObject { ["items"] = Items.DeepClone(), ["response"] = Response.DeepClone() }.ToJsonString(J.Options);

    /// <summary>The stored form read back; null when it is not a conversation.</summary>
    public static StoredConversation? Parse(string? json)
    {
        if (string.IsNullOrEmpty(json)) return null;
        try
        {
            return JsonNode.Parse(json) is JsonObject { } o && o["items"] is JsonArray items && o["response"] is JsonObject response
                ? new StoredConversation((JsonArray)items.DeepClone(), (JsonObject)response.DeepClone())
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static JsonArray InputItems(JsonNode? input) => input switch
    {
        JsonValue v when J.Str(v) is { } text => new JsonArray(new JsonObject { ["type"] = "message", ["role"] = "user", ["content"] = text }),
        JsonArray items => (JsonArray)items.DeepClone(),
        _ => [],
    };
}
