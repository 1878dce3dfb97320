import type { JobStatus } from "@bd3-serve/shared";
import type { Command } from "commander";
import { clientFromEnv } from "../env.ts";
import { describeJob, exitCodeOf, printJson } from "../output.ts";
import { intOption, statusOption } from "../parse-options.ts";

interface JsonOption {
  json?: boolean;
}

function show(view: Parameters<typeof describeJob>[0], options: JsonOption): void {
  if (options.json) printJson(view);
  else process.stdout.write(describeJob(view));
}

/** `bd3 get|wait|cancel ID` and `bd3 list`. */
export function registerJobCommands(program: Command, setExitCode: (code: number) => void): void {
  program
    .command("get")
    .description("show a generation (--json: the whole view, text included)")
    .argument("<id>")
    .option("--json", "print the view as one JSON line")
    .action(async (id: string, options: JsonOption) => {
      show(await clientFromEnv().get(id), options);
    });

  program
    .command("wait")
    .description("wait until a generation is finished; exit status 0 when it succeeded")
    .argument("<id>")
    .option("--timeout <seconds>", "give up after this long (default 600)", intOption(1))
    .option("--json", "print the finished view as one JSON line")
    .action(async (id: string, options: JsonOption & { timeout?: number }) => {
      const view = await clientFromEnv().wait(id, { timeoutMs: (options.timeout ?? 600) * 1_000 });
      show(view, options);
      setExitCode(exitCodeOf(view));
    });

  program
    .command("cancel")
    .description("cancel a generation (idempotent)")
    .argument("<id>")
    .option("--json", "print the view as one JSON line")
    .action(async (id: string, options: JsonOption) => {
      show(await clientFromEnv().cancel(id), options);
    });

  program
    .command("list")
    .description("list generations, newest first")
    .option("--status <status>", "only generations in this status", statusOption)
    .option("--limit <n>", "at most this many (default 20)", intOption(1))
    .option("--json", "one JSON line per generation")
    .action(async (options: JsonOption & { status?: JobStatus; limit?: number }) => {
      const max = options.limit ?? 20;
      const client = clientFromEnv();
      let count = 0;
      const pages = client.list({
        limit: Math.min(100, max),
        ...(options.status === undefined ? {} : { status: options.status }),
      });
      for await (const job of pages) {
        if (options.json) printJson(job);
        else {
          const progress = `${job.progress.blocks} blocks`.padEnd(12);
          process.stdout.write(`${job.id}  ${job.status.padEnd(9)}  ${progress}  ${job.created_at}\n`);
        }
        if (++count >= max) break;
      }
    });
}
