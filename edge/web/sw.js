// The app shell's service worker: it caches the shell so the app opens offline and at
// once; the API (/v1, /healthz) always goes to the network. The build fills in the version
// and the shell's files; a new version replaces the old cache. It also shows Web Push
// notifications (`{ taskID, title, body, url }`, one per task: a newer one replaces it) and
// opens the task's page when one is tapped.
const VERSION = "__VERSION__";
const SHELL = __SHELL__;
const CACHE = `tether-shell-${VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((key) => key.startsWith("tether-shell-") && key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/v1/") || url.pathname === "/healthz") return;
  if (request.mode === "navigate") {
    // Network first, so a deploy shows at once; the cached shell when offline.
    event.respondWith(fetch(request).catch(() => caches.match("/", { cacheName: CACHE })));
    return;
  }
  event.respondWith(caches.match(request, { cacheName: CACHE }).then((hit) => hit ?? fetch(request)));
});

self.addEventListener("push", (event) => {
  event.waitUntil(showPush(event.data));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(openNotification(event.notification));
});

/** Shows a push's notification; a push that is not a task's JSON shows a plain one. */
function showPush(data) {
  let push = null;
  try {
    push = data ? data.json() : null;
  } catch {
    push = null;
  }
  const title = typeof push?.title === "string" && push.title ? push.title : "Tether";
  return self.registration.showNotification(title, {
    body: typeof push?.body === "string" ? push.body : "",
    tag: typeof push?.taskID === "string" ? `task-${push.taskID}` : "tether",
    icon: "/icon-192.png",
    data: { url: typeof push?.url === "string" ? push.url : "/" },
  });
}

/** Focuses a window of the app on the notification's page (this origin only), or opens one. */
async function openNotification(notification) {
  const url = new URL(notification.data?.url ?? "/", self.location.origin);
  const target = url.origin === self.location.origin ? url.href : new URL("/", self.location.origin).href;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const client of windows) {
    if (new URL(client.url).origin !== self.location.origin) continue;
    const moved = (await client.navigate(target).catch(() => null)) ?? client;
    // Focus is allowed only while a tap is being handled; the page has moved either way.
    return moved.focus().catch(() => moved);
  }
  return self.clients.openWindow(target);
}
