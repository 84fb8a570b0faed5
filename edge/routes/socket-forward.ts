/**
 * Hands an authenticated WebSocket upgrade to a Durable Object (internal to edge/).
 *
 * The DO learns who is calling only from `x-tether-*` headers the Worker sets here (any a
 * client sent are dropped). The credential itself does not travel on: `Authorization` is
 * removed and an offered `bearer.<jwt>` subprotocol is narrowed to `SUBPROTOCOL`, the one
 * protocol the 101 answer selects.
 */
import { ErrorCode, SUBPROTOCOL } from "../../shared/index.ts";
import { fail } from "../http-error.ts";
import { offeredProtocols } from "../auth/index.ts";

export function requireUpgrade(req: Request): void {
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    throw fail(ErrorCode.BadRequest, "this route takes a WebSocket upgrade (Upgrade: websocket)", 426);
  }
}

export async function forwardSocket(
  stub: { fetch(req: Request): Promise<Response> },
  url: string,
  req: Request,
  identity: Record<string, string>,
): Promise<Response> {
  requireUpgrade(req);
  const headers = new Headers(req.headers);
  for (const name of [...headers.keys()]) {
    if (name.startsWith("x-tether-")) headers.delete(name);
  }
  headers.delete("authorization");
  const offered = offeredProtocols(req);
  if (offered.length > 0) {
    if (!offered.includes(SUBPROTOCOL)) throw fail(ErrorCode.BadRequest, `offer the ${SUBPROTOCOL} subprotocol`);
    headers.set("sec-websocket-protocol", SUBPROTOCOL);
  } else {
    // An empty or blank offer is no offer: the answer must then select none.
    headers.delete("sec-websocket-protocol");
  }
  for (const [name, value] of Object.entries(identity)) headers.set(name, value);
  const res = await stub.fetch(new Request(url, { method: "GET", headers }));
  if (res.status === 101 && offered.length > 0 && res.headers.get("sec-websocket-protocol") !== SUBPROTOCOL) {
    const out = new Headers(res.headers);
    out.set("sec-websocket-protocol", SUBPROTOCOL);
    return new Response(null, { status: 101, headers: out, webSocket: res.webSocket });
  }
  return res;
}
