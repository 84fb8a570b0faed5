/**
 * What a fault did to a task's log, counted from the events a phone's viewer socket received
 * and the log `GET /events` returns: events lost (a missing numbered line of the command's
 * output, a gap in `seq`, an event `GET /events` has that the viewer never got), events
 * duplicated (a line twice, a `seq` twice, a tool call started or ended twice, an answer twice)
 * and whether the lines came in order.
 */
import { AGENT_EVENT_TYPES, type Event } from "../../shared/events.ts";
import { LOOP_CALL_ID } from "./model.ts";

export interface LogCount {
  lost: number;
  duplicated: number;
  /** The command's last line number (from its `end N` line, else the highest seen). */
  lines: number;
  inOrder: boolean;
  notes: string[];
}

/** Counts losses and repeats in one task's log. `loop` says the log holds the numbered command. */
export function countLog(viewer: Event[], stored: Event[], loop = true): LogCount {
  const notes: string[] = [];
  let lost = 0;
  let duplicated = 0;
  const seqs = new Map<number, number>();
  for (const e of viewer) seqs.set(e.seq, (seqs.get(e.seq) ?? 0) + 1);
  for (const n of seqs.values()) duplicated += n - 1;
  const top = Math.max(0, ...seqs.keys(), ...stored.map((e) => e.seq));
  for (let s = 1; s <= top; s++) if (!seqs.has(s)) lost += 1;
  if (lost > 0) notes.push(`${lost} seq missing at the viewer`);
  const repeats = repeatedAgentEvents(stored);
  duplicated += repeats.length;
  if (repeats.length > 0) notes.push(`repeated: ${repeats.slice(0, 5).join("; ")}`);
  if (!loop) return { lost, duplicated, lines: 0, inOrder: true, notes };

  const text = stored.filter((e) => e.type === "tool.output" && e.data.callID === LOOP_CALL_ID).map((e) => String(e.data.text)).join("");
  const rows = text.split("\n").filter((l) => l.length > 0);
  const numbers = rows.flatMap((l) => (/^line (\d+)$/.exec(l) ? [Number(/^line (\d+)$/.exec(l)![1])] : []));
  const end = rows.map((l) => /^end (\d+)$/.exec(l)).find((m) => m !== null);
  const lines = end ? Number(end[1]) : Math.max(0, ...numbers);
  if (!end) notes.push("no `end N` line");
  const counts = new Map<number, number>();
  for (const n of numbers) counts.set(n, (counts.get(n) ?? 0) + 1);
  let missing = 0;
  for (let n = 1; n <= lines; n++) if (!counts.has(n)) missing += 1;
  let twice = 0;
  for (const c of counts.values()) twice += c - 1;
  if (missing > 0) notes.push(`${missing} of ${lines} lines missing`);
  if (twice > 0) notes.push(`${twice} lines repeated`);
  const inOrder = numbers.every((n, i) => n === i + 1);
  if (!inOrder) notes.push("lines out of order");
  return { lost: lost + missing, duplicated: duplicated + twice, lines, inOrder, notes };
}

/** Agent events that would be a repeat: a second tool.start or tool.end of one call, a second identical text or output. */
function repeatedAgentEvents(events: Event[]): string[] {
  const seen = new Set<string>();
  const repeats: string[] = [];
  for (const e of events) {
    if (!(AGENT_EVENT_TYPES as readonly string[]).includes(e.type) || e.type === "agent.text.delta" || e.type === "usage" || e.type === "tool.output") continue;
    const key = e.type === "tool.start" || e.type === "tool.end" ? `${e.type} ${String(e.data.callID)}` : `${e.type} ${JSON.stringify(e.data)}`;
    if (seen.has(key)) repeats.push(`${e.seq} ${key}`);
    seen.add(key);
  }
  return repeats;
}

/** Median and maximum of recovery times in ms, as "1.2 s / 3.4 s"; "n/a" when none. */
export function recoveryText(ms: number[]): string {
  if (ms.length === 0) return "n/a";
  const sorted = [...ms].sort((a, b) => a - b);
  const s = (v: number) => `${(v / 1000).toFixed(1)} s`;
  return `${s(sorted[Math.floor(sorted.length / 2)]!)} / ${s(sorted.at(-1)!)}`;
}

/** Each recovery time in seconds, for the notes. */
export function recoveriesText(ms: number[]): string {
  return ms.map((v) => (v / 1000).toFixed(1)).join(", ") + " s";
}
