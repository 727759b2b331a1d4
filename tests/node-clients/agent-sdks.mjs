// Drives LlmServer with the Vercel AI SDK (ai + @ai-sdk/openai, @ai-sdk/anthropic, @ai-sdk/openai-compatible)
// and LangChain JS (@langchain/openai, @langchain/anthropic): per provider a chat, a stream and a tool round trip
// (the model calls `lookup`, the SDK runs it and sends the result back, the model answers). Prints one JSON
// object of what each call returned. Run by LlmServer.Tests (NodeAgentSdkTests), which starts the server and asserts.
//   LLMSERVER_URL=http://127.0.0.1:PORT LLMSERVER_KEY=... LLMSERVER_MODEL=... LLMSERVER_CLAUDE=... node agent-sdks.mjs
import { generateText, streamText, tool, jsonSchema, stepCountIs } from "ai";
import { createOpenAI } from "@ai-sdk/openai";
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { ChatOpenAI } from "@langchain/openai";
import { ChatAnthropic } from "@langchain/anthropic";
import { HumanMessage, ToolMessage } from "@langchain/core/messages";

const base = process.env.LLMSERVER_URL;
const key = process.env.LLMSERVER_KEY;
const model = process.env.LLMSERVER_MODEL;
const claude = process.env.LLMSERVER_CLAUDE;
const prompt = process.env.LLMSERVER_PROMPT ?? "안녕하세요";
const out = {};

async function step(name, fn) {
  try { out[name] = await fn(); } catch (e) { out[name] = { error: String(e?.message ?? e), status: e?.statusCode ?? e?.status ?? null }; }
}

const lookupSchema = { type: "object", properties: { input: { type: "string" } }, required: ["input"] };

// ---- Vercel AI SDK ----
const aiProviders = {
  ai_openai_chat: createOpenAI({ baseURL: base + "/v1", apiKey: key }).chat(model),
  ai_openai_responses: createOpenAI({ baseURL: base + "/v1", apiKey: key }).responses(model),
  ai_openai_compatible: createOpenAICompatible({ name: "llmserver", baseURL: base + "/v1", apiKey: key, includeUsage: true })(model),
  ai_anthropic_translated: createAnthropic({ baseURL: base + "/v1", apiKey: key })(model),
  ai_anthropic_passthrough: createAnthropic({ baseURL: base + "/v1", apiKey: key })(claude),
};

for (const [name, m] of Object.entries(aiProviders)) {
  await step(name + ".chat", async () => {
    const r = await generateText({ model: m, prompt, maxRetries: 0 });
    return { text: r.text, finish: r.finishReason, input_tokens: r.usage?.inputTokens ?? null };
  });
  await step(name + ".stream", async () => {
    const r = streamText({ model: m, prompt, maxRetries: 0 });
    let text = "", parts = 0;
    for await (const t of r.textStream) { text += t; parts++; }
    return { text, parts, finish: await r.finishReason };
  });
  await step(name + ".tool", async () => {
    const calls = [];
    const r = await generateText({
      model: m, prompt, maxRetries: 0, stopWhen: stepCountIs(3),
      tools: {
        lookup: tool({
          description: "Looks a thing up.",
          inputSchema: jsonSchema(lookupSchema),
          execute: async (input) => { calls.push(input); return "sunny"; },
        }),
      },
    });
    return { calls, steps: r.steps.length, text: r.text, finish: r.finishReason };
  });
}

// ---- LangChain JS ----
const lcModels = {
  lc_openai: new ChatOpenAI({ model, apiKey: key, configuration: { baseURL: base + "/v1" }, maxRetries: 0 }),
  lc_openai_responses: new ChatOpenAI({ model, apiKey: key, configuration: { baseURL: base + "/v1" }, maxRetries: 0, useResponsesApi: true }),
  lc_anthropic_translated: new ChatAnthropic({ model, apiKey: key, anthropicApiUrl: base, maxRetries: 0, maxTokens: 256 }),
  lc_anthropic_passthrough: new ChatAnthropic({ model: claude, apiKey: key, anthropicApiUrl: base, maxRetries: 0, maxTokens: 256 }),
};

const lookupTool = { type: "function", function: { name: "lookup", description: "Looks a thing up.", parameters: lookupSchema } };

for (const [name, m] of Object.entries(lcModels)) {
  await step(name + ".chat", async () => {
    const r = await m.invoke(prompt);
    return { text: typeof r.content === "string" ? r.content : r.content.map((c) => c.text ?? "").join("") };
  });
  await step(name + ".stream", async () => {
    let text = "", parts = 0;
    for await (const c of await m.stream(prompt)) {
      text += typeof c.content === "string" ? c.content : c.content.map((p) => p.text ?? "").join("");
      parts++;
    }
    return { text, parts };
  });
  await step(name + ".tool", async () => {
    const withTools = m.bindTools([lookupTool]);
    const first = await withTools.invoke([new HumanMessage(prompt)]);
    const call = first.tool_calls?.[0];
    if (!call) return { calls: [], text: String(first.content) };
    const answer = await withTools.invoke([new HumanMessage(prompt), first, new ToolMessage({ content: "sunny", tool_call_id: call.id })]);
    const text = typeof answer.content === "string" ? answer.content : answer.content.map((c) => c.text ?? "").join("");
    return { calls: [call.args], text };
  });
}

process.stdout.write(JSON.stringify(out) + "\n");
