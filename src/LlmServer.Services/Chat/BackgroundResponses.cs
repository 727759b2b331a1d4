using System.Collections.Concurrent;
using LlmServer.Dto.Chat;
using LlmServer.Services.Masking;

namespace LlmServer.Services.Chat;

/// <summary>
/// Background chat responses started on this instance: what a later poll needs to put masked values back and to
/// store the session turn once the response completes. Bounded (oldest dropped past <see cref="Capacity"/>) and
/// forgotten after <see cref="Lifetime"/>; a poll that reaches another instance gets the answer unrestored.
/// </summary>
internal sealed class BackgroundResponses(TimeProvider time)
{
    public const int Capacity = 10_000;
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(24);

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>The request (for its session turn), the masking session that holds its placeholders, and who started it.</summary>
    internal sealed class Entry(ChatRequest request, MaskingSession? masking, string? ledgerKeyId, DateTimeOffset started)
    {
        private int _stored;

        public ChatRequest Request { get; } = request;
        public MaskingSession? Masking { get; } = masking;
        public string? LedgerKeyId { get; } = ledgerKeyId;
        public DateTimeOffset Started { get; } = started;

        /// <summary>True for exactly one caller: the poll that stores the turn.</summary>
        public bool ClaimStore() => Interlocked.Exchange(ref _stored, 1) == 0;
    }

    public void Add(string responseId, ChatRequest request, MaskingSession? masking, string? ledgerKeyId)
    {
        var now = time.GetUtcNow();
        if (_entries.Count >= Capacity)
        {
            foreach (var (id, _) in _entries.OrderBy(e => e.Value.Started).Take(_entries.Count - Capacity + 1))
            {
                _entries.TryRemove(id, out _);
            }
        }
        _entries[responseId] = new Entry(request, masking, ledgerKeyId, now);
    }

    public bool TryGet(string responseId, out Entry entry)
    {
        if (_entries.TryGetValue(responseId, out entry!) && time.GetUtcNow() - entry.Started <= Lifetime)
        {
            return true;
        }
        _entries.TryRemove(responseId, out _);
        entry = null!;
        return false;
    }
}
