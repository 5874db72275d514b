// ZenPAY's service worker: serves the app's shell (HTML, scripts, styles, icons) offline. It never
// caches the API: every balance and payment shown comes from the server. The cache's version and the
// shell's files are filled in by the build (vite.config.mts).
const cacheName = 'zenpay-shell-__VERSION__';
const shell = __SHELL__;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(cacheName).then((cache) => cache.addAll(shell)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((name) => name.startsWith('zenpay-shell-') && name !== cacheName).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (/^\/(graphql|webhooks|healthz)(\/|$)/.test(url.pathname)) return;
  if (request.mode === 'navigate') {
    // The network first (a fresh shell when online), the cached shell when not.
    event.respondWith(fetch(request).catch(() => caches.match('/', { cacheName }).then((cached) => cached || Response.error())));
    return;
  }
  event.respondWith(caches.match(request, { cacheName }).then((cached) => cached || fetch(request)));
});
