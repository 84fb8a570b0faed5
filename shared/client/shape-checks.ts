/**
 * The SDK's light checks, for the phone web app's first load (see `checks.ts`): an answer is
 * an object holding its envelope's field, a frame is of a type the protocol has with the
 * fields its handling reads, an event's type is in the catalog and its data an object. The
 * tables name every answer, frame type and event type; they are typed against the protocol, so
 * a frame or event type added to it (or removed) does not compile until it is listed here.
 */
import type { EventBody, EventType } from "../events.ts";
import type { EdgeToViewer } from "../protocol.ts";
import type { AnswerName, Answers, Checked, Checks } from "./checks.ts";

/** The field each answer always has, not null. */
const ENVELOPE: { [K in AnswerName]: keyof Answers[K] & string } = {
  AccountExportLine: "kind",
  ArtifactStored: "name",
  CommandAccepted: "task",
  EnvironmentEnvelope: "environment",
  EnvironmentList: "environments",
  ErrorBody: "error",
  EventPage: "events",
  ExportLine: "kind",
  Health: "ok",
  ImportResult: "task",
  RegisterRunnerResponse: "credential",
  RegistrationTokenResponse: "token",
  RunnerList: "runners",
  SettingsEnvelope: "settings",
  TaskEnvelope: "task",
  TaskPage: "tasks",
};

type Fields = Record<string, unknown>;

const FRAME: { [T in EdgeToViewer["type"]]: (f: Fields) => boolean } = {
  event: (f) => isEvent(f.event),
  events: (f) => Array.isArray(f.events) && f.events.every(isEvent),
  replayed: (f) => isCount(f.lastSeq) && typeof f.status === "string",
  pong: () => true,
  error: (f) => typeof f.code === "string" && typeof f.message === "string",
};

const EVENT: Record<EventType, true> = {
  status: true,
  "user.message": true,
  "user.finish": true,
  "user.cancel": true,
  "agent.text.delta": true,
  "agent.text": true,
  "agent.thinking": true,
  "context.compacted": true,
  "tool.start": true,
  "tool.output": true,
  "tool.end": true,
  "file.changed": true,
  usage: true,
  "turn.end": true,
  error: true,
  done: true,
  diff: true,
  "setup.step": true,
  "setup.output": true,
  "setup.done": true,
  egress: true,
  "user.egress": true,
  "budget.reached": true,
  "budget.raised": true,
  "approval.requested": true,
  "approval.answered": true,
  "approval.expired": true,
  log: true,
};

function isObject(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) >= 0;
}

function isEvent(value: unknown): boolean {
  return isObject(value) && isCount(value.seq) && typeof value.ts === "string" && typeof value.type === "string" && isObject(value.data);
}

function has(obj: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

export const SHAPE_CHECKS: Checks = {
  answer<K extends AnswerName>(name: K, json: unknown): Checked<Answers[K]> {
    const field = ENVELOPE[name];
    if (!isObject(json) || json[field] === undefined || json[field] === null) return { ok: false, problem: `${field}: missing` };
    return { ok: true, value: json as Answers[K] };
  },
  frame(json) {
    if (!isObject(json) || typeof json.type !== "string" || !has(FRAME, json.type)) return { ok: false, problem: "type: not a frame type" };
    if (!FRAME[json.type as EdgeToViewer["type"]](json)) return { ok: false, problem: `${json.type}: fields missing` };
    return { ok: true, value: json as EdgeToViewer };
  },
  event(body) {
    if (!has(EVENT, body.type) || !isObject(body.data)) return { ok: false, problem: `${body.type}: not a known event` };
    return { ok: true, value: body as EventBody };
  },
};
