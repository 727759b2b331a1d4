using LlmServer.Dto.Chat;
using LlmServer.Services.Keys;

namespace LlmServer.Services.Chat;

/// <summary>
/// Who is calling the session chat API (set by the host from the authenticated key), and what the service tells
/// the host back about the request (counts of masked values, for the response header).
/// </summary>
public sealed class ChatCaller
{
    /// <summary>A caller without a virtual key (the server runs open, or the master key).</summary>
    /// <param name="virtualKey">The caller's virtual key (limits, budget, masking policy), or null.</param>
    /// <param name="ledgerKeyId">The key id usage is attributed to (never the key), or null.</param>
    public ChatCaller(VirtualKey? virtualKey, string? ledgerKeyId)
    {
        VirtualKey = virtualKey;
        LedgerKeyId = ledgerKeyId;
    }

    /// <summary>The caller's virtual key, or null.</summary>
    public VirtualKey? VirtualKey { get; }

    /// <summary>The key id for the ledger and the masking vault scope, or null.</summary>
    public string? LedgerKeyId { get; }

    /// <summary>Who owns what this caller stores (sessions, background responses): its virtual key, else the operator.</summary>
    public string Owner => Ownership.Owners.Of(VirtualKey?.Id);

    /// <summary>Stopwatch timestamp when the server took the request (latency and overhead count from it), or null: when the service is called.</summary>
    public long? Started { get; init; }

    /// <summary>Set by the service once the request was masked: counts per type, e.g. <c>AWS_EC2=2, EMAIL=1</c> (never values).</summary>
    public string? MaskedSummary { get; set; }

    /// <summary>A fresh anonymous caller.</summary>
    public static ChatCaller Anonymous() => new(null, null);
}

/// <summary>The session chat calls without caller information (anonymous caller).</summary>
public static class ChatServiceExtensions
{
    /// <summary>Answers a chat request as an anonymous caller.</summary>
    public static Task<ChatResponse> ChatAsync(this IChatService service, ChatRequest request, string language, CancellationToken cancellationToken) =>
        service.ChatAsync(request, ChatCaller.Anonymous(), language, cancellationToken);

    /// <summary>Streams a chat answer as an anonymous caller.</summary>
    public static IAsyncEnumerable<ChatStreamItem> StreamAsync(this IChatService service, ChatRequest request, string language, CancellationToken cancellationToken) =>
        service.StreamAsync(request, ChatCaller.Anonymous(), language, cancellationToken);
}
