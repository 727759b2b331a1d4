using System.Text.Json.Nodes;

namespace LlmServer.FakeUpstream;

/// <summary>A tool call the fake makes when a request offers a tool of this name (arguments as a JSON object text).</summary>
/// <param name="Name">The tool's name, as the client declares it.</param>
/// <param name="ArgumentsJson">The arguments the "model" passes, e.g. <c>{"command":"echo hi"}</c>.</param>
public sealed record ScriptedToolCall(string Name, string ArgumentsJson);

/// <summary>Which tool the fake calls: a scripted one the request offers, else (unscripted) the first offered tool.</summary>
internal static class ToolChoice
{
    private static readonly System.Text.Json.JsonSerializerOptions s_modelWritten = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The tool to call and its arguments, or null to answer with text.</summary>
    public static (string Name, string Arguments)? Choose(FakeUpstreamServer server, IEnumerable<string?> offered, string userText)
    {
        var names = offered.OfType<string>().ToList();
        if (names.Count == 0) return null;
        if (server.ToolCalls.Count > 0)
        {
            var scripted = server.ToolCalls.FirstOrDefault(t => names.Contains(t.Name));
            return scripted is null ? null : (scripted.Name, scripted.ArgumentsJson);
        }
        // NOTE: a model writes tool arguments as plain text ("<", Hangul unescaped), not as System.Text.Json's default escapes.
        return (names[0], new JsonObject { ["input"] = userText }.ToJsonString(s_modelWritten));
    }
}
