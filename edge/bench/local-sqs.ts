import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

const READY_TIMEOUT_MS = 15_000;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** fauxqs (local SQS) in a child process with one queue; resolves once it answers its health check. */
export async function startLocalSqs(
  workDir: string,
  queueName: string,
): Promise<{ endpoint: string; queueUrl: string; pids: number[]; stop: () => void }> {
  const port = await freePort();
  const init = join(workDir, "fauxqs-init.json");
  writeFileSync(init, JSON.stringify({ queues: [{ name: queueName }] }));
  const cli = join(import.meta.dirname, "..", "..", "node_modules", "fauxqs", "dist", "cli.js");
  const child: ChildProcess = spawn(process.execPath, [cli], {
    env: { ...process.env, FAUXQS_PORT: String(port), FAUXQS_INIT: init, FAUXQS_LOGGER: "false" },
    stdio: "ignore",
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    try {
      if ((await fetch(`${endpoint}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error("fauxqs did not start");
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    endpoint,
    queueUrl: `http://sqs.us-east-1.localhost:${port}/000000000000/${queueName}`,
    pids: child.pid === undefined ? [] : [child.pid],
    stop: () => child.kill(),
  };
}
