/**
 * How the SDK checks what the edge sends before handing it on: each REST answer (by the name
 * of its schema in `shared/api.ts`), each socket frame and each event's `{ type, data }`.
 * Two implementations, both derived from the shared protocol, never a copy of it:
 * - `ZOD_CHECKS` (`zod-checks.ts`): the full zod schemas, as the edge itself parses; the
 *   SDK's default (`index.ts`);
 * - `SHAPE_CHECKS` (`shape-checks.ts`): small plain checks whose tables the compiler holds to
 *   the protocol's types (every frame type, every event type); what the phone web app uses
 *   (`light.ts`) so that zod stays out of its first load. The edge validates everything it
 *   stores and relays, so the app, served by that same edge, only guards against a frame of a
 *   kind it does not know.
 */
import type {
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
import type { ErrorBody } from "../errors.ts";
import type { EventBody } from "../events.ts";
import type { EdgeToViewer } from "../protocol.ts";

/** Every answer the SDK reads, by the name of its schema. */
export interface Answers {
  AccountExportLine: AccountExportLine;
  ArtifactStored: ArtifactStored;
  CommandAccepted: CommandAccepted;
  EnvironmentEnvelope: EnvironmentEnvelope;
  EnvironmentList: EnvironmentList;
  ErrorBody: ErrorBody;
  EventPage: EventPage;
  ExportLine: ExportLine;
  Health: Health;
  ImportResult: ImportResult;
  RegisterRunnerResponse: RegisterRunnerResponse;
  RegistrationTokenResponse: RegistrationTokenResponse;
  RunnerList: RunnerList;
  SettingsEnvelope: SettingsEnvelope;
  TaskEnvelope: TaskEnvelope;
  TaskPage: TaskPage;
}
export type AnswerName = keyof Answers;

/** A checked value, or a short description of what does not fit. */
export type Checked<T> = { ok: true; value: T } | { ok: false; problem: string };

export interface Checks {
  answer<K extends AnswerName>(name: K, json: unknown): Checked<Answers[K]>;
  frame(json: unknown): Checked<EdgeToViewer>;
  /** An event's `{ type, data }`: not ok when the type is unknown or its data does not fit. */
  event(body: { type: string; data: unknown }): Checked<EventBody>;
}
