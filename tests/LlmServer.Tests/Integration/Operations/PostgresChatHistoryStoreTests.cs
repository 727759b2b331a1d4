using LlmServer.External.Operations;
using LlmServer.Services.Chat;
using Npgsql;

namespace LlmServer.Tests.Integration.Operations;

/// <summary>Session history on PostgreSQL (the store used when LLMSERVER_DB is set).</summary>
[TestFixture]
public sealed class PostgresChatHistoryStoreTests
{
    private PostgresOpsDatabase _db = null!;

    [SetUp]
    public void SetUp()
    {
        OpsTestDatabases.RequirePostgres();
        _db = new PostgresOpsDatabase(NpgsqlDataSource.Create(OpsTestDatabases.PostgresConnectionString!));
    }

    [TearDown]
    public async Task TearDown() => await (_db?.DisposeAsync() ?? ValueTask.CompletedTask);

    [Test]
    public async Task AppendThenGet_ReturnsNewestTurnsOldestFirst_AndDeleteRemovesTheSession()
    {
        IChatHistoryStore store = new PostgresChatHistoryStore(_db);
        var session = "s-" + Guid.NewGuid().ToString("N");
        var t = DateTimeOffset.UtcNow;
        for (var i = 0; i < 3; i++)
        {
            await store.AppendAsync("vk_a", session, [new ChatTurn("user", $"질문 {i}", t), new ChatTurn("assistant", $"답 {i}", t)], CancellationToken.None);
        }

        var last = await store.GetAsync("vk_a", session, 3, CancellationToken.None);

        Assert.That(last.Select(x => x.Content), Is.EqualTo(new[] { "답 1", "질문 2", "답 2" }));
        Assert.That(await store.DeleteAsync("vk_a", session, CancellationToken.None), Is.True);
        Assert.That(await store.GetAsync("vk_a", session, 10, CancellationToken.None), Is.Empty);
        Assert.That(await store.DeleteAsync("vk_a", session, CancellationToken.None), Is.False);
    }

    [Test]
    public async Task SameSessionIdUnderAnotherOwner_IsAnotherSession()
    {
        IChatHistoryStore store = new PostgresChatHistoryStore(_db);
        var session = "shared-" + Guid.NewGuid().ToString("N");
        await store.AppendAsync("vk_a", session, [new ChatTurn("user", "A의 주민번호 900101-1234567", DateTimeOffset.UtcNow)], CancellationToken.None);

        Assert.That(await store.GetAsync("vk_b", session, 10, CancellationToken.None), Is.Empty);
        Assert.That(await store.DeleteAsync("vk_b", session, CancellationToken.None), Is.False);
        Assert.That(await store.GetAsync("vk_a", session, 10, CancellationToken.None), Has.Count.EqualTo(1));
    }
}
