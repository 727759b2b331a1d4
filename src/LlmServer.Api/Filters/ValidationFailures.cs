using FluentValidation;
using FluentValidation.AspNetCore;
using FluentValidation.Results;
using LlmServer.Api.Dialects;
using Microsoft.AspNetCore.Mvc;

namespace LlmServer.Api.Filters;

/// <summary>
/// Keeps the failures of FluentValidation's MVC auto-validation for the error body: MVC's model state holds only
/// the messages, while the session API answers the rule's error code (and localizes it from the catalogue).
/// </summary>
internal sealed class ValidationFailures : IValidatorInterceptor
{
    private static readonly object s_key = new();

    public IValidationContext BeforeAspNetValidation(ActionContext actionContext, IValidationContext commonContext) => commonContext;

    public ValidationResult AfterAspNetValidation(ActionContext actionContext, IValidationContext validationContext, ValidationResult result)
    {
        if (!result.IsValid)
        {
            var items = actionContext.HttpContext.Items;
            if (items[s_key] is List<ValidationFailure> earlier)
            {
                earlier.AddRange(result.Errors);
            }
            else
            {
                items[s_key] = new List<ValidationFailure>(result.Errors);
            }
        }
        return result;
    }

    /// <summary>
    /// The 400 for a request whose validator refused it, or null when no validator did. One error code answers
    /// that code; several answer <c>validation_error</c> with every message.
    /// </summary>
    public static IActionResult? TryCreateResult(HttpContext http)
    {
        if (http.Items[s_key] is not List<ValidationFailure> { Count: > 0 } errors)
        {
            return null;
        }
        var codes = errors.Select(e => e.ErrorCode).Distinct().ToList();
        var messages = errors
            .Select(e => DialectErrorWriter.Localize(http, DialectErrorWriter.HostError(StatusCodes.Status400BadRequest, e.ErrorCode, e.ErrorMessage)))
            .Distinct();
        return DialectErrorWriter.Result(http, DialectErrorWriter.HostError(StatusCodes.Status400BadRequest,
            codes.Count == 1 ? codes[0] : "validation_error", string.Join(" ", messages)));
    }
}
