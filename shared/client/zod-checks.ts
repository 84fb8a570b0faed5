/** The SDK's full checks: every answer, frame and event parsed with the shared zod schemas (see `checks.ts`). */
import type { z } from "zod";
import {
  AccountExportLine,
  ArtifactStored,
  CommandAccepted,
  EnvironmentEnvelope,
  EnvironmentList,
  EventPage,
  ExportLine,
  Health,
  ImportResult,
  RegisterRunnerResponse,
  RegistrationTokenResponse,
  RunnerList,
  SettingsEnvelope,
  TaskEnvelope,
  TaskPage,
} from "../api.ts";
import { ErrorBody } from "../errors.ts";
import { EventBody } from "../events.ts";
import { describeIssues, EdgeToViewer } from "../protocol.ts";
import type { Answers, Checked, Checks } from "./checks.ts";

const ANSWERS: { [K in keyof Answers]: z.ZodType<Answers[K]> } = {
  AccountExportLine,
  ArtifactStored,
  CommandAccepted,
  EnvironmentEnvelope,
  EnvironmentList,
  ErrorBody,
  EventPage,
  ExportLine,
  Health,
  ImportResult,
  RegisterRunnerResponse,
  RegistrationTokenResponse,
  RunnerList,
  SettingsEnvelope,
  TaskEnvelope,
  TaskPage,
};

function check<T>(schema: z.ZodType<T>, json: unknown): Checked<T> {
  const parsed = schema.safeParse(json);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, problem: describeIssues(parsed.error) };
}

export const ZOD_CHECKS: Checks = {
  answer: (name, json) => check(ANSWERS[name], json),
  frame: (json) => check(EdgeToViewer, json),
  event: (body) => check(EventBody, body),
};
