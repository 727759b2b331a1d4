using LlmServer.Services.Configuration;

namespace LlmServer.Services.Routing;

/// <summary>Fails the start with a message naming the bad LlmServer:Gateway setting.</summary>
public sealed class GatewayOptionsValidator : SettingsValidator<GatewayOptions>
{
    protected override void Check(SettingRules rules, GatewayOptions options)
    {
        const string at = GatewayOptions.SectionName;
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < options.Upstreams.Count; i++)
        {
            var u = options.Upstreams[i];
            var item = $"{at}:Upstreams:{i}";
            if (string.IsNullOrWhiteSpace(u.Name)) rules.Fail($"{item}:Name is required.");
            else if (!names.Add(u.Name)) rules.Fail($"{item}:Name '{u.Name}' is used twice.");
            if (!UpstreamKinds.IsKnown(u.Kind)) rules.Fail($"{item}:Kind '{u.Kind}' must be openai, azure_openai, openai_compatible or anthropic.");
            if (!Uri.TryCreate(u.BaseUrl, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
                rules.Fail($"{item}:BaseUrl must be an absolute http(s) URL.");
            if (u.Kind == UpstreamKinds.AzureOpenAi && !Chat.AzureOpenAiOptions.IsValidApiVersion(u.ApiVersion))
                rules.Fail($"{item}:ApiVersion must be \"v1\" or a dated version such as 2025-04-01-preview.");
            if (u.MaxConnections < 1) rules.Fail($"{item}:MaxConnections must be at least 1.");
            if (u.ResponsesApi is not (ResponsesApiModes.Native or ResponsesApiModes.Translate))
                rules.Fail($"{item}:ResponsesApi must be \"native\" or \"translate\".");
        }
        for (var i = 0; i < options.Models.Count; i++)
        {
            var m = options.Models[i];
            var item = $"{at}:Models:{i}";
            if (string.IsNullOrWhiteSpace(m.Name)) rules.Fail($"{item}:Name is required.");
            if (m.Deployments.Count == 0) rules.Fail($"{item}:Deployments needs at least one deployment.");
            for (var j = 0; j < m.Deployments.Count; j++)
            {
                if (string.IsNullOrWhiteSpace(m.Deployments[j].Upstream)) rules.Fail($"{item}:Deployments:{j}:Upstream is required.");
                if (m.Deployments[j].Weight < 0) rules.Fail($"{item}:Deployments:{j}:Weight must not be negative.");
            }
        }
        rules.Range($"{at}:Retry:MaxAttempts", options.Retry.MaxAttempts, 1, 3);
        rules.AtLeast($"{at}:Retry:BaseDelayMs", options.Retry.BaseDelayMs, 0);
        rules.AtLeast($"{at}:Retry:MaxDelayMs", options.Retry.MaxDelayMs, 0);
        rules.NotNegative($"{at}:Retry:MaxRetryAfterSeconds", options.Retry.MaxRetryAfterSeconds);
        rules.Range($"{at}:CircuitBreaker:FailureRatio", options.CircuitBreaker.FailureRatio, 0.0, 1.0);
        rules.AtLeast($"{at}:CircuitBreaker:MinimumThroughput", options.CircuitBreaker.MinimumThroughput, 1);
        rules.Positive($"{at}:CircuitBreaker:SamplingSeconds", options.CircuitBreaker.SamplingSeconds);
        rules.Positive($"{at}:CircuitBreaker:BreakSeconds", options.CircuitBreaker.BreakSeconds);
        Timeouts(rules, $"{at}:Timeouts", options.Timeouts);
        for (var i = 0; i < options.Upstreams.Count; i++)
        {
            if (options.Upstreams[i].Timeouts is { } own) Timeouts(rules, $"{at}:Upstreams:{i}:Timeouts", own);
        }
        rules.AtLeast($"{at}:ModelRefreshSeconds", options.ModelRefreshSeconds, 0);
        rules.AtLeast($"{at}:SessionHistoryMessages", options.SessionHistoryMessages, 0);
        rules.AtLeast($"{at}:MaxRequestBodyBytes", options.MaxRequestBodyBytes, 1);
        rules.Required($"{at}:DefaultModel", options.DefaultModel);
    }

    private static void Timeouts(SettingRules rules, string at, UpstreamTimeouts t)
    {
        rules.Positive($"{at}:ConnectSeconds", t.ConnectSeconds);
        rules.Positive($"{at}:FirstByteSeconds", t.FirstByteSeconds);
        rules.Positive($"{at}:IdleSeconds", t.IdleSeconds);
        rules.Positive($"{at}:TotalSeconds", t.TotalSeconds);
    }
}
