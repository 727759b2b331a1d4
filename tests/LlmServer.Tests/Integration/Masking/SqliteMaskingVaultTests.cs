using LlmServer.External.Stores;
using LlmServer.Services.Masking;

namespace LlmServer.Tests.Integration.Masking;

public sealed class SqliteMaskingVaultTests : MaskingVaultContract
{
    private string _dir = "";

    [SetUp]
    public void CreateDir() => _dir = Path.Combine(Path.GetTempPath(), "llmserver-vault-" + Guid.NewGuid().ToString("N")[..8]);

    [TearDown]
    public void DeleteDir()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    protected override IMaskingVault CreateVault(TimeSpan ttl) => new SqliteMaskingVault(Path.Combine(_dir, "masking.db"), ttl, Clock);

    protected override IMaskingVault CreatePeer(TimeSpan ttl) => CreateVault(ttl);

    [Test]
    public async Task Mappings_SurviveARestart()
    {
        var scope = "restart";
        var id = (await CreateVault(TimeSpan.FromHours(1)).GetOrAddAsync(scope, [new("EMAIL", "a@b.com")]))[0];
        Assert.That(await CreateVault(TimeSpan.FromHours(1)).TryGetOriginalAsync(scope, id), Is.EqualTo("a@b.com"));
    }
}
