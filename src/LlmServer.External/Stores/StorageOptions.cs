using LlmServer.External.Redis;
using LlmServer.Services.Configuration;
using Npgsql;

namespace LlmServer.External.Stores;

/// <summary>Where the server keeps its data (LlmServer:Storage).</summary>
public sealed class StorageOptions
{
    public const string SectionName = "LlmServer:Storage";

    /// <summary>Directory of the SQLite files (env LLMSERVER_DATA_DIR), created on first start.</summary>
    public string DataDir { get; set; } = "./data";

    /// <summary>PostgreSQL connection string (env LLMSERVER_DB); set, it replaces SQLite for keys, budgets, the ledger and history. Never logged.</summary>
    public string PostgresConnectionString { get; set; } = "";

    /// <summary>Redis URL (env REDIS_URL); set, rate limits and the masking vault are shared across instances. Never logged.</summary>
    public string RedisUrl { get; set; } = "";

    /// <summary>The data directory, "./data" when the setting is empty.</summary>
    public string DataDirOrDefault => string.IsNullOrWhiteSpace(DataDir) ? "./data" : DataDir;

    /// <summary>True when PostgreSQL is configured.</summary>
    public bool UsesPostgres => !string.IsNullOrWhiteSpace(PostgresConnectionString);

    /// <summary>True when Redis is configured.</summary>
    public bool UsesRedis => !string.IsNullOrWhiteSpace(RedisUrl);
}

/// <summary>
/// Fails the start with a message naming the bad LlmServer:Storage setting. The message never quotes the value:
/// a connection string or a Redis URL carries a password.
/// </summary>
public sealed class StorageOptionsValidator : SettingsValidator<StorageOptions>
{
    protected override void Check(SettingRules rules, StorageOptions options)
    {
        const string at = StorageOptions.SectionName;
        if (options.UsesPostgres)
        {
            try
            {
                _ = new NpgsqlConnectionStringBuilder(options.PostgresConnectionString);
            }
            catch (ArgumentException)
            {
                rules.Fail($"{at}:PostgresConnectionString (LLMSERVER_DB) is not a PostgreSQL connection string (Host=...;Database=...;Username=...).");
            }
        }
        if (options.UsesRedis)
        {
            try
            {
                _ = RedisConnection.Parse(options.RedisUrl);
            }
            catch (Exception ex) when (ex is ArgumentException or UriFormatException or FormatException)
            {
                rules.Fail($"{at}:RedisUrl (REDIS_URL) must be redis://[user:password@]host[:port][/db], rediss://... or host:port,password=...");
            }
        }
    }
}
