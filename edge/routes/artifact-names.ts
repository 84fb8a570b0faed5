/**
 * Artifact names and where they live in R2: `<accountID>/<taskID>/<name>`, the account
 * URL-encoded so an account id can never reach into another's prefix.
 */
import { z } from "zod";

export const ArtifactName = z.string().regex(/^[a-zA-Z0-9._-]{1,100}$/).refine((n) => n !== "." && n !== "..", "not a file name");

export function artifactKey(accountID: string, taskID: string, name: string): string {
  return `${artifactPrefix(accountID, taskID)}${name}`;
}

/** The prefix under which every artifact of one task lives, and nothing else. */
export function artifactPrefix(accountID: string, taskID: string): string {
  return `${encodeURIComponent(accountID)}/${taskID}/`;
}
