/**
 * The edge's bill meter, for `bench/edge-bill.ts`: with the var `TETHER_METER` = "1"
 * (`wrangler dev --var TETHER_METER:1`) every Durable Object counts what Cloudflare bills it
 * for, and `GET /v1/_meter` answers the counts; without it nothing is counted and the route
 * is a 404.
 *
 * - Requests by kind: HTTP (`fetch`, WebSocket upgrades included) and RPC calls are counted
 *   where the edge calls a stub (each RPC method call is its own billed session); incoming
 *   WebSocket messages and alarm invocations where the object receives them. Pings the
 *   runtime answers itself (`setWebSocketAutoResponse`) never reach the object and are not
 *   counted here.
 * - SQLite rows read and written, from each statement's cursor, and the database's size
 *   after each event the object handles.
 * - Active milliseconds: the union, per object, of the intervals in which it handles an event
 *   (measured in the object) or an RPC call (measured at the caller, which includes the
 *   wait for the object: an upper bound). workerd's clock only moves across I/O, so a handler
 *   that runs without I/O counts as `SYNC_HANDLER_MS`.
 *
 * The counts live in module scope: workerd runs the Worker and its objects in one isolate.
 */
import type { DurableObject } from "cloudflare:workers";
import type { ObjectMeter } from "../shared/meter.ts";

/** What a synchronous handler counts for, since the runtime's clock stands still while it runs. */
export const SYNC_HANDLER_MS = 1;


type Tracked = ObjectMeter & { inflight: number; since: number; cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] };

const objects = new Map<string, Tracked>();
/** Object ids to the names they were made from. */
const names = new Map<string, string>();

export function meterOn(env: unknown): boolean {
  return (env as { TETHER_METER?: string } | undefined)?.TETHER_METER === "1";
}

/** The counts so far, one entry per object. */
export function meterSnapshot(): ObjectMeter[] {
  return [...objects.values()].map(({ inflight: _i, since: _s, cursors, ...meter }) => {
    let rowsRead = meter.rowsRead;
    for (const cursor of cursors) rowsRead += readRows(cursor);
    return { ...meter, rowsRead, methods: { ...meter.methods }, writes: { ...meter.writes } };
  });
}

function tracked(className: string, id: string): Tracked {
  let t = objects.get(id);
  if (!t) {
    t = {
      class: className,
      name: names.get(id) ?? id,
      http: 0,
      rpc: 0,
      wsMessages: 0,
      wsCloses: 0,
      alarms: 0,
      rowsRead: 0,
      rowsWritten: 0,
      storedBytes: 0,
      activeMs: 0,
      methods: {},
      writes: {},
      inflight: 0,
      since: 0,
      cursors: [],
    };
    objects.set(id, t);
  }
  return t;
}

function readRows(cursor: SqlStorageCursor<Record<string, SqlStorageValue>>): number {
  try {
    return cursor.rowsRead;
  } catch {
    return 0;
  }
}

/** Runs `fn` as one active interval of the object; a run without I/O counts `SYNC_HANDLER_MS`. */
function active<T>(t: Tracked, fn: () => T): T {
  const start = Date.now();
  if (t.inflight++ === 0) t.since = start;
  const end = () => {
    const now = Date.now();
    if (--t.inflight === 0) t.activeMs += Math.max(now - t.since, SYNC_HANDLER_MS);
  };
  let result: T;
  try {
    result = fn();
  } catch (err) {
    end();
    throw err;
  }
  if (result instanceof Promise) return result.finally(end) as T;
  end();
  return result;
}

type ObjectClass = new (ctx: DurableObjectState, env: never) => DurableObject;

/** What the object receives from the runtime, by the handler's name. */
const HANDLERS: Record<string, (t: Tracked) => void> = {
  fetch: () => {},
  webSocketMessage: (t) => void t.wsMessages++,
  webSocketClose: (t) => void t.wsCloses++,
  webSocketError: () => {},
  alarm: (t) => void t.alarms++,
};

