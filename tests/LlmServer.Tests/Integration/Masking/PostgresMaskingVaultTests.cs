using LlmServer.External.Stores;
using LlmServer.Services.Masking;
using LlmServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LlmServer.Tests.Integration.Masking;

/// <summary>Runs the vault contract against the PostgreSQL started by scripts/services.d/postgres.sh (LLMSERVER_TEST_PG).</summary>
public sealed class PostgresMaskingVaultTests : MaskingVaultContract
{
    private readonly List<NpgsqlDataSource> _sources = [];

    private static string ConnectionString =>
        Environment.GetEnvironmentVariable("LLMSERVER_TEST_PG") is { Length: > 0 } s ? s : "";

    [SetUp]
    public void RequirePostgres()
    {
        if (ConnectionString.Length == 0)
        {
            Assert.Ignore("LLMSERVER_TEST_PG is not set: start PostgreSQL with `source scripts/services.sh; services_start` (scripts/test.sh does).");
        }
    }

    [TearDown]
    public async Task DisposeSources()
    {
        foreach (var s in _sources) await s.DisposeAsync();
        _sources.Clear();
    }

    // NOTE: each vault gets its own data source (own pool), like a separate server instance.
    private IMaskingVault New(TimeSpan ttl)
    {
        var source = new NpgsqlDataSourceBuilder(ConnectionString).Build();
        _sources.Add(source);
        return new PostgresMaskingVault(source, ttl, Clock);
    }

    protected override IMaskingVault CreateVault(TimeSpan ttl) => New(ttl);

    protected override IMaskingVault CreatePeer(TimeSpan ttl) => New(ttl);

    [Test]
    public void Server_WithPostgresAndNoRedis_UsesThePostgresVault()
    {
        using var app = new LlmServerApp(new Dictionary<string, string?> { ["LlmServer:Storage:PostgresConnectionString"] = ConnectionString });
        Assert.That(app.Services.GetRequiredService<IMaskingVault>(), Is.TypeOf<PostgresMaskingVault>());
    }
}
