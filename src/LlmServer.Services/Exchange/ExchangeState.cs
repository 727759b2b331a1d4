using System.Diagnostics;
using LlmServer.Services.Keys;
using LlmServer.Services.Limits;
using LlmServer.Services.Masking;
using LlmServer.Services.Pricing;

namespace LlmServer.Services.Exchange;

/// <summary>The API a request came in on; each is an adapter over the same exchange steps.</summary>
public enum ExchangeSurface
{
    /// <summary>POST /api/v1/chat (+ stream): the session chat API.</summary>
    SessionChat,
    /// <summary>POST /v1/chat/completions.</summary>
    ChatCompletions,
    /// <summary>POST /v1/completions.</summary>
    Completions,
    /// <summary>POST /v1/responses.</summary>
    Responses,
    /// <summary>POST /v1/embeddings.</summary>
    Embeddings,
    /// <summary>POST /v1/messages.</summary>
    Messages,
}

/// <summary>Names of the surfaces as the ledger and the usage API show them.</summary>
public static class ExchangeSurfaces
{
    private static readonly string[] s_routes = ["api_chat", "chat_completions", "completions", "responses", "embeddings", "messages"];

    /// <summary>The ledger's route value of a surface.</summary>
    public static string LedgerRoute(this ExchangeSurface surface) => s_routes[(int)surface];
}

/// <summary>
/// One request on its way through the exchange steps, whatever API it came in on: who called, what it asked for,
/// what was reserved and masked, what the upstream reported. The steps fill it; the ledger row is written from it once.
/// </summary>
public sealed class ExchangeState(ExchangeSurface surface, VirtualKey? virtualKey, string? ledgerKeyId, long startTimestamp)
{
    /// <summary>The API the request came in on.</summary>
    public ExchangeSurface Surface { get; } = surface;

    /// <summary>The caller's virtual key (limits, budget, masking policy), or null.</summary>
    public VirtualKey? VirtualKey { get; } = virtualKey;

    /// <summary>The key id usage is attributed to (never the key), or null when the server runs open.</summary>
    public string? LedgerKeyId { get; } = ledgerKeyId;

    /// <summary>Who owns what this request stores.</summary>
    public string Owner => Ownership.Owners.Of(VirtualKey?.Id);

    /// <summary>Stopwatch timestamp when the server took the request.</summary>
    public long Started { get; } = startTimestamp;

    /// <summary>The public model name the client asked for.</summary>
    public string? Model { get; set; }

    /// <summary>The model name prices are looked up by (the upstream's name), when it differs from <see cref="Model"/>.</summary>
    public string? PricedModel { get; set; }

    /// <summary>True when the client asked for a stream.</summary>
    public bool Stream { get; set; }

    /// <summary>The conversation id the request belongs to, for the ledger and the masking vault scope.</summary>
    public string? SessionId { get; set; }

    /// <summary>The upstream that answered (or was last tried), for the ledger.</summary>
    public string? Upstream { get; set; }

    /// <summary>Whose provider key paid: "server", or "user" (the session API's own-key mode, never charged to a budget).</summary>
    public string ApiKeySource { get; set; } = "server";

    /// <summary>The masking session of the request, once begun.</summary>
    public MaskingSession? Masking { get; set; }

    /// <summary>What admission reserved; settled or released exactly once by <see cref="ExchangeSteps.SettleAsync"/>.</summary>
    public AdmissionTicket? Ticket { get; set; }

    /// <summary>Token usage the upstream reported, when it did.</summary>
    public TokenUsage? Usage { get; set; }

    /// <summary>
    /// True when a successful answer is not the end of the request's cost (a background response, priced when it is
    /// polled): the reservation is released instead of settled.
    /// </summary>
    public bool Deferred { get; set; }

    /// <summary>Gateway time so far with upstream time excluded, in ms, when the host measures it.</summary>
    public Func<double>? Overhead { get; init; }

    /// <summary>Set once the ledger row is written: exactly one per request.</summary>
    public bool Recorded { get; internal set; }

    /// <summary>Time since the request was taken.</summary>
    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(Started);
}
