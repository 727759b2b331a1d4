using System.Reflection;
using System.Text.Json;
using LlmServer.Api.Proxy;
using LlmServer.Dto.OpenAi;
using LlmServer.Services.Routing;
using Microsoft.AspNetCore.Mvc;

namespace LlmServer.Api.Controllers;

/// <summary>
/// The OpenAI/vLLM-compatible model listing. The proxied operations (chat/completions, completions, responses,
/// embeddings) are mapped as plain endpoints in <see cref="GatewayApi"/>: the hot path skips MVC.
/// </summary>
[Route("v1")]
[Produces("application/json")]
public sealed class OpenAiGatewayController : ControllerBase
{
    private readonly IModelRouter _router;

    /// <summary>Created by MVC.</summary>
    public OpenAiGatewayController(IModelRouter router) => _router = router;

    /// <summary>Lists the routable models (Anthropic's list shape when the request carries anthropic-version).</summary>
    [HttpGet("models")]
    [ProducesResponseType<ModelList>(StatusCodes.Status200OK)]
    public IActionResult Models()
    {
        // NOTE: Claude Code's gateway model discovery and the Anthropic SDKs read Anthropic's shape from the same path.
        if (Request.Headers.ContainsKey("anthropic-version"))
        {
            var models = _router.Models.Select(m => new Dto.Anthropic.AnthropicModelInfo
            {
                Id = m.Name, DisplayName = m.Name,
                CreatedAt = DateTimeOffset.FromUnixTimeSeconds(m.Created).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
            }).ToArray();
            return Json(new Dto.Anthropic.AnthropicModelList
            {
                Data = models, HasMore = false, FirstId = models.FirstOrDefault()?.Id, LastId = models.LastOrDefault()?.Id,
            }, Dto.Anthropic.AnthropicModelsJsonContext.Default.AnthropicModelList);
        }
        return Json(new ModelList { Data = _router.Models.Select(Card).ToArray() }, OpenAiJsonContext.Default.ModelList);
    }

    /// <summary>Describes one model (aliases resolve to their model).</summary>
    [HttpGet("models/{*id}")]
    [ProducesResponseType<ModelCard>(StatusCodes.Status200OK)]
    [ProducesResponseType<OpenAiErrorResponse>(StatusCodes.Status404NotFound)]
    public IActionResult Model(string id)
    {
        if (_router.TryResolve(id, out var route)) return Json(Card(route.Model) with { Id = id }, OpenAiJsonContext.Default.ModelCard);
        // NOTE: the SDKs' models.retrieve() treats any 200 as a model; an unknown one is a 404 in the caller's dialect.
        if (Request.Headers.ContainsKey("anthropic-version"))
        {
            return Errors.ApiErrorWriter.ResultIn(HttpContext, Errors.ErrorDialect.Anthropic, StatusCodes.Status404NotFound, "model_not_found",
                $"model: '{id}' is not served here. Use a model listed by GET /v1/models.");
        }
        var error = new OpenAiErrorResponse
        {
            Error = new OpenAiError { Message = $"The model `{id}` does not exist.", Type = "invalid_request_error", Param = "model", Code = "model_not_found" },
        };
        return new ContentResult
        {
            StatusCode = StatusCodes.Status404NotFound,
            ContentType = "application/json",
            Content = System.Text.Encoding.UTF8.GetString(GatewayErrors.Serialize(error)),
        };
    }

    private static ModelCard Card(ModelEntry m) => new()
    {
        Id = m.Name,
        Created = m.Created,
        OwnedBy = m.OwnedBy,
        Root = m.Root,
        MaxModelLen = m.MaxModelLen,
    };

    private static ContentResult Json<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info) => new()
    {
        StatusCode = 200,
        ContentType = "application/json",
        Content = JsonSerializer.Serialize(value, info),
    };
}

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
