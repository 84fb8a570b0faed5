/**
 * The runner's counters and gauges, and an optional Prometheus text endpoint on a loopback
 * port (`GET /metrics`): tasks running, events sent / acked / pending, reconnects, container
 * start time.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

type Counter = "eventsSent" | "eventsAcked" | "reconnects" | "tasksAccepted" | "tasksFinished";

export class Metrics {
  private readonly counters: Record<Counter, number> = { eventsSent: 0, eventsAcked: 0, reconnects: 0, tasksAccepted: 0, tasksFinished: 0 };
  private containerStarts = 0;
  private containerStartSeconds = 0;
  private lastContainerStartSeconds = 0;

  constructor(private readonly gauges: { tasksRunning: () => number; eventsPending: () => number; connected: () => boolean }) {}

  count(name: Counter, by = 1): void {
    this.counters[name] += by;
  }

  get(name: Counter): number {
    return this.counters[name];
  }

  containerStarted(ms: number): void {
    this.containerStarts += 1;
    this.containerStartSeconds += ms / 1000;
    this.lastContainerStartSeconds = ms / 1000;
  }

  render(): string {
    const lines: string[] = [];
    const metric = (name: string, type: "counter" | "gauge", help: string, value: number) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
    };
    metric("tether_runner_tasks_running", "gauge", "Tasks this runner holds and has not finished.", this.gauges.tasksRunning());
    metric("tether_runner_edge_connected", "gauge", "1 when the control socket to the edge is open.", this.gauges.connected() ? 1 : 0);
    metric("tether_runner_events_sent_total", "counter", "Events sent to the edge (resends included).", this.counters.eventsSent);
    metric("tether_runner_events_acked_total", "counter", "Events the edge acked as stored.", this.counters.eventsAcked);
    metric("tether_runner_events_pending", "gauge", "Events in the journal outbox awaiting an ack.", this.gauges.eventsPending());
    metric("tether_runner_reconnects_total", "counter", "Control socket connections after the first.", this.counters.reconnects);
    metric("tether_runner_tasks_accepted_total", "counter", "Assignments accepted.", this.counters.tasksAccepted);
    metric("tether_runner_tasks_finished_total", "counter", "Tasks whose terminal status the edge acked.", this.counters.tasksFinished);
    lines.push(
      "# HELP tether_runner_container_start_seconds Time from start request to a running worker.",
      "# TYPE tether_runner_container_start_seconds summary",
      `tether_runner_container_start_seconds_sum ${this.containerStartSeconds}`,
      `tether_runner_container_start_seconds_count ${this.containerStarts}`,
    );
    metric("tether_runner_container_start_last_seconds", "gauge", "The last worker start time.", this.lastContainerStartSeconds);
    return `${lines.join("\n")}\n`;
  }

  /** Serves `/metrics` on 127.0.0.1:`port` (0 picks one); resolves with the bound port. */
  async serve(port: number): Promise<{ port: number; server: Server }> {
    const server = createServer((req, res) => {
      if (req.method === "GET" && req.url === "/metrics") {
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }).end(this.render());
      } else {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found: try GET /metrics\n");
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    return { port: (server.address() as AddressInfo).port, server };
  }
}
