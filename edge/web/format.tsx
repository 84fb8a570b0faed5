/** How numbers, times and names read in the app. */
import type { TaskStatus } from "../../shared/task.ts";

export const STATUS_LABEL: Record<TaskStatus, string> = {
  queued: "Queued",
  assigned: "Starting",
  running: "Running",
  waiting: "Waiting for you",
  succeeded: "Succeeded",
  failed: "Failed",
  cancelled: "Cancelled",
  lost: "Lost",
};

export function timeAgo(iso: string, now = Date.now()): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "";
  const s = Math.max(0, Math.round((now - then) / 1000));
  if (s < 45) return "just now";
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} h ago`;
  const d = Math.round(h / 24);
  return d < 30 ? `${d} d ago` : new Date(then).toLocaleDateString();
}

export function clock(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

/** A cost in USD; null is a cost the runner could not price (a model with no known price). */
export function formatCost(usd: number | null): string {
  if (usd === null) return "unknown";
  if (usd === 0) return "$0";
  if (usd < 0.01) return "<$0.01";
  return `$${usd.toFixed(2)}`;
}

export function formatTokens(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

/** `owner/name` of a git URL, or its last part. */
export function repoName(url: string): string {
  const clean = url.replace(/\.git$/, "").replace(/\/+$/, "");
  const parts = clean.split(/[/:]/).filter(Boolean);
  return parts.slice(-2).join("/") || url;
}
