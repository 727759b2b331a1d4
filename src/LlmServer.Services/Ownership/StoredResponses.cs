using LlmServer.Services.Masking;
using LlmServer.Services.Routing;
using Microsoft.Extensions.Logging;

namespace LlmServer.Services.Ownership;

/// <summary>
/// Responses stored upstream through /v1/responses: each id is recorded with its owner and deployment when it is
/// created, and only that owner may retrieve it or continue from it (previous_response_id), on any instance.
/// </summary>
public sealed partial class StoredResponses(IOwnedResponseStore store, IModelRouter router, TimeProvider time, ILogger<StoredResponses> logger)
{
    /// <summary>
    /// Records a response the upstream created for <paramref name="owner"/>. A record that cannot be written is
    /// logged and the answer still goes out: the client has its response, only a later retrieval will miss it.
    /// </summary>
    public async Task RecordAsync(string id, string owner, Deployment deployment, MaskingSession? masking)
    {
        try
        {
            await store.AddAsync(new OwnedResponse
            {
                Id = id, Owner = owner, Surface = ResponseSurfaces.Responses, Upstream = deployment.Upstream.Name,
                UpstreamModel = deployment.UpstreamModel,
                MaskingScope = masking is { RestoresResponses: true, Summary.Total: > 0 } ? masking.Scope : null,
                MaskingPolicy = masking?.Policy.ToString().ToLowerInvariant(), CreatedAt = time.GetUtcNow(),
            }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogRecordFailed(logger, e.GetType().Name);
        }
    }

    /// <summary>
    /// Records a response the gateway answered by translation, with its conversation (the upstream keeps nothing).
    /// A record that cannot be written is logged and the answer still goes out, as for <see cref="RecordAsync"/>.
    /// </summary>
    public async Task RecordConversationAsync(string id, string owner, Deployment deployment, Responses.StoredConversation conversation)
    {
        try
        {
            await store.AddAsync(new OwnedResponse
            {
                Id = id, Owner = owner, Surface = ResponseSurfaces.Responses, Upstream = deployment.Upstream.Name,
                UpstreamModel = deployment.UpstreamModel, CreatedAt = time.GetUtcNow(), Conversation = conversation.ToJson(),
            }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogRecordFailed(logger, e.GetType().Name);
        }
    }

    /// <summary>The owner's record of a response (null when unknown or another owner's), and the deployment that holds it.</summary>
    public async Task<(OwnedResponse? Record, Deployment? Deployment)> FindAsync(string id, string owner, CancellationToken cancellationToken)
    {
        var record = await store.GetAsync(id, owner, cancellationToken).ConfigureAwait(false);
        if (record is null) return (null, null);
        var upstream = router.Upstreams.FirstOrDefault(u => string.Equals(u.Name, record.Upstream, StringComparison.Ordinal));
        return (record, upstream is null || record.UpstreamModel is null ? null : new Deployment(upstream, record.UpstreamModel, 1));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recording a stored response's owner failed ({Error}); a later retrieval of it will answer 404")]
    private static partial void LogRecordFailed(ILogger logger, string error);
}
