/**
 * Catch-up: a phone that missed 10,000 events opens its viewer socket with `after=` the last
 * event it holds and gets all of them, through the real edge under `wrangler dev`. A protocol
 * runner stores the events first (batches of 100, each acked); then, several times over, a
 * new socket is timed from its dial to the frame holding the last event, every frame parsed
 * as the phone parses it. Aim: ≤ 1 s.
 *
 *   npx tsx bench/catch-up.ts     (prints the section and puts it in bench/results.md)
 */
import { loadavg } from "node:os";
import { pathToFileURL } from "node:url";
import WebSocket from "ws";
import { CAPS, LIMITS } from "../shared/index.ts";
import { startEdge } from "../test/support/edge.ts";
import { PhoneAPI } from "../test/support/phone-api.ts";
import { ScriptedRunner } from "../test/web-runner.ts";
import { replaceSection } from "./sections.ts";
import { ms, summarize, type Summary } from "./stats.ts";

export const MISSED = 10_000;
export const AIM_MS = 1_000;
const BATCH = 100;
const RUNS = 7;

export interface CatchUpResult {
  missed: number;
  bytes: number;
  toLast: Summary;
  toReplayed: Summary;
  load: number[];
}

/** One phone's catch-up: dial → the frame with `lastSeq`, and → `replayed`; every event counted once. */
async function catchUp(edgeURL: string, taskID: string, token: string, after: number, lastSeq: number): Promise<{ toLast: number; toReplayed: number; bytes: number }> {
  const started = performance.now();
  const ws = new WebSocket(`${edgeURL.replace(/^http/, "ws")}/v1/tasks/${taskID}/ws?after=${after}`, ["tether.v1", `bearer.${token}`], { perMessageDeflate: false });
  let toLast = 0;
  let bytes = 0;
  let count = 0;
  let next = after + 1;
  try {
    const toReplayed = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`catch-up not done in 30 s: ${count} events`)), 30_000);
      ws.on("message", (data) => {
        const text = String(data);
        bytes += text.length;
        const frame = JSON.parse(text) as { type: string; event?: { seq: number }; events?: { seq: number }[] };
        for (const e of frame.event ? [frame.event] : (frame.events ?? [])) {
          if (e.seq !== next) reject(new Error(`event ${e.seq} came where ${next} was due`));
          next += 1;
          count += 1;
          if (e.seq === lastSeq) toLast = performance.now() - started;
        }
        if (frame.type === "replayed") {
          clearTimeout(timer);
          resolve(performance.now() - started);
        }
      });
      ws.once("error", reject);
    });
    if (count !== lastSeq - after) throw new Error(`${count} events came, ${lastSeq - after} were due`);
    return { toLast, toReplayed, bytes };
  } finally {
    ws.terminate();
  }
}

export async function benchCatchUp(): Promise<CatchUpResult> {
  const edge = await startEdge();
  const runner = new ScriptedRunner(edge.url, ["catch-up"]);
  try {
    const token = await edge.userToken("catch-up-user");
    const phone = new PhoneAPI(edge.url, token);
    await runner.register(token, "catch-up-runner");
    await runner.connect();
    const created = await phone.createTask({ repo: { url: "https://example.com/catch-up.git" }, prompt: "catch up", labels: ["catch-up"] });
    const task = await runner.take();
    await task.emit({ type: "status", data: { status: "running" } });
    // The phone saw everything up to here, then missed MISSED events.
    const after = (await phone.task(created.id)).lastSeq;
    for (let sent = 0; sent < MISSED; sent += BATCH) {
      await task.emit(
        ...Array.from({ length: BATCH }, (_, i) => ({
          type: "agent.text" as const,
          data: { turn: 0, text: `line ${sent + i} of the agent's output: what it read, ran and changed, about as long as a line of a real task.` },
        })),
      );
    }
    const lastSeq = (await phone.task(created.id)).lastSeq;
    if (lastSeq - after !== MISSED) throw new Error(`stored ${lastSeq - after} events, not ${MISSED}`);
    // One warm-up; then each run is a fresh socket, as a phone waking up.
    await catchUp(edge.url, created.id, token, after, lastSeq);
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await catchUp(edge.url, created.id, token, after, lastSeq));
    return {
      missed: MISSED,
      bytes: runs[0]!.bytes,
      toLast: summarize(runs.map((r) => r.toLast)),
      toReplayed: summarize(runs.map((r) => r.toReplayed)),
      load: loadavg(),
    };
  } finally {
    runner.close();
    await edge.dispose();
  }
}

export function catchUpMarkdown(r: CatchUpResult): string {
  return [
    "## Catch-up",
    "",
    `A phone that missed ${r.missed.toLocaleString("en")} events (${(r.bytes / 2 ** 20).toFixed(1)} MB of frames) opens its viewer socket with \`after=\` the last event it holds, through the real edge under \`wrangler dev\`; timed from the socket's dial to the frame holding the last event, each frame parsed (JSON) and each event checked to come once and in order. The room sends the replay a page per turn (${CAPS.replayFramesPerTurn} frames of up to ${LIMITS.replayFrameEvents} events). ${RUNS} runs after one warm-up; load average at the end ${r.load.map((l) => l.toFixed(1)).join(" / ")}. Aim: ≤ ${AIM_MS} ms.`,
    "",
    "| from the dial to | median | max | runs |",
    "|---|---:|---:|---:|",
    `| the last missed event | ${ms(r.toLast.median)} | ${ms(r.toLast.max)} | ${r.toLast.n} |`,
    `| \`replayed\` | ${ms(r.toReplayed.median)} | ${ms(r.toReplayed.max)} | ${r.toReplayed.n} |`,
    "",
    `Against the aim: ${ms(r.toLast.median)} (max ${ms(r.toLast.max)}) ≤ ${AIM_MS} ms ${r.toLast.max <= AIM_MS ? "✓" : r.toLast.median <= AIM_MS ? "✓ (median)" : "✗"}.`,
    "",
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const md = catchUpMarkdown(await benchCatchUp());
  console.log(md);
  replaceSection("Catch-up", md);
}
