/**
 * Adding a runner: a fresh single-use registration token (an hour), and the one `docker run`
 * that installs the runner image on a Docker host with this edge's URL and the token filled
 * in (the README's "Installing a runner"), as text to copy and as a QR code.
 */
import { useEffect, useState } from "preact/hooks";
import type { RegistrationTokenResponse } from "../../shared/api.ts";
import { QRCode } from "./qr-code.tsx";
import { BackLink, Link } from "./router.tsx";
import { useSession } from "./session.tsx";
import { messageOf } from "./sign-in.tsx";

/** The command that installs a runner; the model key comes from the host's shell (`-e NAME`). */
export function runnerCommand(edgeURL: string, token: string): string {
  return [
    "docker run -d --name tether-runner --restart unless-stopped --init --network host \\",
    "  -v /var/run/docker.sock:/var/run/docker.sock -v /var/lib/tether-runner:/var/lib/tether-runner \\",
    `  -e TETHER_EDGE_URL=${edgeURL} -e TETHER_REGISTRATION_TOKEN=${token} \\`,
    "  -e ANTHROPIC_API_KEY tether-runner:latest",
  ].join("\n");
}

export function AddRunner() {
  const { client } = useSession();
  const [made, setMade] = useState<RegistrationTokenResponse | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let stale = false;
    setError(null);
    client.createRegistrationToken().then(
      (t) => !stale && setMade(t),
      (err: unknown) => !stale && setError(messageOf(err)),
    );
    return () => {
      stale = true;
    };
  }, [client, attempt]);

  const command = made ? runnerCommand(location.origin, made.token) : null;
  return (
    <main id="main" class="page">
      <header class="page-head">
        <BackLink href="/runners" screen="Runners" />
        <h1>Add a runner</h1>
      </header>
      {error && (
        <div class="banner error" role="alert">
          <p>{error}</p>
          <button type="button" class="button ghost" onClick={() => setAttempt((a) => a + 1)}>
            Try again
          </button>
        </div>
      )}
      {!command && !error && <p class="muted center">Making a registration token…</p>}
      {command && made && (
        <div class="stack">
          <p>
            On a Linux host with Docker and the images <code>tether-runner:latest</code> and <code>tether-worker:latest</code>, set{" "}
            <code>ANTHROPIC_API_KEY</code> in the shell and run:
          </p>
          <pre class="command" aria-label="The command to run on the host">
            {command}
          </pre>
          <div class="row wrap">
            <button
              type="button"
              class="button primary"
              onClick={() => {
                void navigator.clipboard?.writeText(command).then(() => setCopied(true));
              }}
            >
              {copied ? "Copied" : "Copy the command"}
            </button>
            <button
              type="button"
              class="button ghost"
              onClick={() => {
                setCopied(false);
                setMade(null);
                setAttempt((a) => a + 1);
              }}
            >
              New token
            </button>
          </div>
          <p class="hint">
            The token works once, until {new Date(made.expiresAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}. The runner appears in{" "}
            <Link href="/runners" class="inline-target">
              Runners
            </Link>{" "}
            when it connects.
          </p>
          <div class="qr-box">
            <QRCode text={command} label="QR code of the command" size={300} />
            <p class="hint">Scan it from the host's side, e.g. to paste on a laptop next to it.</p>
          </div>
        </div>
      )}
    </main>
  );
}
