namespace LlmServer.Services.Masking;

/// <summary>A sensitive value to store: its placeholder type and the original text.</summary>
/// <param name="Type">Placeholder type, e.g. <c>AWS_EC2</c>.</param>
/// <param name="Original">The value as it appeared in the request.</param>
public readonly record struct VaultEntry(string Type, string Original);

/// <summary>
/// Two-way store of placeholder ids (<c>AWS_EC2_1</c>, without brackets) and originals, per scope, with a
/// sliding TTL. Numbers are allocated per type and scope; the same original always gets the same id in a scope,
/// even when several server instances share the store.
/// </summary>
public interface IMaskingVault
{
    /// <summary>Returns the id of each entry (same order), allocating new ids for unseen originals.</summary>
    ValueTask<IReadOnlyList<string>> GetOrAddAsync(string scope, IReadOnlyList<VaultEntry> entries, CancellationToken cancellationToken = default);

    /// <summary>The original behind an id (upper case, e.g. <c>EMAIL_2</c>), or null when the scope has no such id.</summary>
    ValueTask<string?> TryGetOriginalAsync(string scope, string id, CancellationToken cancellationToken = default);
}
