/**
 * Ctrl-C during `bd3 generate`: the first SIGINT aborts the stream (the job keeps running on the server),
 * then, on a terminal, the user is asked whether to cancel the job or leave it running; elsewhere (a script,
 * CI) it is left running. Either way the id and the command to resume are printed on stderr.
 */
import { createInterface } from "node:readline/promises";

export type InterruptChoice = "cancel" | "leave";

/** Aborts `controller` on the first SIGINT; `dispose` stops listening. */
export function abortOnSigint(controller: AbortController): { wasInterrupted(): boolean; dispose(): void } {
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    controller.abort(new Error("interrupted"));
  };
  process.once("SIGINT", onSigint);
  return {
    wasInterrupted: () => interrupted,
    dispose: () => process.off("SIGINT", onSigint),
  };
}

export function isInteractive(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

/** Asks on the terminal; a second Ctrl-C or end of input means leave it running. */
export async function askCancelOrLeave(generationId: string): Promise<InterruptChoice> {
  if (!isInteractive()) return "leave";
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  const leave = new Promise<InterruptChoice>((resolve) => {
    prompt.once("SIGINT", () => resolve("leave"));
    prompt.once("close", () => resolve("leave"));
  });
  try {
    const answer = prompt
      .question(`\nCancel generation ${generationId}? [y] cancel it, [N] leave it running: `)
      .then((text): InterruptChoice => (/^\s*y(es)?\s*$/i.test(text) ? "cancel" : "leave"));
    return await Promise.race([answer, leave]);
  } finally {
    prompt.close();
  }
}

export function resumeHint(generationId: string, lastIndex: number): string {
  return `generation ${generationId} is still running; resume with: bd3 stream ${generationId} --after ${lastIndex} (or bd3 wait ${generationId})`;
}
