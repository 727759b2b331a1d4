// Minimal reverse proxy: the floor a Kestrel + SocketsHttpHandler gateway cannot go below on this machine.
//   dotnet publish bench/floor -c Release -o /tmp/floor && dotnet /tmp/floor/Floor.dll --urls http://127.0.0.1:28090 --upstream http://127.0.0.1:28080/v1
using System.Buffers;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();
var upstream = (app.Configuration["upstream"] ?? "http://127.0.0.1:18080/v1").TrimEnd('/') + "/";
var client = new HttpMessageInvoker(new SocketsHttpHandler { UseProxy = false, UseCookies = false, AllowAutoRedirect = false, MaxConnectionsPerServer = 256 });
var target = new Uri(upstream + "chat/completions");
app.MapPost("/v1/chat/completions", async ctx =>
{
    var len = (int)(ctx.Request.ContentLength ?? 0);
    var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(len, 4096));
    var n = 0;
    int r;
    while ((r = await ctx.Request.Body.ReadAsync(buffer.AsMemory(n))) > 0) n += r;
    using var req = new HttpRequestMessage(HttpMethod.Post, target) { Content = new ReadOnlyMemoryContent(buffer.AsMemory(0, n)) };
    req.Content.Headers.ContentType = new("application/json");
    using var resp = await client.SendAsync(req, ctx.RequestAborted);
    ArrayPool<byte>.Shared.Return(buffer);
    ctx.Response.StatusCode = (int)resp.StatusCode;
    ctx.Response.ContentType = resp.Content.Headers.ContentType?.ToString();
    await using var s = await resp.Content.ReadAsStreamAsync(ctx.RequestAborted);
    var copy = ArrayPool<byte>.Shared.Rent(16384);
    while ((r = await s.ReadAsync(copy)) > 0)
    {
        await ctx.Response.Body.WriteAsync(copy.AsMemory(0, r));
        await ctx.Response.Body.FlushAsync();
    }
    ArrayPool<byte>.Shared.Return(copy);
});
app.Run();
