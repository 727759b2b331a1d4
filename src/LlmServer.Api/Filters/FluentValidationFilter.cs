using FluentValidation;
using LlmServer.Api.Errors;
using Microsoft.AspNetCore.Mvc.Filters;

namespace LlmServer.Api.Filters;

/// <summary>Runs the FluentValidation validator of each action argument; the first failure set answers 400.</summary>
internal sealed class FluentValidationFilter(IServiceProvider services) : IAsyncActionFilter
{
    public async Task OnActionExecutionAsync(ActionExecutingContext context, ActionExecutionDelegate next)
    {
        foreach (var argument in context.ActionArguments.Values)
        {
            if (argument is null)
            {
                continue;
            }
            var validatorType = typeof(IValidator<>).MakeGenericType(argument.GetType());
            if (services.GetService(validatorType) is not IValidator validator)
            {
                continue;
            }
            var result = await validator.ValidateAsync(new ValidationContext<object>(argument), context.HttpContext.RequestAborted);
            if (!result.IsValid)
            {
                var http = context.HttpContext;
                var messages = result.Errors
                    .Select(e => ErrorCatalog.Knows(e.ErrorCode) ? ApiErrorWriter.Localize(http, e.ErrorCode, e.ErrorMessage) : e.ErrorMessage)
                    .Distinct();
                var single = result.Errors.Select(e => e.ErrorCode).Distinct().Count() == 1 && ErrorCatalog.Knows(result.Errors[0].ErrorCode);
                context.Result = ApiErrorWriter.Result(http, StatusCodes.Status400BadRequest,
                    single ? result.Errors[0].ErrorCode : "validation_error", string.Join(" ", messages));
                return;
            }
        }
        await next();
    }
}
