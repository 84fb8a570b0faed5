/** Test helper (internal): a temp workspace and a tool context that records events. */
import { mkdir, mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AgentEventBody } from "../../../shared/events.ts";
import type { ToolContext } from "./tool.ts";

export interface TestWorkspace {
  root: string;
  /** A directory next to the workspace, outside it. */
  outside: string;
  events: AgentEventBody[];
  ctx(overrides?: Partial<ToolContext>): ToolContext;
  cleanup(): Promise<void>;
}

export async function makeTestWorkspace(): Promise<TestWorkspace> {
  const base = await realpath(await mkdtemp(join(tmpdir(), "tether-tools-")));
  const root = join(base, "workspace");
  const outside = join(base, "outside");
  await mkdir(root);
  await mkdir(outside);
  const events: AgentEventBody[] = [];
  return {
    root,
    outside,
    events,
    ctx: (overrides = {}) => ({ root, callID: "call_1", emit: (e) => events.push(e), signal: new AbortController().signal, commandTimeoutMs: 20_000, ...overrides }),
    cleanup: () => rm(base, { recursive: true, force: true }),
  };
}
