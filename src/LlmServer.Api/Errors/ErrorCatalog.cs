using System.Globalization;

namespace LlmServer.Api.Errors;

/// <summary>Korean and English texts of error codes; {0} ... are filled from the error's arguments.</summary>
internal static class ErrorCatalog
{
    private static readonly Dictionary<string, (string Ko, string En)> s_messages = new()
    {
        ["validation_error"] = ("요청이 올바르지 않습니다.", "The request is invalid."),
        ["user_prompt_required"] = ("user_prompt(또는 user_message)는 필수이며 비어 있을 수 없습니다.", "user_prompt (or user_message) is required and must not be empty."),
        ["temperature_range"] = ("temperature는 0에서 2 사이여야 합니다.", "temperature must be between 0 and 2."),
        ["max_tokens_range"] = ("max_tokens는 1에서 1000000 사이여야 합니다.", "max_tokens must be between 1 and 1000000."),
        ["user_api_key_required"] = ("use_user_api_key가 true이면 openai_api_key가 필요합니다.", "openai_api_key is required when use_user_api_key is true."),
        ["session_id_too_long"] = ("session_id는 200자 이하여야 합니다.", "session_id must be at most 200 characters."),
        ["model_too_long"] = ("model은 200자 이하여야 합니다.", "model must be at most 200 characters."),
        ["history_role_invalid"] = ("conversation_history의 role은 user, assistant, system, developer 중 하나여야 합니다.", "conversation_history[].role must be user, assistant, system or developer."),
        ["history_entry_null"] = ("conversation_history 항목은 null일 수 없습니다.", "conversation_history entries must not be null."),
        ["stream_background_conflict"] = ("stream과 background를 함께 true로 설정할 수 없습니다.", "stream and background cannot both be true."),
        ["invalid_json"] = ("요청 본문이 올바른 JSON이 아닙니다: {0}", "The request body is not valid JSON: {0}"),
        ["payload_too_large"] = ("요청 본문이 허용 크기({0} 바이트)를 초과합니다.", "The request body exceeds the limit of {0} bytes."),
        ["config_missing"] = ("서버에 OpenAI API 키가 설정되지 않았습니다. {0} 환경 변수(LlmServer:OpenAi:ApiKey)를 설정하거나, use_user_api_key=true와 함께 openai_api_key를 보내세요.",
            "The server has no OpenAI API key. Set {0} (LlmServer:OpenAi:ApiKey), or send your own openai_api_key with use_user_api_key=true."),
        ["invalid_user_api_key"] = ("OpenAI가 openai_api_key로 보낸 API 키를 거부했습니다. 키를 확인하세요.", "OpenAI rejected the API key sent in openai_api_key. Check the key."),
        ["rate_limited"] = ("업스트림(OpenAI) 요청 한도에 도달했습니다. 잠시 후 다시 시도하세요.", "The upstream (OpenAI) rate limit was reached; retry later."),
        ["upstream_unreachable"] = ("업스트림(OpenAI)에 연결할 수 없거나 잘못된 응답을 받았습니다. {0} 설정을 확인하세요.", "The upstream (OpenAI) could not be reached or sent an invalid answer. Check {0}."),
        ["upstream_timeout"] = ("업스트림(OpenAI)이 {0}초 안에 응답하지 않았습니다.", "The upstream (OpenAI) did not answer within {0} s."),
        ["upstream_error"] = ("업스트림(OpenAI)이 오류를 반환했습니다.", "The upstream (OpenAI) answered with an error."),
        ["upstream_auth_failed"] = ("업스트림이 서버의 API 키({0})를 거부했습니다. 서버 설정을 확인하세요.", "The upstream rejected the server's API key ({0}); check the server configuration."),
        ["upstream_rejected"] = ("업스트림이 요청을 거부했습니다: {0}", "The upstream rejected the request: {0}"),
        ["not_found"] = ("요청한 리소스를 찾을 수 없습니다.", "The requested resource was not found."),
        ["session_not_found"] = ("세션 '{0}'의 대화 기록이 없습니다.", "Session '{0}' has no stored history."),
        ["store_unavailable"] = ("대화 기록 저장소를 열 수 없습니다. {0} 설정을 확인하세요.", "The chat history store cannot be opened; check {0}."),
        ["unsupported_media_type"] = ("Content-Type은 application/json이어야 합니다.", "Content-Type must be application/json."),
        ["masking_unavailable"] = ("민감정보 마스킹을 사용할 수 없어 요청을 업스트림으로 보내지 않았습니다. 잠시 후 다시 시도하세요.", "Sensitive-data masking is unavailable, so the request was not sent upstream. Retry later."),
        ["sensitive_data_blocked"] = ("요청에 민감정보가 있어 차단되었습니다(정책: block). 발견된 유형: {0}", "The request contains sensitive data and the masking policy is 'block'. Types found: {0}"),
        ["model_not_allowed"] = ("이 키는 모델 '{0}'을(를) 사용할 수 없습니다.", "This key may not use model '{0}'."),
        ["key_rate_limited"] = ("이 키의 요청 한도에 도달했습니다. {0}초 후 다시 시도하세요.", "Rate limit reached for this key; retry after {0} s."),
        ["budget_exceeded"] = ("이 키의 예산을 초과했습니다: {0}", "The budget of this key is exhausted: {0}"),
        ["bad_request"] = ("잘못된 요청입니다.", "Bad request."),
        ["internal_error"] = ("서버가 요청을 처리하지 못했습니다(trace id {0}).", "The server failed to process the request (trace id {0})."),
        ["method_not_allowed"] = ("이 경로에서 허용되지 않는 메서드입니다. 허용: {0}", "This method is not allowed on this path; allowed: {0}."),
        ["unsupported_charset"] = ("요청 본문은 UTF-8로 인코딩된 JSON이어야 합니다(charset=utf-8).", "The request body must be JSON encoded as UTF-8 (charset=utf-8)."),
    };

    /// <summary>The message of <paramref name="code"/> in the language, or <paramref name="fallback"/> when unknown.</summary>
    public static string Message(string code, string language, string fallback, IReadOnlyList<string>? args = null)
    {
        if (!s_messages.TryGetValue(code, out var texts))
        {
            return fallback;
        }
        var template = language == "en" ? texts.En : texts.Ko;
        try
        {
            return string.Format(CultureInfo.InvariantCulture, template, args?.Cast<object>().ToArray() ?? []);
        }
        catch (FormatException)
        {
            return fallback;
        }
    }

    /// <summary>True when the catalog knows the code.</summary>
    public static bool Knows(string code) => s_messages.ContainsKey(code);
}
