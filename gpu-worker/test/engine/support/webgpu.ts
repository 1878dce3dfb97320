/**
 * Whether onnxruntime's WebGPU execution provider runs here (a GPU, or Mesa's lavapipe from
 * scripts/webgpu/install-lavapipe.sh), and where it places a graph's nodes. CI installs lavapipe and sets
 * BD3_REQUIRE_WEBGPU=1, so there a missing WebGPU provider fails the tests instead of skipping them.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as ort from "onnxruntime-node";
import { pastUploadGraph } from "../../../src/engine/model/device-past.ts";

const workerRoot = fileURLToPath(new URL("../../../", import.meta.url));
/** ORT colours its warnings on a terminal-less stderr too (ESC [ ... m). */
const ANSI_COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

/** Null when a WebGPU session can be created here, else why not. */
export async function webgpuUnavailableReason(): Promise<string | null> {
  try {
    const session = await ort.InferenceSession.create(pastUploadGraph("float32"), { executionProviders: ["webgpu"] });
    await session.release();
    return null;
  } catch (error) {
    return (error as Error).message.split("\n")[0] ?? String(error);
  }
}

export const isWebgpuRequired = process.env.BD3_REQUIRE_WEBGPU === "1";

export interface NodePlacement {
  /** Nodes per execution provider, e.g. { WebGpuExecutionProvider: ["MatMul (/MatMul)", ...] }. */
  nodesByProvider: Record<string, string[]>;
  /** Tensors the session copies from the device to the host between nodes (MemcpyToHost). */
  copiedToHost: string[];
  /** Tensors copied from the host to the device between nodes (MemcpyFromHost). */
  copiedFromHost: string[];
}

/**
 * Creates a WebGPU session for `graphPath` in a child process with verbose logging (onnxruntime writes its log
 * to the process's stderr, which vitest cannot capture in-process) and reads ORT's placement report.
 */
export function webgpuPlacement(graphPath: string): NodePlacement {
  const script = `
    import * as ort from "onnxruntime-node";
    await ort.InferenceSession.create(${JSON.stringify(graphPath)}, {
      executionProviders: ["webgpu"], graphOptimizationLevel: "all", logSeverityLevel: 0, logVerbosityLevel: 0,
    });`;
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: workerRoot,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (child.status !== 0) throw new Error(`placement probe failed (${child.status}): ${child.stderr.slice(-2000)}`);
  const nodesByProvider: Record<string, string[]> = {};
  const copiedToHost: string[] = [];
  const copiedFromHost: string[] = [];
  const reportedCounts: Record<string, number> = {};
  let provider: string | null = null;
  for (const line of child.stderr.replace(ANSI_COLOUR, "").split("\n")) {
    const copy = /Add (MemcpyFromHost after|MemcpyToHost before) (\S+) for/.exec(line);
    if (copy) (copy[1]?.startsWith("MemcpyToHost") ? copiedToHost : copiedFromHost).push(copy[2] as string);
    const header = /Node\(s\) placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(line);
    if (header) {
      provider = header[1] as string;
      nodesByProvider[provider] = [];
      reportedCounts[provider] = Number(header[2]);
      continue;
    }
    const node = /VerifyEachNodeIsAssignedToAnEp\] {3}(.+)$/.exec(line);
    if (node && provider) nodesByProvider[provider]?.push(node[1] as string);
  }
  const counts = Object.fromEntries(Object.entries(nodesByProvider).map(([name, nodes]) => [name, nodes.length]));
  if (Object.keys(counts).length === 0 || JSON.stringify(counts) !== JSON.stringify(reportedCounts)) {
    throw new Error(
      `cannot read the placement report (read ${JSON.stringify(counts)}, reported ${JSON.stringify(reportedCounts)})`,
    );
  }
  return { nodesByProvider, copiedToHost, copiedFromHost };
}
