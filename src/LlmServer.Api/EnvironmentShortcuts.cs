namespace LlmServer.Api;

/// <summary>
/// Maps the plain env names users know from the seeds (OPENAI_API_KEY, VLLM_BASE_URL, ...) onto
/// configuration keys, so appsettings.json stays the one place that lists every setting.
/// Env vars win over appsettings; the hierarchical form (LlmServer__OpenAi__ApiKey) works as usual.
/// </summary>
internal static class EnvironmentShortcuts
{
    private static readonly (string Env, string Key)[] s_map =
    [
        ("OPENAI_API_KEY", "LlmServer:OpenAi:ApiKey"),
        ("OPENAI_BASE_URL", "LlmServer:OpenAi:BaseUrl"),
        ("VLLM_BASE_URL", "LlmServer:Vllm:BaseUrl"),
        ("VLLM_API_KEY", "LlmServer:Vllm:ApiKey"),
        ("AZURE_OPENAI_ENDPOINT", "LlmServer:AzureOpenAi:Endpoint"),
        ("AZURE_OPENAI_API_KEY", "LlmServer:AzureOpenAi:ApiKey"),
        ("AZURE_OPENAI_DEPLOYMENT", "LlmServer:AzureOpenAi:Deployment"),
        ("AZURE_OPENAI_API_VERSION", "LlmServer:AzureOpenAi:ApiVersion"),
        ("ANTHROPIC_API_KEY", "LlmServer:Anthropic:ApiKey"),
        ("ANTHROPIC_BASE_URL", "LlmServer:Anthropic:BaseUrl"),
        ("LLMSERVER_MASTER_KEY", "LlmServer:Auth:MasterKey"),
        ("LLMSERVER_DATA_DIR", "LlmServer:Storage:DataDir"),
        ("LLMSERVER_DB", "LlmServer:Storage:PostgresConnectionString"),
        ("REDIS_URL", "LlmServer:Storage:RedisUrl"),
        ("LLMSERVER_MASKING", "LlmServer:Masking:Policy"),
        ("LOG_LEVEL", "Logging:LogLevel:Default"),
    ];

    public static void Apply(ConfigurationManager configuration)
    {
        var overrides = new Dictionary<string, string?>();
        foreach (var (env, key) in s_map)
        {
            var value = Environment.GetEnvironmentVariable(env);
            if (!string.IsNullOrEmpty(value))
            {
                overrides[key] = value;
            }
        }
        if (overrides.Count > 0)
        {
            configuration.AddInMemoryCollection(overrides);
        }
    }
}
