using LlmServer.Api;
using LlmServer.External;
using LlmServer.Services;
using NLog.Web;

var builder = WebApplication.CreateBuilder(args);
builder.AddLlmServerHosting();

builder.Services.AddLlmServerServices(builder.Configuration);
builder.Services.AddLlmServerExternal(builder.Configuration);
builder.Services.AddLlmServerApi(builder.Configuration);

var app = builder.Build();
app.UseLlmServerPipeline();
app.Run();

/// <summary>Entry point; public so WebApplicationFactory can start the server in tests.</summary>
public partial class Program;
