namespace LlmServer.Api.Errors;

/// <summary>The catch-all exception handler and the bodies of the framework's own empty errors.</summary>
internal static class ErrorHandlingRegistration
{
    public static IServiceCollection AddDialectErrorHandling(this IServiceCollection services)
    {
        services.AddSingleton<UnhandledErrorMetrics>();
        services.AddExceptionHandler<UnhandledExceptionHandler>();
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

    /// <summary>First in the pipeline, so it sees every exception and every empty error of the others.</summary>
    public static IApplicationBuilder UseDialectErrorHandling(this IApplicationBuilder app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            // NOTE: the handler answers every exception and writes its own single line without the exception's
            // message (which can quote the request); the framework's own error log would repeat it in full.
            ExceptionHandler = static _ => Task.CompletedTask,
            SuppressDiagnosticsCallback = static _ => true,
        });
        return app.UseDialectErrorBodies();
    }
}