/**
 * A Durable Object class that meters itself when its env says so: its handlers count and
 * time themselves, its SQL statements count rows, and the stubs it calls count requests.
 */
export function metered<C extends ObjectClass>(Base: C, className: string): C {
  const Metered = class extends (Base as ObjectClass) {
    constructor(ctx: DurableObjectState, env: never) {
      if (!meterOn(env)) {
        super(ctx, env);
        return;
      }
      meterSQL(ctx, tracked(className, ctx.id.toString()));
      super(ctx, meteredEnv(env) as never);
    }
  };
  for (const [handler, count] of Object.entries(HANDLERS)) {
    const original = (Base.prototype as unknown as Record<string, ((...args: unknown[]) => unknown) | undefined>)[handler];
    if (typeof original !== "function") continue;
    Object.defineProperty(Metered.prototype, handler, {
      configurable: true,
      writable: true,
      value: function (this: DurableObject & { ctx: DurableObjectState; env: unknown }, ...args: unknown[]) {
        if (!meterOn(this.env)) return original.apply(this, args);
        const t = tracked(className, this.ctx.id.toString());
        count(t);
        return active(t, () => original.apply(this, args));
      },
    });
  }
  return Metered as unknown as C;
}

/**
 * Counts the state's SQL: rows written as each statement runs, rows read as its cursor is
 * read. The runtime only takes its own state object, so its `sql` is patched in place.
 */
function meterSQL(ctx: DurableObjectState, t: Tracked): void {
  const sql = ctx.storage.sql;
  const exec = sql.exec.bind(sql);
  Object.defineProperty(sql, "exec", {
    configurable: true,
    value: (query: string, ...params: SqlStorageValue[]) => {
      const cursor = exec(query, ...params);
      const written = cursor.rowsWritten;
      if (written > 0) {
        t.rowsWritten += written;
        const statement = query.trim().replace(/\s+/g, " ").slice(0, 40);
        t.writes[statement] = (t.writes[statement] ?? 0) + written;
      }
      t.cursors.push(cursor);
      if (t.cursors.length > 64) {
        for (const c of t.cursors.splice(0, 32)) t.rowsRead += readRows(c);
      }
      t.storedBytes = sql.databaseSize;
      return cursor;
    },
  });
}

/** The env with each Durable Object namespace's stubs counting the requests made through them. */
export function meteredEnv<E>(env: E): E {
  if (!meterOn(env)) return env;
  const out = { ...(env as Record<string, unknown>) };
  for (const [binding, className] of [["TASK_ROOM", "TaskRoom"], ["ACCOUNT", "Account"]] as const) {
    const ns = out[binding] as DurableObjectNamespace | undefined;
    if (ns) out[binding] = meteredNamespace(ns, className);
  }
  return out as E;
}

function meteredNamespace(ns: DurableObjectNamespace, className: string): DurableObjectNamespace {
  return new Proxy(ns, {
    get(target, key) {
      if (key === "idFromName") {
        return (name: string) => {
          const id = target.idFromName(name);
          names.set(id.toString(), name);
          return id;
        };
      }
      if (key === "get") return (id: DurableObjectId, options?: DurableObjectNamespaceGetDurableObjectOptions) => meteredStub(options ? target.get(id, options) : target.get(id), tracked(className, id.toString()));
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function meteredStub(stub: DurableObjectStub, t: Tracked): DurableObjectStub {
  return new Proxy(stub, {
    get(target, key) {
      const value = Reflect.get(target, key, target) as unknown;
      if (typeof key !== "string" || typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (key === "fetch") {
          t.http++;
        } else {
          t.rpc++;
          t.methods[key] = (t.methods[key] ?? 0) + 1;
        }
        // Called on the stub itself: `apply` on an RPC method would be a remote call of its own.
        return active(t, () => (target as unknown as Record<string, (...a: unknown[]) => unknown>)[key]!(...args));
      };
    },
  });
}
