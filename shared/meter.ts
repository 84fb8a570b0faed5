/**
 * What the edge's meter counts per Durable Object (edge/meter.ts, on only with
 * `TETHER_METER=1`): the answer of `GET /v1/_meter`, which the edge-bill benchmark prices.
 */
export type ObjectMeter = {
  class: string;
  /** The name the object was addressed by (`idFromName`), or its id. */
  name: string;
  http: number;
  rpc: number;
  wsMessages: number;
  wsCloses: number;
  alarms: number;
  rowsRead: number;
  rowsWritten: number;
  storedBytes: number;
  activeMs: number;
  /** RPC calls by method name. */
  methods: Record<string, number>;
  /** Rows written by statement (its first words). */
  writes: Record<string, number>;
};
