import type { CreateGenerationRequestInput, JobView, SamplingStrategy } from "@bd3-serve/shared";
import type { Command } from "commander";
import { AbortError } from "../../errors.ts";
import { clientFromEnv } from "../env.ts";
import { abortOnSigint, askCancelOrLeave, resumeHint } from "../interrupt.ts";
import { exitCodeOf, printJson } from "../output.ts";
import { intOption, strategyOption } from "../parse-options.ts";
import { ProgressDisplay } from "../progress.ts";
import { openTextSink } from "../text-sink.ts";

interface GenerateOptions {
  maxTokens: number;
  strategy?: SamplingStrategy;
  seed?: number;
  model?: string;
  idempotencyKey?: string;
  out?: string;
  json?: boolean;
}

/**
 * `bd3 generate "prompt" --max-tokens N`: creates the job, streams its text to stdout (or `--out`) with a
 * progress bar on stderr, and ends with the job's final status (`--json`: the finished view as one line).
 */
export function registerGenerate(program: Command, setExitCode: (code: number) => void): void {
  program
    .command("generate")
    .description("create a generation and print its text as the blocks arrive")
    .argument("<prompt>", "the start of the document")
    .requiredOption("--max-tokens <n>", "tokens to generate", intOption(1))
    .option("--strategy <name>", "first_hitting | ddpm | confidence", strategyOption)
    .option("--seed <n>", "sampling seed (the same seed gives the same text)", intOption(0))
    .option("--model <name>", "model name (default: the server's)")
    .option("--idempotency-key <key>", "Idempotency-Key (default: a random one)")
    .option("--out <file>", "write the text to this file instead of stdout")
    .option("--json", "print one JSON line at the end: the finished job (status, text, usage)")
    .action(async (prompt: string, options: GenerateOptions) => setExitCode(await generate(prompt, options)));
}

async function generate(prompt: string, options: GenerateOptions): Promise<number> {
  const client = clientFromEnv();
  const body: CreateGenerationRequestInput = {
    prompt,
    max_tokens: options.maxTokens,
    ...(options.strategy === undefined ? {} : { strategy: options.strategy }),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.model === undefined ? {} : { model: options.model }),
  };
  const created = await client.createGeneration(
    body,
    options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey },
  );
  process.stderr.write(`bd3: generation ${created.id} (${created.status})\n`);
  const sink = await openTextSink(options);
  const textGoesToTerminal = options.out === undefined && !options.json && process.stdout.isTTY === true;
  const progress = new ProgressDisplay({
    totalTokens: created.params.max_tokens,
    showBar: process.stderr.isTTY === true && !textGoesToTerminal,
  });
  const abort = new AbortController();
  const sigint = abortOnSigint(abort);
  let text = "";
  let lastIndex = -1;
  let tokens = 0;
  try {
    for await (const event of client.stream(created.id, {
      signal: abort.signal,
      onReconnect: ({ error, after }) => {
        progress.note("(reconnecting)");
        if (!process.stderr.isTTY) process.stderr.write(`bd3: ${error.message}; resuming after block ${after}\n`);
      },
    })) {
      if (event.type === "done") break;
      text += event.block.text;
      lastIndex = event.block.index;
      tokens += event.block.token_count;
      await sink.write(event.block.text);
      progress.update(lastIndex + 1, tokens);
    }
  } catch (error) {
    progress.stop();
    await sink.close();
    if (!(error instanceof AbortError && sigint.wasInterrupted())) throw error;
    return interrupted(created.id, lastIndex, options);
  } finally {
    sigint.dispose();
  }
  progress.stop();
  await sink.close();
  const finished = await client.get(created.id);
  if (textGoesToTerminal && !text.endsWith("\n")) process.stdout.write("\n");
  if (options.json) printJson({ ...finished, text: finished.text ?? text });
  else process.stderr.write(`bd3: ${finishedLine(finished)}; ${progress.summary()}\n`);
  return exitCodeOf(finished);
}

function finishedLine(job: JobView): string {
  const reason = job.finish_reason === null ? "" : ` (${job.finish_reason})`;
  const error = job.error === null ? "" : `: ${job.error.code}: ${job.error.message}`;
  return `generation ${job.id} ${job.status}${reason}${error}`;
}

async function interrupted(id: string, lastIndex: number, options: GenerateOptions): Promise<number> {
  const client = clientFromEnv();
  if ((await askCancelOrLeave(id)) === "cancel") {
    const view = await client.cancel(id);
    process.stderr.write(`bd3: cancel requested; generation ${id} is ${view.status}\n`);
    if (options.json) printJson(view);
  } else {
    process.stderr.write(`bd3: ${resumeHint(id, lastIndex)}\n`);
  }
  return 130;
}
