/** Settings: who is signed in, the runners, the saved environments, opening the app on a phone, and signing out (confirmed). */
import { useState } from "preact/hooks";
import { PhoneLinkButton } from "./phone-link.tsx";
import { BackLink, Link } from "./router.tsx";
import { useSession } from "./session.tsx";

export function Settings() {
  const { user, signOut } = useSession();
  const [confirming, setConfirming] = useState(false);
  return (
    <main id="main" class="page">
      <header class="page-head">
        <BackLink href="/" screen="Tasks" />
        <h1>Settings</h1>
      </header>
      <div class="stack">
        <section class="card stack" aria-labelledby="account-title">
          <h2 id="account-title">Account</h2>
          <p class="settings-line">{user ? `Signed in as ${user}` : "Signed in with a token"}</p>
          <Link href="/runners" class="button ghost">
            Runners
          </Link>
          <Link href="/environments" class="button ghost">
            Environments
          </Link>
          <PhoneLinkButton />
        </section>
        <section class="card stack" aria-labelledby="sign-out-title">
          <h2 id="sign-out-title">Sign out</h2>
          <p class="settings-line">This device forgets your token. You need the token or a login link to come back.</p>
          {confirming ? (
            <div class="confirm" role="group" aria-label="Confirm sign out">
              <span>Sign out of this device?</span>
              <div class="row end">
                <button type="button" class="button ghost" onClick={() => setConfirming(false)}>
                  Stay signed in
                </button>
                <button type="button" class="button danger" onClick={() => signOut()}>
                  Yes, sign out
                </button>
              </div>
            </div>
          ) : (
            <button type="button" class="button ghost danger-text" onClick={() => setConfirming(true)}>
              Sign out
            </button>
          )}
        </section>
      </div>
    </main>
  );
}
