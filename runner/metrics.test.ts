import { describe, expect, it } from "vitest";
import { Metrics } from "./metrics.ts";

describe("Metrics", () => {
  it("renders counters and gauges as Prometheus text on a loopback port", async () => {
    let pending = 7;
    const m = new Metrics({ tasksRunning: () => 2, eventsPending: () => pending, connected: () => true });
    m.count("eventsSent", 5);
    m.count("eventsAcked", 3);
    m.count("reconnects");
    m.containerStarted(400);
    pending = 4;
    const { port, server } = await m.serve(0);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.headers.get("content-type")).toContain("text/plain");
      const text = await res.text();
      expect(text).toContain("tether_runner_tasks_running 2");
      expect(text).toContain("tether_runner_events_sent_total 5");
      expect(text).toContain("tether_runner_events_acked_total 3");
      expect(text).toContain("tether_runner_events_pending 4");
      expect(text).toContain("tether_runner_reconnects_total 1");
      expect(text).toContain("tether_runner_container_start_seconds_count 1");
      expect(text).toContain("tether_runner_container_start_seconds_sum 0.4");
      expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
    } finally {
      server.close();
    }
  });
});
