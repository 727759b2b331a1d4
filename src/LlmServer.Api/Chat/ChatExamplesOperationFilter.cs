using System.Text.Json.Nodes;
using LlmServer.Dto.Chat;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace LlmServer.Api.Chat;

/// <summary>
/// Gives the chat operations a whole, working request example (the seed README request), so Swagger's
/// try-it-out sends something sensible instead of "string" placeholders and every flag set to true.
/// </summary>
internal sealed class ChatExamplesOperationFilter : IOperationFilter
{
    private const string SeedRequest =
        """{"request_id":"unique_session_id","user_prompt":"Python의 특징을 설명해주세요.","system_prompt":"당신은 친절한 프로그래밍 튜터입니다.","max_tokens":1000,"temperature":0.7,"model":"gpt-4o-mini"}""";

    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        if (operation.RequestBody?.Content is not { } content
            || !context.ApiDescription.ParameterDescriptions.Any(p => p.Type == typeof(ChatRequest)))
        {
            return;
        }
        foreach (var media in content.Values)
        {
            if (media is OpenApiMediaType m)
            {
                m.Example = JsonNode.Parse(SeedRequest);
            }
        }
    }
}
