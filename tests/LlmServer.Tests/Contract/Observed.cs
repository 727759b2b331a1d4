using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using LlmServer.Services.Exchange;

namespace LlmServer.Tests.Contract;

/// <summary>
/// What a client and the operator notice about one exchange, as one line per request so a failing case shows the
/// whole difference at once: status, Retry-After, the error in the dialect (body, or the event that ended a
/// stream), the calls the upstream received and the ledger rows.
/// </summary>
public static class Observed
{
    /// <summary>The line a surface must show for <paramref name="error"/> (null: a successful answer).</summary>
    /// <param name="anyMessage">The message is the server's own wording (limits, budgets): only its presence is part of the contract.</param>
    public static string Expect(ContractDialect dialect, ExchangeError? error, int upstreamCalls, bool midStream = false, bool anyMessage = false, int ledgerRows = 1)
    {
        var status = error is null || midStream ? 200 : error.Status;
        var shown = error is null ? "-" : Shown(dialect, error.Code, error.AnthropicType, anyMessage ? "*" : error.Message);
        var row = error is null ? "200 -" : $"{error.Status} {error.Code}";
        var retry = midStream ? null : error?.RetryAfterSeconds;
        return Line(status, retry, shown, midStream, upstreamCalls, Enumerable.Repeat(row, ledgerRows));
    }

    public static string Line(int status, long? retryAfter, string error, bool midStream, int upstreamCalls, IEnumerable<string> ledger) =>
        $"status={status} retry-after={retryAfter?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"} error={error}{(midStream ? " (stream event)" : "")} " +
        $"upstream-calls={upstreamCalls} ledger=[{string.Join(", ", ledger)}]";

    /// <summary>The Retry-After header in seconds, or null.</summary>
    public static long? RetryAfter(HttpResponseHeaders headers) =>
        headers.RetryAfter is { Delta: { } d } ? (long)d.TotalSeconds
        : headers.RetryAfter is { Date: { } at } ? (long)Math.Ceiling((at - DateTimeOffset.UtcNow).TotalSeconds)
        : null;

    /// <summary>The error a response carries in <paramref name="dialect"/>: (shown, in a stream event), or ("-", false) when none.</summary>
    public static (string Shown, bool MidStream) ErrorIn(ContractDialect dialect, string text, bool eventStream, bool anyMessage)
    {
        if (!eventStream) return (ErrorInBody(dialect, Parse(text), anyMessage) ?? "-", false);
        foreach (var (name, data) in Events(text))
        {
            var json = Parse(data);
            var shown = dialect switch
            {
                ContractDialect.OpenAi => json?["error"] is JsonObject ? ErrorInBody(dialect, json, anyMessage) : null,
                ContractDialect.OpenAiResponses when name == "error" || (string?)json?["type"] == "error" => (string?)json?["code"] ?? (string?)json?["error"]?["code"] ?? "<error event without code>",
                ContractDialect.Anthropic or ContractDialect.Session when name == "error" => ErrorInBody(dialect, json, anyMessage) ?? "<error event of another shape>",
                _ => null,
            };
            if (shown is not null) return (shown, true);
        }
        return ("-", false);
    }

    private static string? ErrorInBody(ContractDialect dialect, JsonNode? body, bool anyMessage)
    {
        if (body?["error"] is not JsonObject e) return null;
        return dialect switch
        {
            ContractDialect.Anthropic => Shown(dialect, null, (string?)e["type"], anyMessage && !string.IsNullOrEmpty((string?)e["message"]) ? "*" : (string?)e["message"]),
            _ => (string?)e["code"] ?? "<error without code>",
        };
    }

    private static string Shown(ContractDialect dialect, string? code, string? anthropicType, string? message) =>
        dialect == ContractDialect.Anthropic ? $"{anthropicType}: {message}" : code ?? "-";

    private static JsonNode? Parse(string text)
    {
        try { return JsonNode.Parse(text); }
        catch (System.Text.Json.JsonException) { return null; }
    }

    /// <summary>Server-sent events as (event name, data) in order; any line ending.</summary>
    private static IEnumerable<(string Name, string Data)> Events(string text)
    {
        string? name = null;
        var data = new List<string>();
        foreach (var raw in text.Replace("\r\n", "\n").Split('\n'))
        {
            if (raw.Length == 0)
            {
                if (data.Count > 0) yield return (name ?? "message", string.Join("\n", data));
                name = null;
                data.Clear();
            }
            else if (raw.StartsWith("event:", StringComparison.Ordinal)) name = raw[6..].Trim();
            else if (raw.StartsWith("data:", StringComparison.Ordinal)) data.Add(raw[5..].TrimStart());
        }
        if (data.Count > 0) yield return (name ?? "message", string.Join("\n", data));
    }
}
