// The service worker: decrypted push payloads go to the test server and to every open page.
'use strict';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  const report = { text: event.data ? event.data.text() : null, at: Date.now() };
  event.waitUntil(
    Promise.all([
      fetch('/pushed', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(report) }),
      self.clients
        .matchAll({ type: 'window', includeUncontrolled: true })
        .then((clients) => clients.forEach((client) => client.postMessage(report))),
    ]),
  );
});

self.addEventListener('pushsubscriptionchange', (event) => {
  event.waitUntil(fetch('/pushed', { method: 'POST', body: JSON.stringify({ subscriptionChange: true }) }));
});
