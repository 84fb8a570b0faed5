import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Task } from "../../shared/index.ts";
import { accountStub, unique } from "../testing/edge.ts";
import { AccountStore } from "./store.ts";

/** An AccountStore over the object's SQLite that counts the rows its statements write. */
function countingStore(sql: SqlStorage): { store: AccountStore; written: () => number } {
  let rows = 0;
  const counting = {
    exec: (query: string, ...args: SqlStorageValue[]) => {
      const cursor = sql.exec(query, ...args);
      rows += cursor.rowsWritten;
      return cursor;
    },
  } as SqlStorage;
  return { store: new AccountStore(counting), written: () => rows };
}

const task = (id: string): Task =>
  ({ id, createdAt: new Date().toISOString(), updatedAt: new Date().toISOString(), status: "queued", title: "t", prompt: "p", labels: [], runnerID: null, lastSeq: 0 }) as unknown as Task;

describe("task index writes", () => {
  it("writes nothing for a row that did not change, one row for an unindexed change, and the indexes when the status moves", async () => {
    await runInDurableObject(accountStub(unique("acct")), (_i, state) => {
      const { store, written } = countingStore(state.storage.sql);
      const id = `tsk_${unique("s")}`;
      store.insertTask(task(id));
      const row = store.getTask(id)!;

      let mark = written();
      store.saveTask(row);
      expect(written() - mark).toBe(0);

      mark = written();
      store.saveTask({ ...row, lastSeq: 5, task: { ...row.task, lastSeq: 5 } });
      expect(written() - mark).toBe(1);
      expect(store.getTask(id)).toMatchObject({ lastSeq: 5, status: "queued", task: { lastSeq: 5 } });

      mark = written();
      store.saveTask({ ...store.getTask(id)!, status: "assigned", runnerID: "run_x", epoch: 1 });
      // The table's row, and the entries of the two indexes holding status or runner_id.
      expect(written() - mark).toBeGreaterThan(1);
      expect(store.getTask(id)).toMatchObject({ status: "assigned", runnerID: "run_x", epoch: 1, task: { status: "assigned", runnerID: "run_x" } });
    });
  });
});
