using LlmServer.Services.Keys;
using LlmServer.Services.Masking;

namespace LlmServer.Api.Pipeline;

/// <summary>The masking policy of one request: the caller's virtual key policy when it sets one, else the route's.</summary>
internal static class EffectiveMaskingPolicy
{
    public static MaskingPolicy For(IMaskingService masking, MaskingRoute route, VirtualKey? key) =>
        key?.Spec.MaskingPolicy is { Length: > 0 } name && Enum.TryParse<MaskingPolicy>(name, ignoreCase: true, out var policy) && Enum.IsDefined(policy)
            ? policy
            : masking.PolicyFor(route);
}
