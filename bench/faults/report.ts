/**
 * The fault figures as Markdown for bench/faults.md: one row per fault with events lost,
 * events duplicated, tasks not finished and time to recover beside the aim, then each
 * fault's notes.
 */
export interface Figure {
  fault: string;
  detail: string;
  lost: number;
  duplicated: number;
  notFinished: number;
  /** "median / max", or what stands for it. */
  recovery: string;
  notes: string[];
  /** A shortfall the three counts do not show (a crash, a leak); the aim is then not met. */
  shortfall?: string;
}

export interface Run {
  mode: "quick" | "full";
  startedAt: string;
  minutes: number;
  host: string;
  figures: Figure[];
  /** Faults that threw, with the error's first line. */
  errors: { fault: string; error: string }[];
}

function verdictOf(f: Figure): string {
  if (f.lost > 0 || f.duplicated > 0 || f.notFinished > 0) return "**no**";
  return f.shortfall ? `**no**: ${f.shortfall}` : "yes";
}

export function markdownOf(run: Run): string {
  const rows = run.figures.map(
    (f) => `| ${f.fault} | ${f.lost} | ${f.duplicated} | ${f.notFinished} | ${f.recovery} | 0 / 0 / 0 | ${verdictOf(f)} |`,
  );
  const details = run.figures.map((f) => `- **${f.fault}**: ${f.detail}.\n${f.notes.map((n) => `  - ${n}`).join("\n")}`);
  const errors = run.errors.map((e) => `- **${e.fault}** did not complete: ${e.error}`);
  return [
    "# Fault figures",
    "",
    `Made by \`npm run faults${run.mode === "quick" ? " -- --quick" : ""}\` (bench/faults.ts) in **${run.mode} mode** on ${run.startedAt}, ${run.minutes.toFixed(1)} minutes, ${run.host}.`,
    "The real edge (wrangler dev), the real runner process, the Docker engine and the worker image; only the model is a stand-in.",
    "Runners reach the edge through a TCP relay on 127.0.0.1 that the script cuts and closes. A fault task runs a command that prints",
    "`line 1`, `line 2` … every 200 ms until told to stop; each numbered line must reach the phone's viewer socket exactly once, in order.",
    "Time to recover: from the fault lifted (runner started again, edge answering, link open) to the next event at the phone, median / max.",
    "",
    "| fault | events lost | events duplicated | tasks not finished | time to recover | aim (lost / dup / not finished) | aim met |",
    "|---|---|---|---|---|---|---|",
    ...rows,
    "",
    "## Details",
    "",
    ...details,
    ...(errors.length > 0 ? ["", "## Faults that did not complete", "", ...errors] : []),
    "",
  ].join("\n");
}
