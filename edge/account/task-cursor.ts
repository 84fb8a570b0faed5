/**
 * The opaque cursor of `GET /v1/tasks`: base64url of `[createdAt, id]` of the last task of a page.
 */
export type TaskCursor = { createdAt: string; id: string };

export function encodeCursor(c: TaskCursor): string {
  return btoa(JSON.stringify([c.createdAt, c.id])).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeCursor(text: string): TaskCursor | null {
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(text)) return null;
  try {
    const value: unknown = JSON.parse(atob(text.replace(/-/g, "+").replace(/_/g, "/")));
    if (!Array.isArray(value) || value.length !== 2) return null;
    const [createdAt, id] = value as unknown[];
    if (typeof createdAt !== "string" || typeof id !== "string") return null;
    return { createdAt, id };
  } catch {
    return null;
  }
}
