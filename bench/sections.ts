/**
 * Internal to bench/: puts one `## ` section into bench/results.md, in place of the section
 * of that heading (or at the end), so a benchmark run alone updates only its own figures.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const RESULTS = join(import.meta.dirname, "results.md");

export function replaceSection(heading: string, markdown: string): void {
  const text = readFileSync(RESULTS, "utf8");
  const start = text.indexOf(`\n## ${heading}\n`);
  const body = markdown.endsWith("\n") ? markdown : `${markdown}\n`;
  if (start < 0) {
    writeFileSync(RESULTS, `${text.trimEnd()}\n\n${body}`);
    return;
  }
  const next = text.indexOf("\n## ", start + 1);
  const after = next < 0 ? "" : text.slice(next + 1);
  writeFileSync(RESULTS, `${text.slice(0, start + 1)}${body}${after ? `\n${after}` : ""}`);
}
