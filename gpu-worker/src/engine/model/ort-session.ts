/**
 * The onnxruntime session of a package: execution providers tried in preference order (each miss logged), and
 * the graph checked against the manifest at load (input and output names here; element types and fixed
 * dimensions in graph-signature.ts), naming the field that differs.
 */
import type { ModelManifest } from "@bd3-serve/shared";
import * as ort from "onnxruntime-node";
import type { KvDtype } from "../kv/layout.ts";
import type { ExecutionProviderName } from "../types.ts";
import { ModelPackageError } from "./errors.ts";
import { checkGraphSignature } from "./graph-signature.ts";
import type { ModelPackage } from "./model-package.ts";
import type { OrtRunnerOptions } from "./ort-options.ts";

export async function createSession(
  pkg: ModelPackage,
  options: OrtRunnerOptions,
): Promise<{ session: ort.InferenceSession; provider: ExecutionProviderName }> {
  const failures: string[] = [];
  const preference: ExecutionProviderName[] =
    options.executionProviders.length > 0 ? options.executionProviders : ["cpu"];
  for (const [index, provider] of preference.entries()) {
    try {
      const session = await ort.InferenceSession.create(pkg.graphPath, {
        executionProviders: [provider],
        graphOptimizationLevel: "all",
        executionMode: "sequential",
        interOpNumThreads: 1,
        ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
        extra: { session: { intra_op: { allow_spinning: options.allowSpinning ? "1" : "0" } } },
      });
      return { session, provider };
    } catch (error) {
      const message = (error as Error).message.split("\n")[0] ?? String(error);
      failures.push(`${provider}: ${message}`);
      const next = preference[index + 1];
      options.logger.warn(
        { executionProvider: provider, fallback: next ?? null, error: message },
        next
          ? `execution provider ${provider} unavailable, falling back to ${next}`
          : `execution provider ${provider} unavailable`,
      );
    }
  }
  throw new ModelPackageError(`no execution provider could run ${pkg.graphPath}: ${failures.join("; ")}`);
}

/** The graph against the manifest: every refusal names the manifest field; `file` names the graph. */
export function checkGraph(
  session: ort.InferenceSession,
  manifest: ModelManifest,
  dtype: KvDtype,
  file?: string,
): void {
  const { inputs, outputs } = manifest.io;
  for (const field of ["input_ids", "past_key", "past_value"] as const) {
    if (!session.inputNames.includes(inputs[field])) {
      throw new ModelPackageError(`manifest field "io.inputs.${field}": the graph has no input "${inputs[field]}"`);
    }
  }
  for (const field of ["logits", "present_key", "present_value"] as const) {
    if (!session.outputNames.includes(outputs[field])) {
      throw new ModelPackageError(`manifest field "io.outputs.${field}": the graph has no output "${outputs[field]}"`);
    }
  }
  if (inputs.logit_index !== undefined) {
    if (!session.inputNames.includes(inputs.logit_index)) {
      throw new ModelPackageError(
        `manifest field "io.inputs.logit_index": the graph has no input "${inputs.logit_index}"`,
      );
    }
    const index = session.inputMetadata.find((meta) => meta.name === inputs.logit_index);
    if (index?.isTensor && index.shape.length !== 1) {
      throw new ModelPackageError(
        `manifest field "io.inputs.logit_index": the graph takes it with ${index.shape.length} dimensions, the engine ` +
          "feeds flat indices [M] (a package exported before logit_index was flat: export it again)",
      );
    }
  }
  if (outputs.logit_stats !== undefined && !session.outputNames.includes(outputs.logit_stats)) {
    throw new ModelPackageError(
      `manifest field "io.outputs.logit_stats": the graph has no output "${outputs.logit_stats}"`,
    );
  }
  const named = new Set<string>(Object.values(inputs));
  const unnamed = session.inputNames.filter((name) => !named.has(name));
  if (unnamed.length > 0) {
    throw new ModelPackageError(
      `manifest field "io.inputs": the graph has inputs the manifest does not name (${unnamed.join(", ")})`,
    );
  }
  // Names agree: now the element types and the fixed dimensions (layers, heads, head dim, vocabulary).
  checkGraphSignature(session, manifest, dtype, file);
}
