namespace LlmServer.Services.Ownership;

/// <summary>
/// Who owns stored data (session history, background and stored responses, masking vault scopes, usage rows).
/// A virtual key owns what it stored; the operator (the master key, or anyone when the server runs without one)
/// is one owner of its own. A session id or a response id is a name inside its owner's space: another owner
/// naming it reaches nothing of the first owner's, and is told "not found", never "forbidden".
/// </summary>
public static class Owners
{
    /// <summary>
    /// The operator's owner id: the master key, and every caller of a server that runs open. Data stored before
    /// ownership existed belongs to it, so nothing stored earlier is lost when auth is turned on.
    /// </summary>
    public const string Operator = "admin";

    /// <summary>The owner of a caller: its virtual key's id, else the operator.</summary>
    public static string Of(string? virtualKeyId) => string.IsNullOrEmpty(virtualKeyId) ? Operator : virtualKeyId;
}
