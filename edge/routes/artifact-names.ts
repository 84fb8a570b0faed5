/**
 * Artifact names and where they live in R2: `<accountID>/<taskID>/<name>`, the account
 * URL-encoded so an account id can never reach into another's prefix.
 */
import { z } from "zod";

export const ArtifactName = z.string().regex(/^[a-zA-Z0-9._-]{1,100}$/).refine((n) => n !== "." && n !== "..", "not a file name");

export function artifactKey(accountID: string, taskID: string, name: string): string {
  return `${encodeURIComponent(accountID)}/${taskID}/${name}`;
}
