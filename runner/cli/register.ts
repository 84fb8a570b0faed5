/**
 * `tether-runner register`: exchanges a single-use registration token for the runner
 * credential and stores it, with the edge URL and runner ID, in config.json (mode 0600).
 */
import { RegisterRunnerRequest, RegisterRunnerResponse } from "../../shared/api.ts";
import { describeIssues } from "../../shared/protocol.ts";
import { configPath, writeConfigFile } from "../config.ts";
import type { Result } from "../ports.ts";

export interface RegisterInput {
  home: string;
  edgeURL: string;
  token: string;
  name?: string;
  labels?: string[];
  capacity?: number;
}

/** The runner ID the edge gave and where its credential is stored. */
export interface Registered {
  runnerID: string;
  path: string;
}

export async function registerRunner(input: RegisterInput, timeoutMs = 30_000): Promise<Result<Registered>> {
  const body = RegisterRunnerRequest.safeParse({
    token: input.token,
    ...(input.name ? { name: input.name } : {}),
    ...(input.labels && input.labels.length > 0 ? { labels: input.labels } : {}),
    ...(input.capacity !== undefined ? { capacity: input.capacity } : {}),
  });
  if (!body.success) return { ok: false, error: `bad registration: ${describeIssues(body.error)}` };
  const url = new URL("/v1/runners/register", input.edgeURL);
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body.data),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    return { ok: false, error: `could not reach the edge at ${url.origin}: ${(err as Error).message}` };
  }
  const text = await res.text();
  if (!res.ok) {
    let message = text.slice(0, 500);
    try {
      const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
      if (parsed.error?.message) message = `${parsed.error.code ?? res.status}: ${parsed.error.message}`;
    } catch {
      // not JSON: the raw text says enough
    }
    return { ok: false, error: `the edge refused the registration (HTTP ${res.status}): ${message}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: "the edge answered the registration with something that is not JSON" };
  }
  const parsed = RegisterRunnerResponse.safeParse(json);
  if (!parsed.success) return { ok: false, error: `unexpected registration answer: ${describeIssues(parsed.error)}` };
  writeConfigFile(input.home, {
    edgeURL: input.edgeURL,
    credential: parsed.data.credential,
    runnerID: parsed.data.runner.id,
    ...(input.name ? { name: input.name } : {}),
    ...(input.labels && input.labels.length > 0 ? { labels: input.labels } : {}),
    ...(input.capacity !== undefined ? { capacity: input.capacity } : {}),
  });
  return { ok: true, value: { runnerID: parsed.data.runner.id, path: configPath(input.home) } };
}
