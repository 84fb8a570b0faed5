/**
 * The error every SDK call rejects with: the edge's `{ error: { code, message } }` when it
 * sent one, else a code the SDK chose (`network`, `invalid_response`).
 */
export class TetherError extends Error {
  override readonly name = "TetherError";

  constructor(
    /** The HTTP status, or 0 when no response came. */
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  /** True when retrying the same request cannot help (bad credential, missing task). */
  get fatal(): boolean {
    return this.status === 401 || this.status === 403 || this.status === 404;
  }
}
