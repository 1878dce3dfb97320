/**
 * Local generation with the engine, no queue or edge:
 *   npm run generate -- --model <dir> --prompt <text> --max-tokens N --seed S [--strategy first_hitting|ddpm|confidence]
 *     [--steps K] [--temperature T] [--top-p P] [--threshold C] [--stop S]... [--dtype float32|float16]
 *     [--ep cpu,cuda] [--threads N] [--json]
 * Blocks stream to stdout as they complete, with a progress bar on stderr. With --json, one object is printed
 * at the end: text, num_tokens, num_blocks, finish_reason, tokens_per_second, forwards.
 */
import { parseArgs } from "node:util";
import { SamplingParamsSchema } from "@bd3-serve/shared";
import { SingleBar } from "cli-progress";
import { createEngine } from "../engine/index.ts";
import type { BlockOutput, ExecutionProviderName } from "../engine/types.ts";

const USAGE =
  "usage: npm run generate -- --model <dir> --prompt <text> [--max-tokens N] [--seed S] [--strategy first_hitting|ddpm|confidence] [--steps K] [--temperature T] [--top-p P] [--threshold C] [--stop S] [--dtype float32|float16] [--ep cpu,cuda] [--threads N] [--json]";

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function numberOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) fail(`--${name} must be a number, got "${value}"`);
  return parsed;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: "string" },
      prompt: { type: "string" },
      "max-tokens": { type: "string" },
      seed: { type: "string" },
      strategy: { type: "string" },
      steps: { type: "string" },
      temperature: { type: "string" },
      "top-p": { type: "string" },
      threshold: { type: "string" },
      stop: { type: "string", multiple: true },
      dtype: { type: "string" },
      ep: { type: "string" },
      threads: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!values.model) fail("--model is required");
  if (values.prompt === undefined) fail("--prompt is required");
  const parsed = SamplingParamsSchema.safeParse({
    max_tokens: numberOption(values["max-tokens"], "max-tokens"),
    temperature: numberOption(values.temperature, "temperature"),
    top_p: numberOption(values["top-p"], "top-p"),
    strategy: values.strategy,
    steps_per_block: numberOption(values.steps, "steps"),
    confidence_threshold: numberOption(values.threshold, "threshold"),
    seed: numberOption(values.seed, "seed"),
    stop: values.stop,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail(`invalid option ${issue?.path.join(".")}: ${issue?.message}`);
  }
  const dtype = values.dtype ?? "float32";
  if (dtype !== "float32" && dtype !== "float16") fail(`--dtype must be float32 or float16`);
  const executionProviders = (values.ep ?? "cpu").split(",").map((name) => name.trim()) as ExecutionProviderName[];
  const seed = parsed.data.seed ?? Math.floor(Math.random() * 2 ** 32);
  const logger = {
    info: () => {},
    warn: (obj: object, msg?: string) => process.stderr.write(`warn: ${msg ?? ""} ${JSON.stringify(obj)}\n`),
  };
  const threads = numberOption(values.threads, "threads");
  const engine = await createEngine({
    modelDir: values.model,
    dtype,
    executionProviders,
    maxBatchSize: 1,
    logger,
    ...(threads ? { intraOpNumThreads: threads } : {}),
  });
  const requestId = "cli";
  const admitted = engine.addRequest({ requestId, prompt: values.prompt, params: { ...parsed.data, seed } });
  if (admitted.status === "rejected") fail(`request rejected: ${admitted.reason}`);

  const maxTokens = parsed.data.max_tokens;
  const bar = new SingleBar({
    format: "{bar} {value}/{total} tokens | {rate} tok/s | {forwards} forwards",
    stream: process.stderr,
    hideCursor: true,
  });
  if (!values.json || process.stderr.isTTY) bar.start(maxTokens, 0, { rate: "0.0", forwards: 0 });
  const blocks: BlockOutput[] = [];
  const startedAt = performance.now();
  let tokens = 0;
  while (engine.hasWork()) {
    for (const block of await engine.step()) {
      blocks.push(block);
      tokens += block.tokenIds.length;
      if (!values.json) process.stdout.write(block.text);
    }
    const seconds = (performance.now() - startedAt) / 1_000;
    bar.update(tokens, {
      rate: (tokens / Math.max(seconds, 1e-9)).toFixed(1),
      forwards: engine.usage(requestId)?.forwards ?? 0,
    });
  }
  const seconds = (performance.now() - startedAt) / 1_000;
  bar.stop();
  const usage = engine.usage(requestId);
  await engine.close();
  const last = blocks.at(-1);
  if (last?.finishReason === "error") process.stderr.write(`error: ${last.errorMessage ?? "forward failed"}\n`);
  if (values.json) {
    const result = {
      text: blocks.map((block) => block.text).join(""),
      num_tokens: tokens,
      num_blocks: blocks.length,
      finish_reason: last?.finishReason ?? null,
      tokens_per_second: Number((tokens / seconds).toFixed(3)),
      forwards: usage?.forwards ?? 0,
      seed,
      execution_provider: engine.executionProvider,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    process.stdout.write("\n");
    process.stderr.write(
      `${tokens} tokens, ${blocks.length} blocks, ${(tokens / seconds).toFixed(1)} tok/s, ${usage?.forwards ?? 0} forwards, finish: ${last?.finishReason ?? "none"}, seed ${seed}\n`,
    );
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
