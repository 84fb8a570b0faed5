/**
 * "Notify me on this device": Web Push opt-in for this browser. On, it asks for permission,
 * subscribes the service worker's push manager with the edge's VAPID key
 * (`GET /v1/push/key`) and hands the subscription to the edge (`POST /v1/push/subscriptions`);
 * off, it tells the edge to forget it (`DELETE`) and unsubscribes. The edge then pushes when
 * a task waits for you, reaches its budget or ends; the service worker shows it (sw.js).
 */
import { useEffect, useState } from "preact/hooks";
import { useSession } from "./session.tsx";

type State = "unknown" | "unsupported" | "off" | "on" | "busy";

export function NotifyToggle() {
  const { token } = useSession();
  const [state, setState] = useState<State>("unknown");
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
      setState("unsupported");
      return;
    }
    void navigator.serviceWorker.ready
      .then((registration) => registration.pushManager.getSubscription())
      .then((subscription) => setState(subscription ? "on" : "off"), () => setState("off"));
  }, []);

  const call = async (method: string, path: string, body?: unknown): Promise<Response> => {
    const res = await fetch(path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok && res.status !== 404) throw new Error(`the edge answered ${res.status}`);
    return res;
  };

  const turnOn = async () => {
    if ((await Notification.requestPermission()) !== "granted") throw new Error("Notifications are blocked for this site in the browser's settings.");
    const key = await call("GET", "/v1/push/key");
    if (!key.ok) throw new Error("This edge has no push keys (VAPID) configured.");
    const { publicKey } = (await key.json()) as { publicKey: string };
    const registration = await navigator.serviceWorker.ready;
    const subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: publicKey });
    const saved = await call("POST", "/v1/push/subscriptions", subscription.toJSON());
    if (!saved.ok) throw new Error("This edge has no push keys (VAPID) configured.");
  };

  const turnOff = async () => {
    const registration = await navigator.serviceWorker.ready;
    const subscription = await registration.pushManager.getSubscription();
    if (!subscription) return;
    await call("DELETE", "/v1/push/subscriptions", { endpoint: subscription.endpoint });
    await subscription.unsubscribe();
  };

  const toggle = async (on: boolean) => {
    setState("busy");
    setError(null);
    try {
      await (on ? turnOn() : turnOff());
      setState(on ? "on" : "off");
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setState(on ? "off" : "on");
    }
  };

  if (state === "unsupported" || state === "unknown") return null;
  return (
    <div class="notify-toggle" style={{ marginTop: "1.5rem" }}>
      {/* Styled here rather than in styles.css, whose form rules make inputs full-width blocks; the box is a 44 px touch target. */}
      <label style={{ display: "flex", alignItems: "center", gap: "0.6rem", fontWeight: "normal" }}>
        <input
          type="checkbox"
          style={{ width: "44px", height: "44px", margin: 0, flex: "none" }}
          checked={state === "on"}
          disabled={state === "busy"}
          onChange={(e) => void toggle(e.currentTarget.checked)}
        />
        Notify me on this device
      </label>
      {error && (
        <p class="banner error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
