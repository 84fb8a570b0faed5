/**
 * A task's worker containers as a test finds them: a container started for the task carries
 * the label `tether.task=<id>`; a pooled one, made before its task, is named
 * `tether-task-<id>` once the task takes it (its labels cannot change).
 */
import type Docker from "dockerode";

export async function taskContainers(docker: Docker, taskID: string, opts: { running?: boolean } = {}): Promise<Docker.ContainerInfo[]> {
  const status: Record<string, string[]> = opts.running ? { status: ["running"] } : {};
  const [labelled, named] = await Promise.all([
    docker.listContainers({ all: true, filters: { label: [`tether.task=${taskID}`], ...status } }),
    docker.listContainers({ all: true, filters: { name: [`tether-task-${taskID}`], ...status } }),
  ]);
  return [...labelled, ...named.filter((c) => c.Names.includes(`/tether-task-${taskID}`))].filter((c) => c.Labels["tether.role"] !== "setup");
}
