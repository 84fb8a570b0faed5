/**
 * `npm run token -- --user alice [--org acme] [--days N] [--edge URL]`: mints a user token
 * for a self-hosted edge (HS256 with AUTH_SECRET) and prints it with a login link for the
 * web app. AUTH_SECRET (and AUTH_ISSUER / AUTH_AUDIENCE, when the edge checks them) come
 * from the environment, else from `.dev.vars` in the current directory.
 *
 * The link carries the token in its fragment (`#token=`), which browsers never send to a
 * server, so it stays out of server logs.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { SignJWT } from "jose";

export type TokenOptions = { user: string; org?: string; days: number; secret: string; issuer?: string; audience?: string; now?: number };

/** The variables of a `.dev.vars` file (KEY=value lines, # comments, optional quotes). */
export function parseDevVars(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m || line.trimStart().startsWith("#")) continue;
    const value = m[2]!.replace(/^"(.*)"$/, "$1").replace(/^'(.*)'$/, "$1");
    out[m[1]!] = value;
  }
  return out;
}

export async function mintUserToken(o: TokenOptions): Promise<string> {
  const now = Math.floor((o.now ?? Date.now()) / 1000);
  const jwt = new SignJWT(o.org ? { org: o.org } : {})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(o.user)
    .setIssuedAt(now)
    .setExpirationTime(now + Math.round(o.days * 86400));
  if (o.issuer) jwt.setIssuer(o.issuer);
  if (o.audience) jwt.setAudience(o.audience);
  return jwt.sign(new TextEncoder().encode(o.secret));
}

function positiveDays(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 3650) throw new InvalidArgumentError("days is a number above 0 and at most 3650");
  return n;
}

async function main(argv: string[]): Promise<void> {
  const program = new Command("token")
    .description("Mint a user token for a self-hosted Tether edge (HS256 with AUTH_SECRET)")
    .requiredOption("--user <id>", "the user (the token's sub)")
    .option("--org <id>", "the account the user acts in (default: the user's own)")
    .option("--days <n>", "how long the token is valid", positiveDays, 30)
    .option("--edge <url>", "the edge's address, for the login link", "http://127.0.0.1:8787")
    .option("--dev-vars <path>", "where to read AUTH_SECRET from when it is not in the environment", ".dev.vars");
  program.parse(argv);
  const opts = program.opts<{ user: string; org?: string; days: number; edge: string; devVars: string }>();
  const file = resolve(opts.devVars);
  const fromFile = existsSync(file) ? parseDevVars(readFileSync(file, "utf8")) : {};
  const pick = (name: string) => process.env[name] || fromFile[name] || undefined;
  const secret = pick("AUTH_SECRET");
  if (!secret) {
    console.error(`AUTH_SECRET is not set in the environment nor in ${file}`);
    process.exit(2);
  }
  const token = await mintUserToken({ user: opts.user, org: opts.org, days: opts.days, secret, issuer: pick("AUTH_ISSUER"), audience: pick("AUTH_AUDIENCE") });
  const link = `${opts.edge.replace(/\/+$/, "")}/#token=${token}`;
  console.log(token);
  console.log(`login link: ${link}`);
}

const invoked = process.argv[1] ? resolve(process.argv[1]) : "";
if (invoked.endsWith("scripts/token.ts")) {
  main(process.argv).catch((err: unknown) => {
    console.error(String(err));
    process.exit(1);
  });
}
