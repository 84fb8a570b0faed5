/**
 * Who is calling: user JWTs, runner credentials and registration tokens, the ids the edge
 * makes, and the two middlewares that admit one kind of caller each.
 */
export { requireRunner, requireUser } from "./middleware.ts";
export { offeredProtocols, orgAccountID, userAccountID, type UserIdentity } from "./user-auth.ts";
export {
  canSignCredentials,
  formatRegistrationToken,
  formatRunnerCredential,
  isRunnerID,
  isTaskID,
  newRunnerID,
  newSecret,
  newTaskID,
  parseRegistrationToken,
  type CredentialKeys,
  sha256Hex,
} from "./credentials.ts";
