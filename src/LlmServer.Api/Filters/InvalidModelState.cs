using LlmServer.Api.Dialects;
using Microsoft.AspNetCore.Mvc;

namespace LlmServer.Api.Filters;

/// <summary>Malformed JSON, unbindable values or a validator's refusal: 400 saying what is wrong, in the path's dialect.</summary>
internal static class InvalidModelState
{
    public static IActionResult Create(ActionContext context)
    {
        var http = context.HttpContext;
        var json = context.ModelState.Keys.Any(k => k.StartsWith('$')) ||
                   context.ModelState.Values.SelectMany(v => v.Errors).Any(e => e.Exception is System.Text.Json.JsonException);
        if (!json && ValidationFailures.TryCreateResult(http) is { } refused)
        {
            return refused;
        }
        var problems = context.ModelState
            .Where(kv => kv.Value is { Errors.Count: > 0 })
            // NOTE: a JSON syntax error also leaves "the request field is required" behind; it only adds noise.
            .Where(kv => !json || kv.Key.StartsWith('$'))
            .SelectMany(kv => kv.Value!.Errors.Select(e => Describe(kv.Key, e)))
            .Distinct()
            .ToList();
        var detail = problems.Count == 0 ? "unknown error" : string.Join(" ", problems);
        var error = json
            ? DialectErrorWriter.HostError(StatusCodes.Status400BadRequest, "invalid_json", "The request body is not valid JSON: " + detail, detail)
            : DialectErrorWriter.HostError(StatusCodes.Status400BadRequest, "validation_error", "The request is invalid.");
        var message = DialectErrorWriter.Localize(http, error);
        return DialectErrorWriter.Result(http, error, json ? message : message + " " + detail);
    }

    private static string Describe(string key, Microsoft.AspNetCore.Mvc.ModelBinding.ModelError error)
    {
        var text = !string.IsNullOrEmpty(error.ErrorMessage) ? error.ErrorMessage : error.Exception?.Message ?? "invalid value";
        return JsonErrorText.Describe(key, text);
    }
}
