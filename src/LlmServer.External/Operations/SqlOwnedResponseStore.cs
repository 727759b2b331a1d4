using Dapper;
using LlmServer.Services.Ownership;

namespace LlmServer.External.Operations;

/// <summary>
/// Response ids and their owners in the operations database (SQLite file, or PostgreSQL shared by every instance).
/// Records older than <see cref="Lifetime"/> are neither answered nor kept.
/// </summary>
public sealed class SqlOwnedResponseStore(OpsDatabase db, TimeProvider time) : IOwnedResponseStore
{
    /// <summary>How long a response id stays answerable: as long as OpenAI keeps a stored response.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromDays(30);

    private static readonly TimeSpan PurgeEvery = TimeSpan.FromMinutes(10);
    private long _nextPurge;

    public async Task AddAsync(OwnedResponse response, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        await c.ExecuteAsync(new CommandDefinition("""
            INSERT INTO owned_responses (id, owner, surface, upstream, upstream_model, session_id, user_prompt, masking_scope, masking_policy, turn_stored, created_at, conversation)
            VALUES (@Id, @Owner, @Surface, @Upstream, @UpstreamModel, @SessionId, @UserPrompt, @MaskingScope, @MaskingPolicy, 0, @at, @Conversation)
            ON CONFLICT (id) DO NOTHING
            """, new
        {
            response.Id, response.Owner, response.Surface, response.Upstream, response.UpstreamModel, response.SessionId,
            response.UserPrompt, response.MaskingScope, response.MaskingPolicy, response.Conversation, at = response.CreatedAt.ToUnixTimeMilliseconds(),
        }, cancellationToken: cancellationToken)).ConfigureAwait(false);

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var due = Interlocked.Read(ref _nextPurge);
        if (now >= due && Interlocked.CompareExchange(ref _nextPurge, now + (long)PurgeEvery.TotalMilliseconds, due) == due)
        {
            await c.ExecuteAsync(new CommandDefinition("DELETE FROM owned_responses WHERE created_at < @cutoff",
                new { cutoff = now - (long)Lifetime.TotalMilliseconds }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        }
    }

    public async Task<OwnedResponse?> GetAsync(string id, string owner, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        var row = await c.QuerySingleOrDefaultAsync<Row>(new CommandDefinition("""
            SELECT id AS Id, owner AS Owner, surface AS Surface, upstream AS Upstream, upstream_model AS UpstreamModel,
                   session_id AS SessionId, user_prompt AS UserPrompt, masking_scope AS MaskingScope, masking_policy AS MaskingPolicy,
                   created_at AS CreatedAt, conversation AS Conversation
            FROM owned_responses WHERE id = @id AND owner = @owner AND created_at >= @cutoff
            """, new { id, owner, cutoff = Cutoff() }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToRecord();
    }

    public async Task<bool> ClaimTurnAsync(string id, string owner, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenMigratedAsync(cancellationToken).ConfigureAwait(false);
        // NOTE: one conditional update: of several polls on several instances exactly one flips the flag.
        var n = await c.ExecuteAsync(new CommandDefinition(
            "UPDATE owned_responses SET turn_stored = 1 WHERE id = @id AND owner = @owner AND turn_stored = 0",
            new { id, owner }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return n == 1;
    }

    private long Cutoff() => time.GetUtcNow().ToUnixTimeMilliseconds() - (long)Lifetime.TotalMilliseconds;

    private sealed class Row
    {
        public string Id { get; set; } = "";
        public string Owner { get; set; } = "";
        public string Surface { get; set; } = "";
        public string? Upstream { get; set; }
        public string? UpstreamModel { get; set; }
        public string? SessionId { get; set; }
        public string? UserPrompt { get; set; }
        public string? MaskingScope { get; set; }
        public string? MaskingPolicy { get; set; }
        public long CreatedAt { get; set; }
        public string? Conversation { get; set; }

        public OwnedResponse ToRecord() => new()
        {
            Id = Id, Owner = Owner, Surface = Surface, Upstream = Upstream, UpstreamModel = UpstreamModel, SessionId = SessionId,
            UserPrompt = UserPrompt, MaskingScope = MaskingScope, MaskingPolicy = MaskingPolicy,
            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt), Conversation = Conversation,
        };
    }
}
