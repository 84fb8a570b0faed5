/**
 * A task's artifacts in R2, all under its prefix (`artifactPrefix`): listed with their size
 * and SHA-256 for an export, and deleted with the task. Listing and deleting page through
 * R2 a bounded number of times (a task has few artifacts; the bound only stops a runaway).
 */
import type { ArtifactEntry } from "../../shared/index.ts";

/** R2 lists and deletes at most 1000 keys a call. */
const PAGE = 1000;
const MAX_PAGES = 100;

/** Every artifact under `prefix`, by name, each with the SHA-256 of its bytes and its media type. */
export async function listArtifacts(bucket: R2Bucket, prefix: string): Promise<ArtifactEntry[]> {
  const entries: ArtifactEntry[] = [];
  for (const key of await listKeys(bucket, prefix)) {
    const object = await bucket.get(key);
    if (!object) continue;
    entries.push({
      name: key.slice(prefix.length),
      size: object.size,
      sha256: await sha256Hex(object.body),
      contentType: object.httpMetadata?.contentType ?? "application/octet-stream",
    });
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Deletes every object under `prefix`. */
export async function deleteArtifacts(bucket: R2Bucket, prefix: string): Promise<void> {
  for (let page = 0; page < MAX_PAGES; page++) {
    const listed = await bucket.list({ prefix, limit: PAGE });
    if (listed.objects.length === 0) return;
    await bucket.delete(listed.objects.map((o) => o.key));
  }
  throw new Error(`more than ${PAGE * MAX_PAGES} artifacts under ${prefix}`);
}

/** The SHA-256 of a stream of bytes, as lowercase hex. */
export async function sha256Hex(body: ReadableStream<Uint8Array> | Uint8Array): Promise<string> {
  const digest = new crypto.DigestStream("SHA-256");
  if (body instanceof Uint8Array) {
    const writer = digest.getWriter();
    await writer.write(body);
    await writer.close();
  } else {
    await body.pipeTo(digest);
  }
  return [...new Uint8Array(await digest.digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function listKeys(bucket: R2Bucket, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const listed = await bucket.list({ prefix, limit: PAGE, ...(cursor ? { cursor } : {}) });
    keys.push(...listed.objects.map((o) => o.key));
    if (!listed.truncated) return keys;
    cursor = listed.cursor;
  }
  throw new Error(`more than ${PAGE * MAX_PAGES} artifacts under ${prefix}`);
}
