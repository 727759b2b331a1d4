using Microsoft.Extensions.FileProviders;

namespace LlmServer.Api.Operations;

/// <summary>
/// The status dashboard: static files under wwwroot/dashboard (Chart.js vendored under wwwroot/lib).
/// The page itself holds no data; every figure comes from the system, usage and metrics APIs, which
/// require the master key when one is set (the page asks for it and keeps it in sessionStorage).
/// </summary>
internal static class DashboardEndpoints
{
    public static IApplicationBuilder UseDashboard(this IApplicationBuilder app, WebApplication host)
    {
        // NOTE: a middleware, not an endpoint: routing treats /dashboard and /dashboard/ alike.
        app.Use((ctx, next) =>
        {
            if (ctx.Request.Path.Value is "/dashboard")
            {
                ctx.Response.Redirect("/dashboard/" + ctx.Request.QueryString);
                return Task.CompletedTask;
            }
            return next(ctx);
        });
        app.UseDefaultFiles(new DefaultFilesOptions { RequestPath = "/dashboard", FileProvider = DashboardFiles(host) });
        app.UseStaticFiles(new StaticFileOptions
        {
            OnPrepareResponse = ctx => ctx.Context.Response.Headers.CacheControl = "no-cache",
        });
        return app;
    }

    private static IFileProvider DashboardFiles(WebApplication app) =>
        new PhysicalFileProvider(Path.Combine(app.Environment.WebRootPath ?? Path.Combine(AppContext.BaseDirectory, "wwwroot"), "dashboard"));
}
