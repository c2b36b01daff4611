/**
 * The one error class of the project. `code` is stable and machine-readable (the CLI maps codes to exit
 * codes); `message` says what went wrong, where, and what to do.
 */
export class DepError extends Error {
  readonly code: string;
  override readonly cause?: unknown;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = "DepError";
    this.code = code;
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** Re-throws a native error (which carries `code`) as a DepError, keeping the original as cause. */
export function fromNative(err: unknown): DepError {
  if (err instanceof DepError) return err;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === "string" ? e.code : "DEP_NATIVE";
  const message = typeof e?.message === "string" ? e.message : String(err);
  return new DepError(code, message, { cause: err });
}
