import type { Command } from "commander";
import { clientFromEnv } from "../env.ts";
import { exitCodeOf, printJson } from "../output.ts";
import { intOption } from "../parse-options.ts";

interface StreamCommandOptions {
  after?: number;
  json?: boolean;
}

/** `bd3 stream ID [--after N]`: the text from block N+1 on, live, to the end (resumes across drops). */
export function registerStream(program: Command, setExitCode: (code: number) => void): void {
  program
    .command("stream")
    .description("print a generation's text as its blocks arrive, to the end")
    .argument("<id>")
    .option("--after <index>", "start after this block index (-1: from the start)", intOption(-1))
    .option("--json", "one JSON line per event: each block, then the done summary")
    .action(async (id: string, options: StreamCommandOptions) => {
      const client = clientFromEnv();
      let endsWithNewline = true;
      for await (const event of client.stream(id, { after: options.after ?? -1 })) {
        if (options.json) {
          printJson(event);
        } else if (event.type === "block") {
          process.stdout.write(event.block.text);
          if (event.block.text !== "") endsWithNewline = event.block.text.endsWith("\n");
        }
        if (event.type === "done") {
          if (!options.json && !endsWithNewline && process.stdout.isTTY) process.stdout.write("\n");
          setExitCode(exitCodeOf(event.generation));
        }
      }
    });
}
