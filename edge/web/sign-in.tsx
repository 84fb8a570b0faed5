/** Sign in by pasting a token; the login link (`/#token=…`) signs in without this screen. */
import { useState } from "preact/hooks";
import { TetherClient, TetherError } from "../../shared/client/light.ts";

export function SignIn({ onSignedIn, notice }: { onSignedIn: (token: string) => void; notice: string | null }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    const value = token.trim().replace(/^Bearer\s+/i, "");
    if (!value) {
      setError("Paste the token that `npm run token` printed.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await new TetherClient({ baseURL: location.origin, token: value }).listTasks({ limit: 1 });
      onSignedIn(value);
    } catch (err) {
      setError(err instanceof TetherError && err.status === 401 ? "The edge refused this token. Is it whole, and not expired?" : messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="sign-in" id="main">
      <img src="/icon.svg" alt="" width={72} height={72} />
      <h1>Tether</h1>
      <p class="lead">Start coding tasks from your phone; they run on machines you own.</p>
      {notice && (
        <p class="banner warn" role="alert">
          {notice}
        </p>
      )}
      <form onSubmit={submit} class="card stack" noValidate>
        <label for="token">Your token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          placeholder="eyJhbGciOi…"
          value={token}
          aria-invalid={error ? "true" : undefined}
          aria-describedby={error ? "token-error token-hint" : "token-hint"}
          onInput={(e) => setToken(e.currentTarget.value)}
        />
        {error && (
          <p id="token-error" class="field-error" role="alert">
            {error}
          </p>
        )}
        <p id="token-hint" class="hint">
          On the machine that runs Tether, <code>npm run token -- --user you</code> prints a token and a login link. Open the link
          on this device, or paste the token here.
        </p>
        <button type="submit" class="button primary" disabled={busy}>
          {busy ? "Checking…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}

export function messageOf(err: unknown): string {
  if (err instanceof TetherError && err.code === "network") return "Cannot reach the edge. Are you offline? Tether keeps trying.";
  if (err instanceof TetherError) return err.message;
  return err instanceof Error ? err.message : String(err);
}
