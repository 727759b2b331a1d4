using System.Globalization;

namespace LlmServer.Api.Errors;

/// <summary>Korean and English texts of error codes; {0} ... are filled from the error's arguments.</summary>
internal static class ErrorCatalog
{
    /// <summary>
    /// The texts of one code. <paramref name="En"/> null: the English text is the message the error came with (the
    /// exchange catalogue's, <c>ExchangeErrors</c>). <paramref name="Plain"/>: the Korean text when the error came
    /// without the details <paramref name="Ko"/> names ({0} ...).
    /// </summary>
    private sealed record Texts(string Ko, string? En = null, string? Plain = null);

    private static readonly Dictionary<string, Texts> s_messages = new()
    {
        ["validation_error"] = new("요청이 올바르지 않습니다.", "The request is invalid."),
        ["user_prompt_required"] = new("user_prompt(또는 user_message)는 필수이며 비어 있을 수 없습니다.", "user_prompt (or user_message) is required and must not be empty."),
        ["temperature_range"] = new("temperature는 0에서 2 사이여야 합니다.", "temperature must be between 0 and 2."),
        ["max_tokens_range"] = new("max_tokens는 1에서 1000000 사이여야 합니다.", "max_tokens must be between 1 and 1000000."),
        ["user_api_key_required"] = new("use_user_api_key가 true이면 openai_api_key가 필요합니다.", "openai_api_key is required when use_user_api_key is true."),
        ["model_too_long"] = new("model은 200자 이하여야 합니다.", "model must be at most 200 characters."),
        ["history_role_invalid"] = new("conversation_history의 role은 user, assistant, system, developer 중 하나여야 합니다.", "conversation_history[].role must be user, assistant, system or developer."),
        ["history_entry_null"] = new("conversation_history 항목은 null일 수 없습니다.", "conversation_history entries must not be null."),
        ["stream_background_conflict"] = new("stream과 background를 함께 true로 설정할 수 없습니다.", "stream and background cannot both be true."),
        ["invalid_json"] = new("요청 본문이 올바른 JSON이 아닙니다: {0}", "The request body is not valid JSON: {0}"),
        ["payload_too_large"] = new("요청 본문이 허용 크기({0} 바이트)를 초과합니다.", "The request body exceeds the limit of {0} bytes."),
        ["config_missing"] = new("서버에 OpenAI API 키가 설정되지 않았습니다. {0} 환경 변수(LlmServer:OpenAi:ApiKey)를 설정하거나, use_user_api_key=true와 함께 openai_api_key를 보내세요.",
            "The server has no OpenAI API key. Set {0} (LlmServer:OpenAi:ApiKey), or send your own openai_api_key with use_user_api_key=true."),
        ["not_found"] = new("요청한 리소스를 찾을 수 없습니다.", "The requested resource was not found."),
        ["session_not_found"] = new("세션 '{0}'의 대화 기록이 없습니다.", "Session '{0}' has no stored history."),
        ["unsupported_media_type"] = new("Content-Type은 application/json이어야 합니다.", "Content-Type must be application/json."),
        ["bad_request"] = new("잘못된 요청입니다.", "Bad request."),
        ["internal_error"] = new("서버가 요청을 처리하지 못했습니다(trace id {0}).", "The server failed to process the request (trace id {0})."),
        ["method_not_allowed"] = new("이 경로에서 허용되지 않는 메서드입니다. 허용: {0}", "This method is not allowed on this path; allowed: {0}."),
        ["unsupported_charset"] = new("요청 본문은 UTF-8로 인코딩된 JSON이어야 합니다(charset=utf-8).", "The request body must be JSON encoded as UTF-8 (charset=utf-8)."),
        ["store_unavailable"] = new("대화 기록 저장소를 열 수 없습니다. {0} 설정을 확인하세요.", "The chat history store cannot be opened; check {0}.",
            "저장소를 지금 사용할 수 없어 요청을 처리하지 못했습니다. 잠시 후 다시 시도하세요."),

        // NOTE: the exchange catalogue's codes, the same on every API; English comes with the error.
        ["invalid_session_id"] = new("session_id(또는 x-session-id 헤더)는 공백 없는 1~128자의 ASCII 문자여야 합니다."),
        ["invalid_user_api_key"] = new("OpenAI가 openai_api_key로 보낸 API 키를 거부했습니다. 키를 확인하세요."),
        ["model_not_found"] = new("모델 '{0}'이(가) 없습니다. GET /v1/models가 나열하는 모델을 사용하세요."),
        ["model_not_allowed"] = new("이 키는 모델 '{0}'을(를) 사용할 수 없습니다."),
        ["rate_limit_exceeded"] = new("이 키의 요청 한도에 도달했습니다. {0}초 후 다시 시도하세요.", Plain: "이 키의 요청 한도에 도달했습니다. 잠시 후 다시 시도하세요."),
        ["budget_exceeded"] = new("이 키의 예산을 초과했습니다: {0}", Plain: "이 키의 예산을 초과했습니다."),
        ["admission_unavailable"] = new("지금은 요청 한도와 예산을 확인할 수 없어 요청을 보내지 않았습니다. 잠시 후 다시 시도하세요."),
        ["masking_unavailable"] = new("민감정보 마스킹을 사용할 수 없어 요청을 처리하지 않았습니다. 잠시 후 다시 시도하세요."),
        ["sensitive_data_blocked"] = new("요청에 민감정보가 있어 차단되었습니다(정책: block). 발견된 유형: {0}"),
        ["response_not_found"] = new("'{0}' 응답을 찾을 수 없습니다."),
        ["upstream_rate_limited"] = new("업스트림의 요청 한도에 도달했습니다. 잠시 후 다시 시도하세요."),
        ["upstream_timeout"] = new("업스트림이 {0}초 안에 응답하지 않았습니다.", "The upstream did not answer within {0} s.", "업스트림이 제시간에 응답하지 않았습니다."),
        ["upstream_unreachable"] = new("업스트림에 연결할 수 없습니다. {0} 설정을 확인하세요.", "The upstream could not be reached. Check {0}.", "업스트림에 연결할 수 없습니다."),
        ["upstream_error"] = new("업스트림이 오류를 반환했습니다."),
        ["upstream_invalid_response"] = new("업스트림이 올바르지 않은 응답을 보냈습니다."),
        ["upstream_disconnected"] = new("답변이 끝나기 전에 업스트림 연결이 끊어졌습니다."),
        ["upstream_unavailable"] = new("모델을 일시적으로 사용할 수 없습니다. 잠시 후 다시 시도하세요."),
        ["upstream_auth_failed"] = new("업스트림이 서버의 API 키({0})를 거부했습니다. 서버 설정을 확인하세요."),
        ["upstream_rejected"] = new("업스트림이 요청을 거부했습니다: {0}"),
        ["no_upstream_configured"] = new("설정된 업스트림이 없습니다. OPENAI_API_KEY, VLLM_BASE_URL 또는 ANTHROPIC_API_KEY를 설정하세요."),
    };

    /// <summary>The message of <paramref name="code"/> in the language, or <paramref name="fallback"/> when unknown.</summary>
    public static string Message(string code, string language, string fallback, IReadOnlyList<string>? args = null)
    {
        if (!s_messages.TryGetValue(code, out var texts))
        {
            return fallback;
        }
        var english = language == "en";
        if ((english ? texts.En : texts.Ko) is not { } template)
        {
            return fallback;
        }
        try
        {
            return string.Format(CultureInfo.InvariantCulture, template, args?.Cast<object>().ToArray() ?? []);
        }
        catch (FormatException)
        {
            // NOTE: the error came without the details the text names: the plain text, else the error's own message.
            return english ? fallback : texts.Plain ?? fallback;
        }
    }

    /// <summary>True when the catalog knows the code.</summary>
    public static bool Knows(string code) => s_messages.ContainsKey(code);
}
