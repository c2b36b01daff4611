// Every failed request gets OpenAI's error shape, {"error": {message, type, param, code}}, with the status
// of its class; nothing a client sends takes the process down.
import { DepError } from "@dep/native-cuda";
import type { z } from "zod";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  body() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const badRequest = (message: string, code: string | null = null, param: string | null = null) =>
  new HttpError(400, message, "invalid_request_error", code, param);

/** The first zod issue as a 400 naming the field. */
export function fromZod(error: z.ZodError): HttpError {
  const issue = error.issues[0]!;
  const param = issue.path.length > 0 ? issue.path.join(".") : null;
  return badRequest(`${param ?? "body"}: ${issue.message}`, "invalid_value", param);
}

const BY_CODE: Record<string, [number, string, string, string | null]> = {
  DEP_SERVE_UNKNOWN_USER: [404, "invalid_request_error", "user_not_found", "user"],
  DEP_SERVE_UNKNOWN_ITEM: [404, "invalid_request_error", "item_not_found", "dep.item"],
  DEP_SERVE_AMBIGUOUS_USER: [400, "invalid_request_error", "ambiguous_user", "dep.category"],
  DEP_SERVE_BAD_MARK: [400, "invalid_request_error", "invalid_value", "messages"],
  DEP_SERVE_CONFLICT: [409, "invalid_request_error", "conflict", null],
  DEP_SERVE_BUSY: [429, "rate_limit_error", "rate_limit_exceeded", null],
  DEP_USAGE: [400, "invalid_request_error", "invalid_value", null],
  DEP_INVALID_ARGUMENT: [400, "invalid_request_error", "invalid_value", null],
  DEP_PROMPT_TOO_LONG: [400, "invalid_request_error", "context_length_exceeded", "messages"],
};

/** Any error as an HttpError: DepErrors by their code, the rest as a 500 that says what happened. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof DepError) {
    const hit = BY_CODE[err.code];
    if (hit) {
      const [status, type, code, param] = hit;
      return new HttpError(
        status,
        err.message,
        type,
        code,
        param,
        status === 429 ? { "retry-after": "1" } : {},
      );
    }
    return new HttpError(500, `${err.message} [${err.code}]`, "server_error", err.code.toLowerCase());
  }
  return new HttpError(500, err instanceof Error ? err.message : String(err), "server_error");
}
