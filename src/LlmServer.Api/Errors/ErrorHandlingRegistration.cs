namespace LlmServer.Api.Errors;

/// <summary>The catch-all exception handler (run by <see cref="Pipeline.RequestGate"/>) and how MVC reads bodies.</summary>
internal static class ErrorHandlingRegistration
{
    public static IServiceCollection AddDialectErrorHandling(this IServiceCollection services)
    {
        services.AddSingleton<UnhandledErrorMetrics>();
        services.AddSingleton<UnhandledExceptionHandler>();
        // NOTE: model binding applies the same depth and duplicate-key rules as every other parser of the server.
        services.Configure<Microsoft.AspNetCore.Mvc.JsonOptions>(o => Dto.JsonLimits.Apply(o.JsonSerializerOptions));
        // NOTE: every API takes JSON; MVC would otherwise parse any form-typed body for values nothing binds, and
        // its jQuery-style key syntax throws on keys it cannot read (a 500 for a client's mislabelled body).
        services.Configure<Microsoft.AspNetCore.Mvc.MvcOptions>(o =>
        {
            var forms = o.ValueProviderFactories.Where(f => f is Microsoft.AspNetCore.Mvc.ModelBinding.JQueryFormValueProviderFactory
                or Microsoft.AspNetCore.Mvc.ModelBinding.FormValueProviderFactory or Microsoft.AspNetCore.Mvc.ModelBinding.FormFileValueProviderFactory).ToList();
            foreach (var f in forms) o.ValueProviderFactories.Remove(f);
        });
        return services;
    }
}
