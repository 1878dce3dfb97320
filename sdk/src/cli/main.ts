import { Command } from "commander";
import { registerGenerate } from "./commands/generate.ts";
import { registerJobCommands } from "./commands/jobs.ts";
import { registerKeyCommands } from "./commands/keys.ts";
import { registerStream } from "./commands/stream.ts";
import { reportError } from "./output.ts";

/** The `bd3` program; resolves with the exit status (the bin sets it; nothing here calls process.exit). */
export async function main(argv: readonly string[]): Promise<number> {
  let exitCode = 0;
  const setExitCode = (code: number) => {
    exitCode = code;
  };
  const program = new Command()
    .name("bd3")
    .description("bd3-serve from the command line (BD3_API_URL and BD3_API_KEY from the environment)")
    .showHelpAfterError("(bd3 --help, or bd3 <command> --help, for usage)")
    .exitOverride();
  registerGenerate(program, setExitCode);
  registerStream(program, setExitCode);
  registerJobCommands(program, setExitCode);
  registerKeyCommands(program);
  try {
    await program.parseAsync([...argv]);
    return exitCode;
  } catch (error) {
    // commander's own exits: help (0), or a usage error it already printed (2, as is usual for usage)
    if (isCommanderExit(error)) return error.exitCode === 0 ? 0 : 2;
    return reportError(error);
  }
}

function isCommanderExit(error: unknown): error is { exitCode: number; code: string } {
  return (
    typeof error === "object" &&
    error !== null &&
    "code" in error &&
    typeof error.code === "string" &&
    error.code.startsWith("commander.") &&
    "exitCode" in error &&
    typeof error.exitCode === "number"
  );
}
