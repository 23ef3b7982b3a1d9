// Loaded by index.html. The test calls window.heraldSubscribe(vapidPublicKey) through WebDriver BiDi.
'use strict';

window.heraldReceived = [];
navigator.serviceWorker.addEventListener('message', (event) => window.heraldReceived.push(event.data));

function urlBase64ToBytes(text) {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function withTimeout(promise, ms, what) {
  return Promise.race([promise, sleep(ms).then(() => { throw new Error(`${what}: no answer within ${ms} ms`); })]);
}

/** Registers the service worker and subscribes; resolves with the subscription's JSON as a string. */
window.heraldSubscribe = async (vapidPublicKey, { attempts = 20, timeoutMs = 2000 } = {}) => {
  await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  const registration = await navigator.serviceWorker.ready;
  const errors = [];
  // Firefox's push service starts a moment after the browser: the first subscribe() may get no answer.
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const subscription = await withTimeout(
        registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: urlBase64ToBytes(vapidPublicKey) }),
        timeoutMs,
        `subscribe() attempt ${attempt}`,
      );
      return JSON.stringify({ attempt, errors, subscription: subscription.toJSON() });
    } catch (error) {
      errors.push(`${error.name}: ${error.message}`);
      await sleep(250);
    }
  }
  throw new Error(`subscribe() failed ${attempts} times: ${errors.join('; ')}`);
};
