namespace LlmServer.Services.Chat;

/// <summary>One stored message of a session.</summary>
/// <param name="Role">"user" or "assistant".</param>
/// <param name="Content">The message text (as the user sees it: restored, never masked).</param>
/// <param name="CreatedAt">When it was stored.</param>
public sealed record ChatTurn(string Role, string Content, DateTimeOffset CreatedAt);

/// <summary>
/// Conversation history per session, inside its owner's space (<see cref="Ownership.Owners"/>): the same session id
/// named by two owners is two sessions. SQLite by default; PostgreSQL when LLMSERVER_DB is set.
/// Used by the session chat API and by the OpenAI-compatible API's x-session-id header.
/// </summary>
public interface IChatHistoryStore
{
    /// <summary>The newest <paramref name="maxMessages"/> messages of the session, oldest first.</summary>
    Task<IReadOnlyList<ChatTurn>> GetAsync(string owner, string sessionId, int maxMessages, CancellationToken cancellationToken);

    /// <summary>Appends messages (a completed turn: user, then assistant) atomically.</summary>
    Task AppendAsync(string owner, string sessionId, IReadOnlyList<ChatTurn> turns, CancellationToken cancellationToken);

    /// <summary>Removes a session; false when the owner has no such session.</summary>
    Task<bool> DeleteAsync(string owner, string sessionId, CancellationToken cancellationToken);
}
