using LlmServer.Services.Chat;

namespace LlmServer.Tests.Unit.Chat;

[TestFixture]
public sealed class HistoryWindowTests
{
    private static List<ChatTurn> Turns(int pairs, int length = 10)
    {
        var list = new List<ChatTurn>();
        for (var i = 0; i < pairs; i++)
        {
            list.Add(new ChatTurn("user", $"q{i}".PadRight(length, '.'), DateTimeOffset.UtcNow));
            list.Add(new ChatTurn("assistant", $"a{i}".PadRight(length, '.'), DateTimeOffset.UtcNow));
        }
        return list;
    }

    [Test]
    public void KeepsOnlyTheNewestMaxTurns()
    {
        var window = ChatComposition.ApplyWindow(Turns(5), new HistoryWindowOptions { MaxTurns = 2, MaxChars = 100_000 });

        Assert.That(window.Select(t => t.Content[..2]), Is.EqualTo(new[] { "q3", "a3", "q4", "a4" }));
    }

    [Test]
    public void DropsOldestMessagesBeyondMaxChars()
    {
        // 10 chars each: 35 chars allow three messages, but the window must not start with an orphaned answer.
        var window = ChatComposition.ApplyWindow(Turns(3), new HistoryWindowOptions { MaxTurns = 10, MaxChars = 35 });

        Assert.That(window.Select(t => t.Content[..2]), Is.EqualTo(new[] { "q2", "a2" }));
    }

    [Test]
    public void EverythingFits_ReturnsAllInOrder()
    {
        var turns = Turns(2);

        var window = ChatComposition.ApplyWindow(turns, new HistoryWindowOptions { MaxTurns = 10, MaxChars = 1000 });

        Assert.That(window, Is.EqualTo(turns));
    }

    [Test]
    public void ZeroChars_ReturnsNothing()
    {
        Assert.That(ChatComposition.ApplyWindow(Turns(2), new HistoryWindowOptions { MaxTurns = 10, MaxChars = 0 }), Is.Empty);
    }
}
