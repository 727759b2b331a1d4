using Dapper;

namespace LlmServer.External.Operations;

/// <summary>
/// Versioned schema of the operations database. Each step runs once, in order, recorded in schema_migrations
/// (area, version). Several instances starting together are serialised (advisory lock / BEGIN IMMEDIATE).
/// Append steps; never edit an applied one.
/// </summary>
internal static class OpsMigrations
{
    public const string Area = "operations";

    private static readonly (int Version, string Sqlite, string Postgres)[] s_steps =
    [
        (1,
        """
        CREATE TABLE virtual_keys (
            id TEXT PRIMARY KEY, prefix TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE, spec TEXT NOT NULL,
            created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, revoked_at BIGINT NULL);
        CREATE TABLE key_budgets (
            key_id TEXT NOT NULL, period TEXT NOT NULL, limit_nano BIGINT NOT NULL,
            spent_nano BIGINT NOT NULL DEFAULT 0, reserved_nano BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (key_id, period));
        CREATE TABLE usage_ledger (
            id INTEGER PRIMARY KEY AUTOINCREMENT, ts BIGINT NOT NULL, key_id TEXT NULL, session_id TEXT NULL,
            route TEXT NOT NULL, model TEXT NULL, upstream TEXT NULL, status INTEGER NOT NULL,
            input_tokens BIGINT NOT NULL, cached_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL, reasoning_tokens BIGINT NOT NULL,
            cost_nano BIGINT NULL, api_key_source TEXT NULL, latency_ms REAL NOT NULL, overhead_ms REAL NOT NULL,
            stream INTEGER NOT NULL, masked_counts TEXT NULL, error_code TEXT NULL, body TEXT NULL);
        CREATE INDEX ix_usage_ledger_ts ON usage_ledger (ts);
        CREATE INDEX ix_usage_ledger_key_ts ON usage_ledger (key_id, ts);
        """,
        """
        CREATE TABLE virtual_keys (
            id TEXT PRIMARY KEY, prefix TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE, spec TEXT NOT NULL,
            created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, revoked_at BIGINT NULL);
        CREATE TABLE key_budgets (
            key_id TEXT NOT NULL, period TEXT NOT NULL, limit_nano BIGINT NOT NULL,
            spent_nano BIGINT NOT NULL DEFAULT 0, reserved_nano BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (key_id, period));
        CREATE TABLE usage_ledger (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ts BIGINT NOT NULL, key_id TEXT NULL, session_id TEXT NULL,
            route TEXT NOT NULL, model TEXT NULL, upstream TEXT NULL, status INTEGER NOT NULL,
            input_tokens BIGINT NOT NULL, cached_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL, reasoning_tokens BIGINT NOT NULL,
            cost_nano BIGINT NULL, api_key_source TEXT NULL, latency_ms DOUBLE PRECISION NOT NULL, overhead_ms DOUBLE PRECISION NOT NULL,
            stream INTEGER NOT NULL, masked_counts TEXT NULL, error_code TEXT NULL, body TEXT NULL);
        CREATE INDEX ix_usage_ledger_ts ON usage_ledger (ts);
        CREATE INDEX ix_usage_ledger_key_ts ON usage_ledger (key_id, ts);
        """),
        (2,
        """
        CREATE TABLE rate_windows (
            key_id TEXT NOT NULL, window_start BIGINT NOT NULL, requests BIGINT NOT NULL, tokens BIGINT NOT NULL,
            PRIMARY KEY (key_id, window_start));
        """,
        """
        CREATE TABLE rate_windows (
            key_id TEXT NOT NULL, window_start BIGINT NOT NULL, requests BIGINT NOT NULL, tokens BIGINT NOT NULL,
            PRIMARY KEY (key_id, window_start));
        CREATE TABLE chat_turns (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, session_id TEXT NOT NULL, role TEXT NOT NULL,
            content TEXT NOT NULL, created_at BIGINT NOT NULL);
        CREATE INDEX ix_chat_turns_session ON chat_turns (session_id, id);
        """),
        // Ownership: history rows stored before sessions had owners belong to the operator ('admin'), so they stay
        // readable with the master key; response ids are recorded with their owner.
        (3,
        """
        CREATE TABLE owned_responses (
            id TEXT PRIMARY KEY, owner TEXT NOT NULL, surface TEXT NOT NULL, upstream TEXT NULL, upstream_model TEXT NULL,
            session_id TEXT NULL, user_prompt TEXT NULL, masking_scope TEXT NULL, masking_policy TEXT NULL,
            turn_stored INTEGER NOT NULL DEFAULT 0, created_at BIGINT NOT NULL);
        CREATE INDEX ix_owned_responses_created ON owned_responses (created_at);
        """,
        """
        ALTER TABLE chat_turns ADD COLUMN owner TEXT NOT NULL DEFAULT 'admin';
        CREATE INDEX ix_chat_turns_owner_session ON chat_turns (owner, session_id, id);
        CREATE TABLE owned_responses (
            id TEXT PRIMARY KEY, owner TEXT NOT NULL, surface TEXT NOT NULL, upstream TEXT NULL, upstream_model TEXT NULL,
            session_id TEXT NULL, user_prompt TEXT NULL, masking_scope TEXT NULL, masking_policy TEXT NULL,
            turn_stored INTEGER NOT NULL DEFAULT 0, created_at BIGINT NOT NULL);
        CREATE INDEX ix_owned_responses_created ON owned_responses (created_at);
        """),
        // Prompt-cache writes, priced apart from plain input: Anthropic's 5-minute and 1-hour cache lifetimes.
        (4,
        """
        ALTER TABLE usage_ledger ADD COLUMN cache_creation_5m_tokens BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE usage_ledger ADD COLUMN cache_creation_1h_tokens BIGINT NOT NULL DEFAULT 0;
        """,
        """
        ALTER TABLE usage_ledger ADD COLUMN cache_creation_5m_tokens BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE usage_ledger ADD COLUMN cache_creation_1h_tokens BIGINT NOT NULL DEFAULT 0;
        """),
    ];

    /// <summary>The newest schema version.</summary>
    public static int LatestVersion => s_steps[^1].Version;

    public static async Task ApplyAsync(OpsDatabase db, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await db.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        if (db.Dialect == SqlDialect.Postgres)
        {
            await connection.ExecuteAsync("SELECT pg_advisory_xact_lock(7215530044012)", transaction: tx).ConfigureAwait(false);
        }
        await connection.ExecuteAsync(
            "CREATE TABLE IF NOT EXISTS schema_migrations (area TEXT NOT NULL, version INTEGER NOT NULL, applied_at BIGINT NOT NULL, PRIMARY KEY (area, version))",
            transaction: tx).ConfigureAwait(false);
        var applied = (await connection.QueryAsync<int>("SELECT version FROM schema_migrations WHERE area = @Area", new { Area }, tx).ConfigureAwait(false)).ToHashSet();
        foreach (var (version, sqlite, postgres) in s_steps)
        {
            if (applied.Contains(version))
            {
                continue;
            }
            await connection.ExecuteAsync(db.Dialect == SqlDialect.Postgres ? postgres : sqlite, transaction: tx).ConfigureAwait(false);
            await connection.ExecuteAsync("INSERT INTO schema_migrations (area, version, applied_at) VALUES (@Area, @version, @now)",
                new { Area, version, now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() }, tx).ConfigureAwait(false);
        }
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }
}
