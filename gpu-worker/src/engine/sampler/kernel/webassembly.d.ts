/**
 * The part of the WebAssembly JavaScript API the kernels use. TypeScript declares it only in the DOM library
 * (which would bring browser globals into the worker) and @types/node 20 does not declare it at all.
 */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer);
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(deltaPages: number): number;
  }
}
