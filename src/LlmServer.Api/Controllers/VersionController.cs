using System.Reflection;
using System.Text.Json;
using LlmServer.Dto.OpenAi;
using Microsoft.AspNetCore.Mvc;

namespace LlmServer.Api.Controllers;

/// <summary>GET /version (vLLM's shape): no auth.</summary>
[Route("version")]
public sealed class VersionController : ControllerBase
{
    private static readonly string s_version =
        typeof(VersionController).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    /// <summary>The server version.</summary>
    [HttpGet]
    [ProducesResponseType<VersionInfo>(StatusCodes.Status200OK)]
    public ContentResult Get() => new()
    {
        StatusCode = 200,
        ContentType = "application/json",
        Content = JsonSerializer.Serialize(new VersionInfo { Version = s_version }, OpenAiJsonContext.Default.VersionInfo),
    };
}
