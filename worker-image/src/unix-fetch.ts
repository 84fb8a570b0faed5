/**
 * A `fetch` that sends every request to an HTTP server on a unix socket, whatever the URL's
 * host: the worker reaches the runner's model proxy this way, with no network at all. Built
 * on node:http (no extra dependency); streams the response body, honours the abort signal,
 * and asks for no content encoding.
 */
import { request } from "node:http";
import { Readable } from "node:stream";

type FetchInput = string | URL | Request;

async function bodyOf(init: RequestInit | undefined, input: FetchInput): Promise<Buffer | undefined> {
  const body = init?.body ?? (input instanceof Request ? input.body : undefined);
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string") return Buffer.from(body);
  return Buffer.from(await new Response(body as ConstructorParameters<typeof Response>[0]).arrayBuffer());
}

export function unixSocketFetch(socketPath: string): typeof fetch {
  return (async (input: FetchInput, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = new Headers(input instanceof Request ? input.headers : undefined);
    new Headers(init?.headers).forEach((value, key) => headers.set(key, value));
    headers.set("accept-encoding", "identity");
    const body = await bodyOf(init, input);
    if (body !== undefined) headers.set("content-length", String(body.byteLength));
    const signal = init?.signal ?? undefined;
    signal?.throwIfAborted();
    return new Promise<Response>((resolve, reject) => {
      const req = request(
        { socketPath, path: `${url.pathname}${url.search}`, method: init?.method ?? (input instanceof Request ? input.method : "GET"), headers: Object.fromEntries(headers), signal },
        (res) => {
          const responseHeaders = new Headers();
          for (const [key, value] of Object.entries(res.headers)) {
            if (value === undefined) continue;
            for (const v of Array.isArray(value) ? value : [value]) responseHeaders.append(key, v);
          }
          const status = res.statusCode ?? 502;
          const noBody = status === 204 || status === 304 || init?.method === "HEAD";
          if (noBody) res.resume();
          resolve(new Response(noBody ? null : (Readable.toWeb(res) as ReadableStream), { status, statusText: res.statusMessage ?? "", headers: responseHeaders }));
        },
      );
      req.on("error", (err) => reject(signal?.aborted ? signal.reason : new TypeError(`fetch failed: ${err.message} (model proxy socket ${socketPath})`, { cause: err })));
      req.end(body);
    });
  }) as typeof fetch;
}
