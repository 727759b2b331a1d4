// Drives LlmServer with the official Node SDKs (openai 6.x, @anthropic-ai/sdk) and prints one JSON object of
// what each call returned. Run by LlmServer.Tests (NodeSdkClientTests), which starts the server and asserts.
//   LLMSERVER_URL=http://127.0.0.1:PORT LLMSERVER_KEY=... node clients.mjs
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";

const base = process.env.LLMSERVER_URL;
const key = process.env.LLMSERVER_KEY;
const prompt = process.env.LLMSERVER_PROMPT ?? "안녕하세요";
const openai = new OpenAI({ baseURL: base + "/v1", apiKey: key, maxRetries: 0 });
const anthropic = new Anthropic({ baseURL: base, apiKey: key, maxRetries: 0 });
const out = {};

async function step(name, fn) {
  try { out[name] = await fn(); } catch (e) { out[name] = { error: String(e?.message ?? e), status: e?.status ?? null, code: e?.code ?? e?.error?.error?.code ?? null }; }
}

await step("chat", async () => {
  const r = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: prompt }] });
  return { text: r.choices[0].message.content, finish: r.choices[0].finish_reason, total_tokens: r.usage?.total_tokens ?? null };
});
await step("chat_stream", async () => {
  const s = await openai.chat.completions.create({ model: "gpt-4o-mini", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: prompt }] });
  let text = "", chunks = 0, usage = null, finish = null;
  for await (const c of s) { chunks++; text += c.choices[0]?.delta?.content ?? ""; finish = c.choices[0]?.finish_reason ?? finish; usage = c.usage ?? usage; }
  return { text, chunks, finish, total_tokens: usage?.total_tokens ?? null };
});
await step("tool_call", async () => {
  const r = await openai.chat.completions.create({
    model: "gpt-4o-mini", messages: [{ role: "user", content: prompt }],
    tools: [{ type: "function", function: { name: "lookup", parameters: { type: "object", properties: { input: { type: "string" } } } } }],
  });
  const call = r.choices[0].message.tool_calls[0];
  return { name: call.function.name, arguments: JSON.parse(call.function.arguments), finish: r.choices[0].finish_reason };
});
await step("responses", async () => {
  const r = await openai.responses.create({ model: "gpt-4o-mini", input: prompt, instructions: "Be brief." });
  return { text: r.output_text, status: r.status };
});
await step("responses_stream", async () => {
  const s = await openai.responses.create({ model: "gpt-4o-mini", input: prompt, stream: true });
  let text = "", completed = false;
  for await (const e of s) { if (e.type === "response.output_text.delta") text += e.delta; if (e.type === "response.completed") completed = true; }
  return { text, completed };
});
await step("embeddings", async () => {
  const r = await openai.embeddings.create({ model: "gpt-4o-mini", input: ["하나", "two"] });
  return { count: r.data.length, dims: r.data[0].embedding.length };
});
await step("models", async () => {
  const ids = [];
  for await (const m of openai.models.list()) ids.push(m.id);
  return { ids };
});
await step("unknown_model", async () => {
  await openai.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] });
  return { unexpected: "no error" };
});
await step("messages", async () => {
  const m = await anthropic.messages.create({ model: "gpt-4o-mini", max_tokens: 128, messages: [{ role: "user", content: prompt }] });
  return { text: m.content.filter(b => b.type === "text").map(b => b.text).join(""), stop_reason: m.stop_reason, output_tokens: m.usage.output_tokens };
});
await step("messages_stream", async () => {
  const s = anthropic.messages.stream({ model: "gpt-4o-mini", max_tokens: 128, messages: [{ role: "user", content: prompt }] });
  const events = [];
  s.on("streamEvent", (e) => events.push(e.type));
  const m = await s.finalMessage();
  return { text: m.content.filter(b => b.type === "text").map(b => b.text).join(""), stop_reason: m.stop_reason, first: events[0], last: events[events.length - 1] };
});
await step("messages_tool", async () => {
  const m = await anthropic.messages.create({
    model: "gpt-4o-mini", max_tokens: 128, messages: [{ role: "user", content: prompt }],
    tools: [{ name: "lookup", input_schema: { type: "object", properties: { input: { type: "string" } } } }],
  });
  const block = m.content.find(b => b.type === "tool_use");
  return { name: block?.name ?? null, input: block?.input ?? null, stop_reason: m.stop_reason };
});
await step("messages_bad_json", async () => {
  const r = await fetch(base + "/v1/messages", { method: "POST", headers: { "content-type": "application/json", "x-api-key": key, "anthropic-version": "2023-06-01" }, body: "{\"model\": " });
  return { status: r.status, body: await r.json() };
});

// Responses on upstreams without /v1/responses (the gateway translates and keeps the conversation): the SDK's
// stream helper checks the events' order and indexes as it accumulates them.
for (const model of (process.env.LLMSERVER_TRANSLATED_MODELS ?? "").split(",").filter(Boolean)) {
  await step(`translated_stream:${model}`, async () => {
    const s = openai.responses.stream({ model, input: prompt });
    let deltas = "";
    s.on("response.output_text.delta", (e) => { deltas += e.delta; });
    const final = await s.finalResponse();
    return { deltas, text: final.output_text, status: final.status };
  });
  await step(`translated_tools:${model}`, async () => {
    const tools = [{ type: "function", name: "lookup", strict: false, parameters: { type: "object", properties: { input: { type: "string" } } } }];
    const first = await openai.responses.create({ model, input: prompt, tools });
    const call = first.output.find((i) => i.type === "function_call");
    const second = await openai.responses.create({
      model, tools, previous_response_id: first.id,
      input: [{ type: "function_call_output", call_id: call.call_id, output: "looked up" }],
    });
    const fetched = await openai.responses.retrieve(second.id);
    return { name: call.name, arguments: JSON.parse(call.arguments), text: second.output_text, fetched: fetched.output_text };
  });
}

process.stdout.write(JSON.stringify(out) + "\n");
