/**
 * The WebSocket contract beside the frame schemas (`protocol.ts`): the subprotocol a client
 * offers, the ping and pong texts, the close codes, and the timing of heartbeats, leases and
 * accepts. The edge, the runner and the client SDK read these names; none of them writes the
 * numbers or texts out.
 */

/** The one subprotocol the edge selects; a client that offers any must offer this. */
export const SUBPROTOCOL = "tether.v1";
/** A browser offers its user token as the subprotocol `bearer.<jwt>` beside `SUBPROTOCOL`. */
export const BEARER_SUBPROTOCOL_PREFIX = "bearer.";

/**
 * The exact ping text every client sends. The edge's Durable Objects answer it with
 * `PONG_TEXT` through the runtime's auto-response, without waking up; any other spelling of
 * a ping frame reaches the object and gets the same answer.
 */
export const PING_TEXT = '{"type":"ping"}';
export const PONG_TEXT = '{"type":"pong"}';

/**
 * Close codes the edge sends. A runner stops a socket closed with `Revoked`, `Replaced` or
 * `Gone` for good; after `Resync` it attaches again and resends.
 */
export const CloseCode = {
  /** The normal end; also the answer to a peer's close that carried no code. */
  Normal: 1000,
  /** The runner was deleted (its credential is void), or it holds no lease of the task. */
  Revoked: 4403,
  /** Events left a gap the room could not hold: attach again and resend after `ackedRseq`. */
  Resync: 4408,
  /** A newer connection (control socket) or a newer epoch or data socket took this one's place. */
  Replaced: 4409,
  /** The task ended from the edge: lost (its runner was silent for the grace), or failed at its event cap. */
  Gone: 4410,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Codes a WebSocket reports but no endpoint may send: no code in the close (1005), the connection dropped (1006). */
export const CLOSE_NO_STATUS = 1005;
export const CLOSE_ABNORMAL = 1006;

/** Close codes after which a runner's data socket does not reconnect. */
export const DATA_FATAL_CLOSE_CODES: readonly number[] = [CloseCode.Revoked, CloseCode.Replaced, CloseCode.Gone];

/**
 * The code to close with when answering a peer's close: its own, unless it is one that may
 * not be sent (`CLOSE_NO_STATUS`, `CLOSE_ABNORMAL`, or out of range), then `Normal`.
 */
export function answerCloseCode(code: number): number {
  return code >= 1000 && code < 5000 && code !== CLOSE_NO_STATUS && code !== CLOSE_ABNORMAL ? code : CloseCode.Normal;
}

/** How often a runner says `heartbeat` on its control socket (the edge says so in `welcome`). */
export const HEARTBEAT_SECONDS = 20;
/** A peer silent for this many heartbeat intervals counts as gone, even if its socket looks open. */
export const SILENT_HEARTBEATS = 3;
/**
 * The lease a runner gets with an assignment; its heartbeats and data frames renew it. A
 * runner silent this long is unreachable: its task waits for it.
 */
export const LEASE_SECONDS = 90;
/**
 * A task whose runner stays silent this long (from its last sign of life) ends `lost`; the
 * edge's `RUNNER_GRACE_SECONDS` changes it. Until then the runner may come back and resume.
 */
export const RUNNER_GRACE_SECONDS = 30 * 60;
/** How long a runner has to answer an assignment with `accept`. */
export const ACCEPT_SECONDS = 15;
