using System.Text;

namespace LlmServer.Tests.Integration.BadInput;

/// <summary>
/// Every route that parses a JSON body, as a template: {T} is the value of its main text field, {X} extra
/// members (with their leading comma). <see cref="Duplicate"/> repeats one of its keys.
/// </summary>
public sealed record JsonRoute(string Name, string Path, string Template, string TextField, string Duplicate, string DuplicateKey)
{
    public byte[] Body(byte[] text, string extra = "")
    {
        var template = Template.Replace("@CLAUDE@", BadInputHost.Claude, StringComparison.Ordinal)
            .Replace("@TRANSLATED@", BadInputHost.Translated, StringComparison.Ordinal).Replace("{X}", extra, StringComparison.Ordinal);
        var (head, tail) = Split(template, "{T}");
        return [.. Encoding.UTF8.GetBytes(head), .. text, .. Encoding.UTF8.GetBytes(tail)];
    }

    public byte[] Body(string textJson = "\"hello\"", string extra = "") => Body(Encoding.UTF8.GetBytes(textJson), extra);

    public override string ToString() => Name;

    private static (string, string) Split(string s, string marker)
    {
        var i = s.IndexOf(marker, StringComparison.Ordinal);
        return (s[..i], s[(i + marker.Length)..]);
    }

    public static readonly JsonRoute[] All =
    [
        new("chat_completions", "/v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":{T}}]{X}}""", "messages", ""","model":"gpt-4o-mini" """, "model"),
        new("completions", "/v1/completions", """{"model":"gpt-4o-mini","prompt":{T}{X}}""", "prompt", ""","model":"gpt-4o-mini" """, "model"),
        new("responses", "/v1/responses", """{"model":"gpt-4o-mini","input":{T}{X}}""", "input", ""","model":"gpt-4o-mini" """, "model"),
        new("embeddings", "/v1/embeddings", """{"model":"text-embedding-3-small","input":{T}{X}}""", "input", ""","model":"text-embedding-3-small" """, "model"),
        new("chat_completions_via_anthropic", "/v1/chat/completions", """{"model":"@CLAUDE@","messages":[{"role":"user","content":{T}}]{X}}""", "messages", ""","model":"@CLAUDE@" """, "model"),
        new("messages_passthrough", "/v1/messages", """{"model":"@CLAUDE@","max_tokens":16,"messages":[{"role":"user","content":{T}}]{X}}""", "messages", ""","max_tokens":16""", "max_tokens"),
        new("messages_translated", "/v1/messages", """{"model":"@TRANSLATED@","max_tokens":16,"messages":[{"role":"user","content":{T}}]{X}}""", "messages", ""","max_tokens":16""", "max_tokens"),
        new("count_tokens", "/v1/messages/count_tokens", """{"model":"@CLAUDE@","messages":[{"role":"user","content":{T}}]{X}}""", "messages", ""","model":"@CLAUDE@" """, "model"),
        new("api_chat", "/api/v1/chat", """{"user_prompt":{T}{X}}""", "user_prompt", ""","user_prompt":"again" """, "user_prompt"),
        new("api_chat_stream", "/api/v1/chat/stream", """{"user_prompt":{T}{X}}""", "user_prompt", ""","user_prompt":"again" """, "user_prompt"),
        new("admin_keys", "/api/v1/admin/keys", """{"name":{T}{X}}""", "name", ""","name":"again" """, "name"),
    ];

    /// <summary>Nesting one level past the shared limit (the top-level object counts as one).</summary>
    public static string TooDeep => new string('[', Dto.JsonLimits.MaxDepth) + new string(']', Dto.JsonLimits.MaxDepth);
}
