using Microsoft.Extensions.Options;

namespace LlmServer.Services.Routing;

/// <summary>Fails the start with a message naming the bad LlmServer:Gateway setting.</summary>
public sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        var errors = new List<string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < options.Upstreams.Count; i++)
        {
            var u = options.Upstreams[i];
            var at = $"LlmServer:Gateway:Upstreams:{i}";
            if (string.IsNullOrWhiteSpace(u.Name)) errors.Add($"{at}:Name is required.");
            else if (!names.Add(u.Name)) errors.Add($"{at}:Name '{u.Name}' is used twice.");
            if (!UpstreamKinds.IsKnown(u.Kind)) errors.Add($"{at}:Kind '{u.Kind}' must be openai, azure_openai, openai_compatible or anthropic.");
            if (!Uri.TryCreate(u.BaseUrl, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
                errors.Add($"{at}:BaseUrl must be an absolute http(s) URL.");
            if (u.Kind == UpstreamKinds.AzureOpenAi && !Chat.AzureOpenAiOptions.IsValidApiVersion(u.ApiVersion))
                errors.Add($"{at}:ApiVersion must be \"v1\" or a dated version such as 2025-04-01-preview.");
            if (u.MaxConnections < 1) errors.Add($"{at}:MaxConnections must be at least 1.");
            if (u.ResponsesApi is not (ResponsesApiModes.Native or ResponsesApiModes.Translate))
                errors.Add($"{at}:ResponsesApi must be \"native\" or \"translate\".");
        }
        for (var i = 0; i < options.Models.Count; i++)
        {
            var m = options.Models[i];
            var at = $"LlmServer:Gateway:Models:{i}";
            if (string.IsNullOrWhiteSpace(m.Name)) errors.Add($"{at}:Name is required.");
            if (m.Deployments.Count == 0) errors.Add($"{at}:Deployments needs at least one deployment.");
            for (var j = 0; j < m.Deployments.Count; j++)
            {
                if (string.IsNullOrWhiteSpace(m.Deployments[j].Upstream)) errors.Add($"{at}:Deployments:{j}:Upstream is required.");
                if (m.Deployments[j].Weight < 0) errors.Add($"{at}:Deployments:{j}:Weight must not be negative.");
            }
        }
        if (options.Retry.MaxAttempts is < 1 or > 3) errors.Add("LlmServer:Gateway:Retry:MaxAttempts must be between 1 and 3.");
        if (string.IsNullOrWhiteSpace(options.DefaultModel)) errors.Add("LlmServer:Gateway:DefaultModel is required.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
