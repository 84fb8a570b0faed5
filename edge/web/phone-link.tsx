/** Shows the login link as a QR code, so a phone signs in by scanning the desktop's screen. */
import { useEffect, useRef, useState } from "preact/hooks";
import { QRCode } from "./qr-code.tsx";
import { loginLink, useSession } from "./session.tsx";

export function PhoneLinkButton() {
  const [open, setOpen] = useState(false);
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    if (open) dialog.current?.showModal();
    else dialog.current?.close();
  }, [open]);
  return (
    <>
      <button type="button" class="button ghost desktop-only" onClick={() => setOpen(true)}>
        Open on phone
      </button>
      <dialog ref={dialog} class="dialog" aria-labelledby="phone-link-title" onClose={() => setOpen(false)}>
        {open && <PhoneLink onDone={() => setOpen(false)} />}
      </dialog>
    </>
  );
}

function PhoneLink({ onDone }: { onDone: () => void }) {
  const { token } = useSession();
  const link = loginLink(token);
  const [copied, setCopied] = useState(false);
  return (
    <div class="phone-link">
      <h2 id="phone-link-title">Open Tether on your phone</h2>
      <p>Scan this code with the phone's camera. It signs the phone in as you.</p>
      <QRCode text={link} label="QR code of your login link" />
      <p class="hint">Treat it like a password: anyone who scans it can start tasks as you.</p>
      <div class="row">
        <button
          type="button"
          class="button ghost"
          onClick={() => {
            void navigator.clipboard?.writeText(link).then(() => setCopied(true));
          }}
        >
          {copied ? "Copied" : "Copy link"}
        </button>
        <button type="button" class="button" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}
