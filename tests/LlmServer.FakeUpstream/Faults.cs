namespace LlmServer.FakeUpstream;

/// <summary>Kinds of misbehaviour the fake upstream can be told to show on coming requests.</summary>
public enum FaultKind
{
    /// <summary>Answer with <see cref="Fault.StatusCode"/> and an OpenAI/Anthropic-style error body (Retry-After when set).</summary>
    Status,
    /// <summary>Wait <see cref="Fault.Delay"/> before sending anything.</summary>
    SlowFirstByte,
    /// <summary>Streams: send <see cref="Fault.AfterChunks"/> chunks, then go silent for <see cref="Fault.Delay"/>.</summary>
    StallMidStream,
    /// <summary>Abort the connection (TCP reset) before any response byte.</summary>
    Reset,
    /// <summary>200 with a body that is not valid JSON.</summary>
    MalformedJson,
    /// <summary>Streams: send <see cref="Fault.AfterChunks"/> chunks, then abort the connection without [DONE]. Plain answers: part of the body, then abort.</summary>
    CutStream,
    /// <summary>Streams: send <see cref="Fault.AfterChunks"/> chunks, then end the response cleanly without the stream's final event ([DONE], message_stop, response.completed).</summary>
    EndStreamEarly,
}

/// <summary>One programmed fault. Queue it with FakeUpstreamServer.EnqueueFault; each request takes one.</summary>
public sealed record Fault(FaultKind Kind)
{
    public int StatusCode { get; init; } = 500;
    public TimeSpan Delay { get; init; } = TimeSpan.FromSeconds(5);
    public int AfterChunks { get; init; } = 2;
    public string? RetryAfter { get; init; }
    /// <summary>Only requests whose path starts with this take the fault (null: any).</summary>
    public string? PathPrefix { get; init; }

    public static Fault Http(int status, string? retryAfter = null) => new(FaultKind.Status) { StatusCode = status, RetryAfter = retryAfter };
    public static Fault Slow(TimeSpan delay) => new(FaultKind.SlowFirstByte) { Delay = delay };
    public static Fault Stall(int afterChunks, TimeSpan delay) => new(FaultKind.StallMidStream) { AfterChunks = afterChunks, Delay = delay };
    public static Fault ResetConnection() => new(FaultKind.Reset);
    public static Fault Malformed() => new(FaultKind.MalformedJson);
    public static Fault Cut(int afterChunks) => new(FaultKind.CutStream) { AfterChunks = afterChunks };
    public static Fault EndEarly(int afterChunks) => new(FaultKind.EndStreamEarly) { AfterChunks = afterChunks };
}
