using LlmServer.Services.Masking;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace LlmServer.Tests.Integration.Masking;

/// <summary>Behaviour every vault must show; run against memory, SQLite and a real redis-server.</summary>
public abstract class MaskingVaultContract
{
    protected abstract IMaskingVault CreateVault(TimeSpan ttl);

    /// <summary>The clock of the vaults that take a TimeProvider, frozen at the test's start.</summary>
    protected FakeTimeProvider Clock { get; private set; } = new();

    [SetUp]
    public void FreezeClock() => Clock = new FakeTimeProvider(DateTimeOffset.UtcNow);

    /// <summary>Lets <paramref name="span"/> pass for the vault: its fake clock moves.</summary>
    protected virtual Task LetTimePassAsync(TimeSpan span)
    {
        Clock.Advance(span);
        return Task.CompletedTask;
    }

    /// <summary>A second vault over the same store (another server instance).</summary>
    protected abstract IMaskingVault CreatePeer(TimeSpan ttl);

    private static string NewScope() => "test:" + Guid.NewGuid().ToString("N");

    [Test]
    public async Task SameOriginal_GetsSameId_AndNumbersArePerType()
    {
        var vault = CreateVault(TimeSpan.FromHours(1));
        var scope = NewScope();
        var ids = await vault.GetOrAddAsync(scope, [new("EMAIL", "a@b.com"), new("EMAIL", "c@d.com"), new("PHONE", "010-1234-5678")]);
        var again = await vault.GetOrAddAsync(scope, [new("EMAIL", "c@d.com"), new("EMAIL", "e@f.com")]);
        Assert.That(ids, Is.EqualTo(new[] { "EMAIL_1", "EMAIL_2", "PHONE_1" }));
        Assert.That(again, Is.EqualTo(new[] { "EMAIL_2", "EMAIL_3" }));
        Assert.That(await vault.TryGetOriginalAsync(scope, "EMAIL_3"), Is.EqualTo("e@f.com"));
        Assert.That(await vault.TryGetOriginalAsync(scope, "EMAIL_9"), Is.Null);
        Assert.That(await vault.TryGetOriginalAsync(NewScope(), "EMAIL_1"), Is.Null, "scopes are separate");
    }

    [Test]
    public async Task ConcurrentInstances_AgreeOnNumbers()
    {
        var scope = NewScope();
        var a = CreateVault(TimeSpan.FromHours(1));
        var b = CreatePeer(TimeSpan.FromHours(1));
        var values = Enumerable.Range(0, 40).Select(i => $"i-{i:x17}").ToArray();
        var tasks = values.Select((v, i) => (i % 2 == 0 ? a : b).GetOrAddAsync(scope, [new("AWS_EC2", v)]).AsTask()).ToArray();
        var ids = (await Task.WhenAll(tasks)).Select(r => r[0]).ToArray();
        Assert.That(ids.Distinct().Count(), Is.EqualTo(values.Length), "no number handed out twice");
        Assert.That(ids.Select(id => int.Parse(id["AWS_EC2_".Length..])).Order(), Is.EqualTo(Enumerable.Range(1, values.Length)));
        for (var i = 0; i < values.Length; i++)
        {
            Assert.That(await b.TryGetOriginalAsync(scope, ids[i]), Is.EqualTo(values[i]));
            Assert.That((await a.GetOrAddAsync(scope, [new("AWS_EC2", values[i])]))[0], Is.EqualTo(ids[i]));
        }
    }

    [Test]
    public async Task OriginalsWithAnyCharacters_RoundTrip()
    {
        var vault = CreateVault(TimeSpan.FromHours(1));
        var scope = NewScope();
        const string odd = "키 \"quoted\" \\ back\nslash 🙂 '; DROP TABLE x; --";
        var id = (await vault.GetOrAddAsync(scope, [new("CUSTOM", odd)]))[0];
        Assert.That(await vault.TryGetOriginalAsync(scope, id), Is.EqualTo(odd));
    }

    [Test]
    public async Task ExpiredScope_IsForgotten()
    {
        var vault = CreateVault(TimeSpan.FromMilliseconds(300));
        var scope = NewScope();
        await vault.GetOrAddAsync(scope, [new("EMAIL", "a@b.com")]);
        Assert.That(await vault.TryGetOriginalAsync(scope, "EMAIL_1"), Is.EqualTo("a@b.com"));
        await LetTimePassAsync(TimeSpan.FromMilliseconds(800));
        Assert.That(await vault.TryGetOriginalAsync(scope, "EMAIL_1"), Is.Null);
    }

    [Test]
    public async Task SessionsSharingTheVault_RestoreEachOthersPlaceholders()
    {
        var options = Options.Create(new MaskingOptions());
        var scanner = new LlmServer.Services.Masking.Detection.SensitiveDataScanner(options.Value);
        var first = new MaskingService(options, scanner, CreateVault(TimeSpan.FromHours(1)));
        var second = new MaskingService(options, scanner, CreatePeer(TimeSpan.FromHours(1)));
        var sessionId = Guid.NewGuid().ToString("N");
        var masked = await first.Begin(MaskingRoute.Messages, sessionId, "key").MaskAsync("인스턴스 i-1234567890abcdef0 재부팅");
        var restored = await second.Begin(MaskingRoute.Messages, sessionId, "key").RestoreAsync(masked.Text);
        Assert.That(masked.Text, Is.EqualTo("인스턴스 <<AWS_EC2_1>> 재부팅"));
        Assert.That(restored, Is.EqualTo("인스턴스 i-1234567890abcdef0 재부팅"));
    }
}

public sealed class InMemoryMaskingVaultTests : MaskingVaultContract
{
    private InMemoryMaskingVault? _shared;

    [SetUp]
    public void Reset() => _shared = null;

    protected override IMaskingVault CreateVault(TimeSpan ttl) =>
        _shared ??= new InMemoryMaskingVault(Options.Create(new MaskingOptions { VaultTtl = ttl }), Clock);

    // NOTE: memory is per process, so the "peer" is the same instance.
    protected override IMaskingVault CreatePeer(TimeSpan ttl) => CreateVault(ttl);
}
