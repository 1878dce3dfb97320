/**
 * The worker's HTTP side door: `/metrics` (Prometheus text), `/healthz` (the process is alive and its engine
 * is not broken: restart it otherwise) and `/readyz` (model loaded, queue reachable, not draining: take jobs).
 * Both bodies name the execution provider the model runs on once it is loaded (`execution_provider`).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface HealthState {
  isModelLoaded: boolean;
  isQueueReachable: boolean;
  isDraining: boolean;
  /** Set when the engine failed repeatedly; /healthz turns 503 so an orchestrator restarts the worker. */
  brokenReason: string | undefined;
  /** The execution provider the model session came up on (`cuda`, `webgpu`, `cpu`); unset while it loads. */
  executionProvider?: string | undefined;
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHealthServer(options: {
  port: number;
  host: string;
  registry: Registry;
  state: () => HealthState;
}): Promise<HealthServer> {
  const { registry, state } = options;
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    if (request.method !== "GET" && request.method !== "HEAD") {
      reply(405, { error: "method not allowed" });
      return;
    }
    if (path === "/metrics") {
      registry
        .metrics()
        .then((text) => {
          response.writeHead(200, { "content-type": registry.contentType });
          response.end(text);
        })
        .catch((error: unknown) => reply(500, { error: String(error) }));
      return;
    }
    const current = state();
    const provider = current.executionProvider !== undefined ? { execution_provider: current.executionProvider } : {};
    if (path === "/healthz") {
      if (current.brokenReason !== undefined) {
        reply(503, { status: "broken", reason: current.brokenReason, ...provider });
      } else reply(200, { status: "ok", ...provider });
      return;
    }
    if (path === "/readyz") {
      const checks = {
        model_loaded: current.isModelLoaded,
        queue_reachable: current.isQueueReachable,
        accepting_jobs: !current.isDraining,
      };
      const isReady = Object.values(checks).every(Boolean);
      reply(isReady ? 200 : 503, { status: isReady ? "ready" : "not_ready", checks, ...provider });
      return;
    }
    reply(404, { error: "not found" });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
