/**
 * Fail closed on the wrong execution provider. The engine tries EXECUTION_PROVIDERS in order and falls back
 * (logging each miss) to the next one that loads; a GPU image on a node whose GPU did not come up (no driver,
 * no CUDA libraries, no device handed to the container) would then serve on the CPU at a fraction of the
 * speed while looking healthy. So when the providers asked for include a GPU one and the session came up on
 * the CPU, the worker refuses to start, unless ALLOW_CPU_FALLBACK=true says a CPU worker is what is wanted.
 */

/** Providers that run on the host's CPU; every other onnxruntime provider (cuda, webgpu, tensorrt, dml, ...) is a device. */
export const CPU_EXECUTION_PROVIDERS: ReadonlySet<string> = new Set(["cpu"]);

export function isGpuExecutionProvider(name: string): boolean {
  return !CPU_EXECUTION_PROVIDERS.has(name);
}

/** The worker must not start: EXECUTION_PROVIDERS asked for a GPU and the session runs on the CPU. */
export class ExecutionProviderError extends Error {
  override name = "ExecutionProviderError";
  constructor(
    message: string,
    readonly asked: readonly string[],
    readonly active: string,
  ) {
    super(message);
  }
}

export interface ExecutionProviderCheck {
  /** EXECUTION_PROVIDERS, in preference order. */
  asked: readonly string[];
  /** The provider the session came up on (`engine.executionProvider`). */
  active: string;
  /** ALLOW_CPU_FALLBACK. */
  allowCpuFallback: boolean;
}

/**
 * Throws `ExecutionProviderError` when a GPU provider was asked for and only the CPU came up; returns whether
 * the worker serves on a fallback (a provider other than the first asked for), for the start-up log.
 * @example
 * checkExecutionProvider({ asked: ["cuda", "cpu"], active: "cpu", allowCpuFallback: false }); // throws
 */
export function checkExecutionProvider(check: ExecutionProviderCheck): { isFallback: boolean } {
  const { asked, active, allowCpuFallback } = check;
  const gpus = asked.filter(isGpuExecutionProvider);
  if (gpus.length > 0 && !isGpuExecutionProvider(active) && !allowCpuFallback) {
    throw new ExecutionProviderError(
      `EXECUTION_PROVIDERS=${asked.join(",")} asks for a GPU provider (${gpus.join(", ")}) but the model session ` +
        `came up on the ${active} provider only: refusing to serve on the CPU. Make the GPU visible to this ` +
        "process (driver, CUDA/Vulkan libraries, the device in the container), or ask for the CPU explicitly " +
        "(EXECUTION_PROVIDERS=cpu), or set ALLOW_CPU_FALLBACK=true to serve on the CPU anyway.",
      asked,
      active,
    );
  }
  return { isFallback: asked[0] !== active };
}
