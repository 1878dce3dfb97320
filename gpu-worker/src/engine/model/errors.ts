/** A model package the engine cannot run; the message names the offending manifest field or file. */
export class ModelPackageError extends Error {
  override readonly name = "ModelPackageError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
