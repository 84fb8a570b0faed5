/**
 * Bodies of the REST routes beyond tasks: runner registration and the runner registry.
 */
import { z } from "zod";
import { Labels } from "./task.ts";

export const RunnerName = z.string().trim().min(1).max(64);

/** `POST /v1/runners/registration-tokens` (user) → a single-use token, valid under an hour. */
export const RegistrationTokenResponse = z.object({ token: z.string(), expiresAt: z.string() });
export type RegistrationTokenResponse = z.infer<typeof RegistrationTokenResponse>;

/** `POST /v1/runners/register` (no credential but the registration token). */
export const RegisterRunnerRequest = z
  .object({
    token: z.string().min(1).max(512),
    name: RunnerName.optional(),
    labels: Labels.optional(),
    capacity: z.number().int().min(1).max(256).optional(),
  })
  .strict();
export type RegisterRunnerRequest = z.infer<typeof RegisterRunnerRequest>;

/** The runner credential is opaque to the runner; the edge stores only its hash. */
export const RegisterRunnerResponse = z.object({ runner: z.object({ id: z.string() }), credential: z.string() });
export type RegisterRunnerResponse = z.infer<typeof RegisterRunnerResponse>;

export const RunnerInfo = z.object({
  id: z.string(),
  name: z.string(),
  labels: z.array(z.string()),
  capacity: z.number().int(),
  online: z.boolean(),
  lastSeenAt: z.string().nullable(),
  runningTasks: z.array(z.string()),
  version: z.string().nullable(),
  createdAt: z.string(),
});
export type RunnerInfo = z.infer<typeof RunnerInfo>;
