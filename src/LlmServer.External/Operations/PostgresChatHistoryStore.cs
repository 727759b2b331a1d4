using Dapper;
using LlmServer.Services.Chat;

namespace LlmServer.External.Operations;

/// <summary>Session history in PostgreSQL (registered instead of the SQLite store when LLMSERVER_DB is set).</summary>
public sealed class PostgresChatHistoryStore(PostgresOpsDatabase db) : IChatHistoryStore
{
    public async Task<IReadOnlyList<ChatTurn>> GetAsync(string owner, string sessionId, int maxMessages, CancellationToken cancellationToken)
    {
        if (maxMessages <= 0)
        {
            return [];
        }
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        var rows = await c.QueryAsync<TurnRow>(new CommandDefinition("""
            SELECT role AS Role, content AS Content, created_at AS CreatedAt FROM (
                SELECT id, role, content, created_at FROM chat_turns WHERE owner = @owner AND session_id = @sessionId ORDER BY id DESC LIMIT @maxMessages) t
            ORDER BY id
            """, new { owner, sessionId, maxMessages }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => new ChatTurn(r.Role, r.Content, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt))).ToList();
    }

    public async Task AppendAsync(string owner, string sessionId, IReadOnlyList<ChatTurn> turns, CancellationToken cancellationToken)
    {
        if (turns.Count == 0)
        {
            return;
        }
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await db.BeginWriteAsync(c, cancellationToken).ConfigureAwait(false);
        foreach (var t in turns)
        {
            await c.ExecuteAsync(new CommandDefinition("INSERT INTO chat_turns (owner, session_id, role, content, created_at) VALUES (@owner, @sessionId, @Role, @Content, @at)",
                new { owner, sessionId, t.Role, t.Content, at = t.CreatedAt.ToUnixTimeMilliseconds() }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        }
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> DeleteAsync(string owner, string sessionId, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        var n = await c.ExecuteAsync(new CommandDefinition("DELETE FROM chat_turns WHERE owner = @owner AND session_id = @sessionId", new { owner, sessionId }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return n > 0;
    }

    private sealed class TurnRow
    {
        public string Role { get; set; } = "";
        public string Content { get; set; } = "";
        public long CreatedAt { get; set; }
    }
}
