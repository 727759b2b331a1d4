namespace LlmServer.Services.Ownership;

/// <summary>Which API surface created a stored response.</summary>
public static class ResponseSurfaces
{
    /// <summary>A background response of the session chat API.</summary>
    public const string SessionChat = "api_chat";

    /// <summary>A response stored upstream through /v1/responses.</summary>
    public const string Responses = "responses";
}

/// <summary>
/// A response id this server handed out, with its owner and what a later poll or retrieval needs on any instance:
/// where it lives upstream, the vault scope its request was masked in, and (session chat API) the turn to store.
/// </summary>
public sealed record OwnedResponse
{
    /// <summary>The upstream's response id.</summary>
    public required string Id { get; init; }

    /// <summary>The owner (see <see cref="Owners"/>).</summary>
    public required string Owner { get; init; }

    /// <summary><see cref="ResponseSurfaces"/>.</summary>
    public required string Surface { get; init; }

    /// <summary>The upstream's configured name, when the gateway routed it.</summary>
    public string? Upstream { get; init; }

    /// <summary>The model name the upstream knows.</summary>
    public string? UpstreamModel { get; init; }

    /// <summary>The session the completed answer belongs to (session chat API), or null.</summary>
    public string? SessionId { get; init; }

    /// <summary>The user's prompt as sent (restored text), stored with the answer as the session's turn.</summary>
    public string? UserPrompt { get; init; }

    /// <summary>The vault scope the request was masked in, when masked values must come back in the answer.</summary>
    public string? MaskingScope { get; init; }

    /// <summary>The masking policy the request ran under (off|mask|redact|block).</summary>
    public string? MaskingPolicy { get; init; }

    /// <summary>When it was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>
    /// A response the gateway answered by translation (the upstream stores nothing): the conversation's items and the
    /// response object as the client saw them (JSON, see <see cref="Responses.StoredConversation"/>); null when the upstream holds it.
    /// </summary>
    public string? Conversation { get; init; }
}

/// <summary>
/// Response ids and their owners, in the operations database, so every instance of a deployment answers a poll
/// or retrieval for the owner that created the response, and nobody else.
/// </summary>
public interface IOwnedResponseStore
{
    /// <summary>Records a response id (a repeated id keeps its first record).</summary>
    Task AddAsync(OwnedResponse response, CancellationToken cancellationToken);

    /// <summary>The record when it exists and belongs to <paramref name="owner"/>; otherwise null (unknown and foreign look alike).</summary>
    Task<OwnedResponse?> GetAsync(string id, string owner, CancellationToken cancellationToken);

    /// <summary>True for exactly one caller across instances: the poll that stores the completed answer as the session's turn.</summary>
    Task<bool> ClaimTurnAsync(string id, string owner, CancellationToken cancellationToken);
}
