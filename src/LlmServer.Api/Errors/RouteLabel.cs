namespace LlmServer.Api.Errors;

/// <summary>
/// A request path folded into a fixed set of names, so a metric label or a ledger route never carries a
/// client-chosen string (a made-up path cannot grow the series count).
/// </summary>
internal static class RouteLabel
{
    public static string Of(PathString path)
    {
        var p = path.Value ?? "";
        return p switch
        {
            "/v1/chat/completions" => "chat_completions",
            "/v1/completions" => "completions",
            "/v1/responses" => "responses",
            "/v1/embeddings" => "embeddings",
            "/v1/messages" => "messages",
            "/v1/messages/count_tokens" => "count_tokens",
            "/api/v1/chat" or "/api/v1/chat/stream" => "api_chat",
            _ when path.StartsWithSegments("/v1/responses") => "responses",
            _ when path.StartsWithSegments("/v1/models") => "models",
            _ when path.StartsWithSegments("/v1/messages") => "messages",
            _ when path.StartsWithSegments("/v1") => "v1_other",
            _ when path.StartsWithSegments("/api/v1/chat") => "api_chat",
            _ when path.StartsWithSegments("/api/v1/admin") => "api_admin",
            _ when path.StartsWithSegments("/api/v1/usage") => "api_usage",
            _ when path.StartsWithSegments("/api") => "api_other",
            _ => "other",
        };
    }
}
