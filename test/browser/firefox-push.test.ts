/**
 * End to end with a real browser: headless Firefox ESR subscribes through Herald from a page's
 * service worker, the npm `web-push` library sends to the endpoint, Firefox decrypts the message in
 * the service worker's `push` event, acks it, and Herald no longer stores it.
 *
 * Needs /usr/bin/firefox-esr (`bash .ci/install-browser`). Under CI a missing Firefox fails the run;
 * elsewhere the test is skipped with that hint.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import webpush from 'web-push';
import { startHerald, type Running } from '../helpers/herald.js';
import { sendWithWebPush } from '../helpers/sender.js';
import { waitFor } from '../helpers/wait.js';
import { findFirefox, launchFirefox, FIREFOX_CANDIDATES, type Firefox } from './firefox.js';
import { startPageServer, type PageServer } from './page-server.js';

const binary = findFirefox();
const inCi = Boolean(process.env.CI) && process.env.CI !== 'false' && process.env.CI !== '0';
const missing = `Firefox not found (looked at ${process.env.HERALD_FIREFOX ?? FIREFOX_CANDIDATES.join(', ')}); install it with: bash .ci/install-browser`;

const vapidKeys = webpush.generateVAPIDKeys();
const vapidDetails = { subject: 'mailto:ops@example.com', publicKey: vapidKeys.publicKey, privateKey: vapidKeys.privateKey };

interface SubscriptionJson {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

const title = 'browser: real Firefox receives web-push messages through Herald';

if (binary) {
  describe(title, { timeout: 60_000 }, () => browserSuite(binary));
} else if (inCi) {
  // CI must not pass by skipping this: a missing Firefox fails the run.
  it(title, () => assert.fail(`CI must run the browser test. ${missing}`));
} else {
  describe(title, { skip: missing }, () => undefined);
}

function browserSuite(binary: string): void {
  let running: Running | undefined;
  let page: PageServer | undefined;
  let firefox: Firefox | undefined;
  let context: string;
  let subscription: SubscriptionJson;
  let uaid: string;
  const started = Date.now();

  before(async () => {
    running = await startHerald();
    page = await startPageServer();
    firefox = await launchFirefox(binary, {
      prefs: {
        'dom.push.enabled': true,
        'dom.push.connection.enabled': true,
        'dom.push.serverURL': running.wsUrl,
        'dom.push.testing.allowInsecureServerURL': true,
        'dom.push.testing.ignorePermission': true,
        'dom.push.requestTimeout': 5000,
        'dom.push.retryBaseInterval': 500,
        'dom.push.loglevel': 'Error',
        'dom.serviceWorkers.enabled': true,
        'dom.serviceWorkers.testing.enabled': true,
        'permissions.default.desktop-notification': 1,
      },
    });
    context = await firefox.bidi.firstContext();
    // The page stays open for the whole test: Firefox drops messages for an origin with no history
    // unless a tab of that origin is open.
    await firefox.bidi.navigate(context, `${page.origin}/`);
  });

  after(async () => {
    if (firefox) {
      const leaks = [...new Set(firefox.leaks)];
      if (leaks.length > 0) console.log(`# Firefox tried to leave loopback ${firefox.leaks.length} times (stopped by the trap proxy): ${leaks.join(' | ')}`);
      await firefox.close();
    }
    await page?.close();
    await running?.stop();
    console.log(`# browser test took ${Date.now() - started} ms`);
  });

  it('a page subscribes with a VAPID key and gets a v2 endpoint from Herald', async () => {
    const t0 = Date.now();
    const answer = JSON.parse(
      await firefox!.bidi.evaluate(context, `window.heraldSubscribe(${JSON.stringify(vapidKeys.publicKey)})`),
    ) as { attempt: number; errors: string[]; subscription: SubscriptionJson };
    console.log(`# subscribed on attempt ${answer.attempt} in ${Date.now() - t0} ms${answer.errors.length ? ` (${answer.errors.join('; ')})` : ''}`);
    subscription = answer.subscription;
    assert.ok(subscription.endpoint.startsWith(`${running!.origin}/wpush/v2/`), subscription.endpoint);
    assert.ok(subscription.keys.p256dh && subscription.keys.auth, 'subscription has keys');

    const uaids = running!.herald.connectedUaids();
    assert.equal(uaids.length, 1, 'exactly one device (Firefox) is connected');
    uaid = uaids[0] as string;
    assert.ok(await (await running!.store()).getDevice(uaid), 'Firefox is a stored device');
    assert.equal(await (await running!.store()).countChannels(uaid), 1);
  });

  for (const encoding of ['aes128gcm', 'aesgcm'] as const) {
    it(`web-push ${encoding}: decrypted in the service worker, acked, gone from Herald`, async () => {
      assert.ok(subscription, 'subscribed first');
      const text = `hello Firefox via Herald, ${encoding}, ${Math.random().toString(36).slice(2)} ✓`;
      const t0 = Date.now();
      const response = await sendWithWebPush(subscription, text, { TTL: 120, contentEncoding: encoding, vapidDetails });
      assert.equal(response.status, 201, await response.text());

      const report = await page!.waitForReport((candidate) => candidate.text === text, 20_000);
      assert.equal(report.text, text);
      const t1 = Date.now();
      await waitFor(async () => (await (await running!.store()).countMessages(uaid, Date.now())) === 0, 10_000, 'the ack to empty storage');
      console.log(`# ${encoding}: sent to service worker in ${t1 - t0} ms, storage empty ${Date.now() - t1} ms later`);

      // The open page heard it from the service worker too (its postMessage may trail the report
      // on a busy machine, so wait for it rather than look once).
      await waitFor(
        async () => {
          const received = JSON.parse(await firefox!.bidi.evaluate(context, 'JSON.stringify(window.heraldReceived)')) as Array<{ text: string }>;
          return received.some((entry) => entry.text === text);
        },
        10_000,
        'the open page to hear the message from its service worker',
      );
    });
  }
}
