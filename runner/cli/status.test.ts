import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config.ts";
import { Journal } from "../task/index.ts";
import { formatStatus, readStatus } from "./status.ts";
import { assignmentOf } from "../testing/fixtures.ts";
import { testDir } from "../testing/temp-dir.ts";

describe("readStatus", () => {
  it("reports the journal's tasks and the daemon's link state", () => {
    const home = testDir("tether-status-");
    const journal = new Journal(join(home, "journal.db"));
    journal.addTask(assignmentOf("t1", 2), "/w");
    journal.update("t1", { status: "running", containerID: "0123456789abcdef" });
    journal.append("t1", [{ type: "log", data: { level: "info", message: "x" } }]);
    journal.close();
    writeFileSync(join(home, "state.json"), JSON.stringify({ pid: process.pid, runnerID: "r9", link: "connected", draining: false, updatedAt: "", tasks: [] }));
    const r = loadConfig({ edgeURL: "http://127.0.0.1:1", credential: "c" }, { TETHER_RUNNER_HOME: home });
    if (!r.ok) throw new Error("config");
    const s = readStatus(r.value);
    expect(s).toMatchObject({ daemon: "running", pid: process.pid, link: "connected", runnerID: "r9", pendingEvents: 1 });
    expect(s.tasks).toEqual([{ taskID: "t1", epoch: 2, status: "running", containerID: "0123456789abcdef", pendingEvents: 1 }]);
    expect(formatStatus(s)).toContain("t1  epoch 2  running  container 0123456789ab  1 unacked");
  });

  it("says not running when the state file names a dead process or none exists", () => {
    const home = testDir("tether-status-");
    const r = loadConfig({}, { TETHER_RUNNER_HOME: home });
    if (!r.ok) throw new Error("config");
    expect(readStatus(r.value)).toMatchObject({ daemon: "not running", link: "none", registered: false, tasks: [] });
    writeFileSync(join(home, "state.json"), JSON.stringify({ pid: 2 ** 22 + 7, runnerID: null, link: "connected", draining: false }));
    expect(readStatus(r.value).daemon).toBe("not running");
  });
});
