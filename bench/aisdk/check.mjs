// Checks the Vercel AI SDK's default OpenAI provider against a running
// sluice: openai('alias') calls the Responses API (/v1/responses). Run a
// stack first (go run ./cmd/devstack), then:
//
//   SLUICE_URL=http://127.0.0.1:8080/v1 SLUICE_KEY=sk-sluice-local npm run check
//
// Each check prints one line; the process exits non-zero if any fails.
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText, generateObject, tool, stepCountIs } from 'ai';
import { z } from 'zod';

const openai = createOpenAI({
  baseURL: process.env.SLUICE_URL ?? 'http://127.0.0.1:8080/v1',
  apiKey: process.env.SLUICE_KEY ?? 'sk-sluice-local',
});
const model = openai(process.env.SLUICE_MODEL ?? 'claude-sonnet');

let failed = 0;
async function check(name, fn) {
  const start = Date.now();
  try {
    const detail = await fn();
    console.log(`ok   ${name} (${Date.now() - start} ms) ${detail ?? ''}`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}: ${err?.message ?? err}`);
    if (err?.responseBody) console.log(`     body: ${err.responseBody}`);
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

await check('generateText', async () => {
  const r = await generateText({ model, system: 'You are terse.', prompt: 'Say hello.' });
  assert(r.text.length > 0, 'no text');
  assert(r.usage.inputTokens > 0 && r.usage.outputTokens > 0, `usage ${JSON.stringify(r.usage)}`);
  assert(r.response.id.startsWith('resp_'), `id ${r.response.id}`);
  return `${r.usage.outputTokens} output tokens, ${r.response.id}`;
});

await check('streamText', async () => {
  const r = streamText({ model, prompt: 'Stream a few words.' });
  let text = '';
  for await (const delta of r.textStream) text += delta;
  assert(text.length > 0, 'no streamed text');
  assert(text === (await r.text), 'streamed text differs from the final text');
  const usage = await r.usage;
  assert(usage.outputTokens > 0, `usage ${JSON.stringify(usage)}`);
  return `${text.split(/\s+/).length} words`;
});

await check('tools (two steps: call, result, answer)', async () => {
  let calls = 0;
  const r = await generateText({
    model,
    prompt: 'What is the weather in Oslo?\n#sim: tool=get_weather',
    tools: {
      get_weather: tool({
        description: 'Current weather for a city',
        inputSchema: z.object({ city: z.string() }),
        execute: async ({ city }) => { calls++; return { city, temperature: 21 }; },
      }),
    },
    stopWhen: stepCountIs(2),
  });
  assert(calls === 1, `the tool ran ${calls} times`);
  assert(r.steps.length === 2 && r.text.length > 0, `${r.steps.length} steps, text ${JSON.stringify(r.text)}`);
  return `${r.steps.length} steps`;
});

await check('generateObject (json_schema)', async () => {
  const r = await generateObject({ model, schema: z.object({ name: z.string() }), prompt: 'Describe a city as JSON.' });
  assert(typeof r.object.name === 'string', `object ${JSON.stringify(r.object)}`);
  return JSON.stringify(r.object).slice(0, 60);
});

await check('previous_response_id chain', async () => {
  const first = await generateText({ model, prompt: 'My name is Ada.' });
  const second = await generateText({
    model, prompt: 'What is my name?',
    providerOptions: { openai: { previousResponseId: first.response.id } },
  });
  assert(second.usage.inputTokens > first.usage.inputTokens, 'the history did not reach the model');
  return `${first.usage.inputTokens} then ${second.usage.inputTokens} input tokens`;
});

await check('a built-in tool is a clear 400', async () => {
  try {
    await generateText({ model, prompt: 'hi', tools: { web_search: openai.tools.webSearch({}) } });
  } catch (err) {
    assert(err.statusCode === 400 && /built-in tool/.test(err.responseBody ?? err.message), `${err.statusCode} ${err.responseBody}`);
    return 'refused';
  }
  throw new Error('accepted');
});

process.exit(failed ? 1 : 0);
