/**
 * Uploads a task artifact to the edge: `PUT {edge}/v1/runner/tasks/:id/artifacts/:name?epoch=N`
 * with the runner credential; the edge answers 201 once it is stored.
 */
import { LIMITS } from "../../shared/limits.ts";
import type { ArtifactPort, Result } from "../ports.ts";

export class EdgeArtifacts implements ArtifactPort {
  constructor(
    private readonly edgeURL: string,
    private readonly credential: string,
    private readonly timeoutMs = 60_000,
  ) {}

  async upload(taskID: string, epoch: number, name: string, body: string): Promise<Result> {
    const bytes = Buffer.byteLength(body);
    if (bytes > LIMITS.maxArtifactBytes) {
      return { ok: false, error: `${name} is ${bytes} bytes, over the ${LIMITS.maxArtifactBytes} byte artifact limit` };
    }
    const url = new URL(`/v1/runner/tasks/${encodeURIComponent(taskID)}/artifacts/${encodeURIComponent(name)}`, this.edgeURL);
    url.searchParams.set("epoch", String(epoch));
    try {
      const res = await fetch(url, {
        method: "PUT",
        headers: { Authorization: `Bearer ${this.credential}`, "Content-Type": "text/x-diff; charset=utf-8" },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (res.ok) {
        await res.body?.cancel();
        return { ok: true, value: undefined };
      }
      const text = (await res.text()).slice(0, 500);
      return { ok: false, error: `the edge answered ${res.status} to the ${name} upload: ${text}` };
    } catch (err) {
      return { ok: false, error: `the ${name} upload failed: ${(err as Error).message}` };
    }
  }
}
