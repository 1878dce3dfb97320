/**
 * Starts reference-server.ts as a child process and waits for the JSON line with its URL. The child's stdin is
 * a pipe held by this process, so the server exits with it even when this process dies without cleaning up.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";

const REPO_ROOT = join(import.meta.dirname, "../..");
const SCRIPT = join(import.meta.dirname, "reference-server.ts");
/** tsx's start plus the server's, on two busy cores. */
const START_TIMEOUT_MS = 30_000;

export interface ReferenceServer {
  url: string;
  /** SIGTERM, then SIGKILL if it is still there after a moment; resolves once it has exited. */
  stop(): Promise<void>;
}

export async function startReferenceServer(options: { longPollTimeoutMs: number }): Promise<ReferenceServer> {
  const child = spawn(process.execPath, ["--import", "tsx", SCRIPT], {
    cwd: REPO_ROOT,
    env: { ...process.env, DS_REFERENCE_LONG_POLL_TIMEOUT_MS: String(options.longPollTimeoutMs) },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-10_000);
  });
  const exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const killTimer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(killTimer);
  };

  try {
    const url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error("the reference server did not start in time")), START_TIMEOUT_MS);
      const lines = createInterface({ input: child.stdout });
      lines.once("line", (line) => {
        clearTimeout(timer);
        try {
          resolveUrl((JSON.parse(line) as { url: string }).url);
        } catch {
          reject(new Error(`the reference server printed ${JSON.stringify(line)}, not its URL`));
        }
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the reference server exited (${code ?? signal}) before it started: ${stderr}`));
      });
    });
    return { url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
