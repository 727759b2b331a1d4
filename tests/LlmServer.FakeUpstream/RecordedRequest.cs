using System.Text.Json.Nodes;

namespace LlmServer.FakeUpstream;

/// <summary>What the fake upstream received: tests assert exactly what reached the upstream.</summary>
public sealed record RecordedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string Body)
{
    /// <summary>The body parsed as JSON, or null when it is not JSON.</summary>
    public JsonNode? Json
    {
        get
        {
            try { return string.IsNullOrEmpty(Body) ? null : JsonNode.Parse(Body); }
            catch (System.Text.Json.JsonException) { return null; }
        }
    }

    /// <summary>The caller's TCP port: equal ports on two requests mean one pooled connection was reused.</summary>
    public int RemotePort { get; init; }

    /// <summary>The bearer token or api-key / x-api-key header the caller used.</summary>
    public string? ApiKey =>
        Headers.TryGetValue("authorization", out var a) && a.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? a[7..]
        : Headers.TryGetValue("x-api-key", out var x) ? x
        : Headers.TryGetValue("api-key", out var k) ? k : null;
}
