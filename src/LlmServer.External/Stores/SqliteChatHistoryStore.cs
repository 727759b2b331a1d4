using Dapper;
using LlmServer.Services.Chat;
using LlmServer.Services.Errors;
using LlmServer.Services.Ownership;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace LlmServer.External.Stores;

/// <summary>Chat history in a SQLite file (DataDir/chat.db, WAL mode).</summary>
internal sealed class SqliteChatHistoryStore : IChatHistoryStore
{
    private readonly Lazy<string> _connectionString;

    public SqliteChatHistoryStore(IOptions<StorageOptions> options)
    {
        var dataDir = Path.GetFullPath(string.IsNullOrWhiteSpace(options.Value.DataDir) ? "./data" : options.Value.DataDir);
        FilePath = Path.Combine(dataDir, "chat.db");
        _connectionString = new Lazy<string>(() => Initialize(dataDir), LazyThreadSafetyMode.PublicationOnly);
    }

    /// <summary>The database file.</summary>
    public string FilePath { get; }

    /// <summary>Creates the directory, the file and the schema when missing.</summary>
    public void EnsureCreated() => _ = _connectionString.Value;

    /// <inheritdoc />
    public async Task<IReadOnlyList<ChatTurn>> GetAsync(string owner, string sessionId, int maxMessages, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(
            """
            SELECT role AS Role, content AS Content, created_at AS CreatedAt FROM (
              SELECT id, role, content, created_at FROM chat_messages WHERE owner = @owner AND session_id = @sessionId ORDER BY id DESC LIMIT @maxMessages
            ) ORDER BY id ASC
            """,
            new { owner, sessionId, maxMessages }, cancellationToken: cancellationToken));
        return rows.Select(r => new ChatTurn(r.Role, r.Content, DateTimeOffset.Parse(r.CreatedAt, System.Globalization.CultureInfo.InvariantCulture))).ToList();
    }

    /// <inheritdoc />
    public async Task AppendAsync(string owner, string sessionId, IReadOnlyList<ChatTurn> turns, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var t in turns)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO chat_messages (owner, session_id, role, content, created_at) VALUES (@owner, @sessionId, @role, @content, @createdAt)",
                new { owner, sessionId, role = t.Role, content = t.Content, createdAt = t.CreatedAt.ToUniversalTime().ToString("o") },
                tx, cancellationToken: cancellationToken));
        }
        await tx.CommitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task<bool> DeleteAsync(string owner, string sessionId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var n = await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM chat_messages WHERE owner = @owner AND session_id = @sessionId", new { owner, sessionId }, cancellationToken: cancellationToken));
        return n > 0;
    }

    /// <summary>A trivial query, for the health check.</summary>
    public async Task PingAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM chat_messages WHERE 0", cancellationToken: cancellationToken));
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        try
        {
            var connection = new SqliteConnection(_connectionString.Value);
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
        {
            throw Unavailable(ex);
        }
    }

    internal static LlmServerException Unavailable(Exception ex) =>
        new(ErrorKind.ConfigurationMissing, "store_unavailable",
            $"The chat history store cannot be opened ({ex.GetType().Name}); check LLMSERVER_DATA_DIR (LlmServer:Storage:DataDir).",
            "LLMSERVER_DATA_DIR");

    private string Initialize(string dataDir)
    {
        Directory.CreateDirectory(dataDir);
        var cs = new SqliteConnectionStringBuilder { DataSource = FilePath, Cache = SqliteCacheMode.Shared, Pooling = true, DefaultTimeout = 30 }.ToString();
        using var connection = new SqliteConnection(cs);
        connection.Open();
        connection.Execute("PRAGMA journal_mode=WAL;");
        connection.Execute(
            """
            CREATE TABLE IF NOT EXISTS chat_messages (
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              session_id TEXT NOT NULL,
              role TEXT NOT NULL,
              content TEXT NOT NULL,
              created_at TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS ix_chat_messages_session ON chat_messages (session_id, id);
            """);
        // NOTE: files written before sessions had owners get the column with the operator as owner of every
        // existing row, so that history stays readable with the master key (or on a server that runs open).
        var hasOwner = connection.ExecuteScalar<long>("SELECT COUNT(*) FROM pragma_table_info('chat_messages') WHERE name = 'owner'") > 0;
        if (!hasOwner)
        {
            using var tx = connection.BeginTransaction(deferred: false);
            if (connection.ExecuteScalar<long>("SELECT COUNT(*) FROM pragma_table_info('chat_messages') WHERE name = 'owner'", transaction: tx) == 0)
            {
                connection.Execute($"ALTER TABLE chat_messages ADD COLUMN owner TEXT NOT NULL DEFAULT '{Owners.Operator}'", transaction: tx);
            }
            tx.Commit();
        }
        connection.Execute("CREATE INDEX IF NOT EXISTS ix_chat_messages_owner_session ON chat_messages (owner, session_id, id);");
        return cs;
    }

    private sealed record Row(string Role, string Content, string CreatedAt);
}
