/**
 * The web console in a real browser (Debian's Chromium through playwright-core): a developer signs
 * in, creates an app, sends a test push to a device the test holds open and sees it delivered,
 * revokes the key and sees the next push refused, and signs out. Then the attacks: pages on
 * another origin (another loopback port) that post a form, fetch with credentials and post
 * text/plain; a login CSRF; a request without its token. Screenshots of every page go to
 * docs/console/.
 *
 * Needs /usr/bin/chromium (`bash .ci/install-browser`). Under CI a missing browser fails the run.
 */
import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { run as admin } from '../../src/cli/admin.js';
import { generateVapidKeyPair, signVapidJwt, vapidAuthorizationHeader } from '../../src/crypto/vapid.js';
import { post, vapidHeader } from '../helpers/sender.js';
import { CHANNEL_A, CHANNEL_B, RawDevice, type Running } from '../helpers/herald.js';
import { ConsoleClient, createAccount, PASSWORD, startConsoleHerald } from '../console/harness.js';
import { CHROMIUM_CANDIDATES, findChromium, launchChromium, startAttackerSite, type AttackerSite } from './chromium.js';

const binary = findChromium();
const inCi = Boolean(process.env.CI) && process.env.CI !== 'false' && process.env.CI !== '0';
const missing = `Chromium not found (looked at ${process.env.HERALD_CHROMIUM ?? CHROMIUM_CANDIDATES.join(', ')}); install it with: bash .ci/install-browser`;
const SHOTS = path.join(import.meta.dirname, '../../docs/console');
const EMAIL = 'dev@example.com';
const title = 'browser: the web console in Chromium';

if (binary) {
  describe(title, { timeout: 120_000 }, () => consoleSuite(binary));
} else if (inCi) {
  it(title, () => assert.fail(`CI must run the console browser test. ${missing}`));
} else {
  describe(title, { skip: missing }, () => undefined);
}

function consoleSuite(binary: string): void {
  let running: Running;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let attacker: AttackerSite;
  let device: RawDevice;
  let subscription: string;
  let appId = '';
  const imported = generateVapidKeyPair();
  let importedId = '';
  /** Until the imported app's charts route counts `count` accepted pushes this hour (the counters flush every 5 s). */
  const untilAccepted = async (count: number) => {
    const client = new ConsoleClient(running.origin);
    await client.signIn(EMAIL);
    for (let tries = 0; tries < 60; tries++) {
      const answer = await client.request('GET', `/console/api/apps/${importedId}/stats`);
      if ((answer.body.buckets as Array<{ accepted: number }>).at(-1)?.accepted === count) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.fail(`the charts never counted ${count} pushes`);
  };

  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const go = async (id: string) => {
    await page.click(`nav a[data-page="${id}"]`);
    await page.waitForSelector(`nav a[data-page="${id}"][aria-current="page"]`);
  };
  /** The apps of the account as the API sees them (a second, signed-in client). */
  const appsNow = async () => {
    const client = new ConsoleClient(running.origin);
    await client.signIn(EMAIL);
    return ((await client.request('GET', '/console/api/apps')).body.apps as Array<{ id: string; name: string; revokedAt: number | null }>);
  };

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    running = await startConsoleHerald();
    await createAccount(running.origin, EMAIL);
    attacker = await startAttackerSite();
    browser = await launchChromium(binary);
    context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    page = await context.newPage();
  });

  after(async () => {
    device?.close();
    await browser?.close();
    await attacker?.close();
    await running?.stop();
  });

  it('GET / leads to the sign-in page, and the sign-in gives a new session id in a __Host- cookie', async () => {
    const answer = await page.goto(`${running.origin}/`);
    assert.equal(new URL(page.url()).pathname, '/console/');
    assert.match(answer?.headers()['content-security-policy'] ?? '', /frame-ancestors 'none'/);
    await page.waitForSelector('form#sign-in');
    await shot('sign-in');
    const before = await context.cookies(running.origin);
    assert.deepEqual(before.map((cookie) => cookie.name), ['__Host-herald-console-pre']);
    await page.fill('input[name=email]', EMAIL);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('form#sign-in button[type=submit]');
    await page.waitForSelector('#sign-out');
    const afterCookies = await context.cookies(running.origin);
    const session = afterCookies.find((cookie) => cookie.name === '__Host-herald-console');
    assert.ok(session, 'a session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.equal(session.path, '/');
    assert.ok(!before.some((cookie) => cookie.value === session.value), 'the session id is not any value the browser held before');
    assert.ok(!afterCookies.some((cookie) => cookie.name === '__Host-herald-console-pre'), 'the pre-session cookie is gone');
  });

  it('creates an app and shows its private key once', async () => {
    await page.fill('form#create-app input[name=name]', 'Weather alerts');
    await page.click('form#create-app button[type=submit]');
    await page.waitForSelector('#private-key');
    assert.match((await page.textContent('#private-key')) ?? '', /^[A-Za-z0-9_-]{43}$/);
    await shot('apps');
    appId = (await page.getAttribute('#apps tbody tr', 'data-app')) ?? '';
    assert.match(appId, /^[0-9a-f]{32}$/);
  });

  it('sends a test push to a device the test holds open, and sees it delivered', async () => {
    const publicKey = (await page.textContent(`#apps tr[data-app="${appId}"] code.key`)) ?? '';
    device = await RawDevice.connect(running.wsUrl);
    await device.hello();
    const endpoint = await device.register(CHANNEL_A, publicKey);
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    subscription = JSON.stringify({ endpoint, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') } });
    await go('send');
    await page.fill('form#send-push textarea[name=subscription]', subscription);
    await page.selectOption('form#send-push select[name=app]', appId);
    await page.click('form#send-push button[type=submit]');
    const notification = await device.next('notification', 5000);
    assert.equal(await page.textContent('#push-status'), '201');
    device.ack(notification);
    await page.waitForSelector('#push-state:has-text("delivered")', { timeout: 10_000 });
    await shot('send');
  });

  it('revokes the key with the password again, and the next push is refused (410 errno 27)', async () => {
    await go('apps');
    await page.click(`#apps tr[data-app="${appId}"] button`);
    await page.fill('form#revoke-app input[name=password]', 'not the password');
    await page.click('form#revoke-app button[type=submit]');
    await page.waitForSelector('p[role=alert]:has-text("errno 613")');
    await page.fill('form#revoke-app input[name=password]', PASSWORD);
    await page.click('form#revoke-app button[type=submit]');
    await page.waitForSelector(`#apps tr[data-app="${appId}"] td.state:has-text("revoked")`);
    await shot('apps-revoked');
    await go('send');
    await page.fill('form#send-push textarea[name=subscription]', subscription);
    await page.selectOption('form#send-push select[name=app]', appId);
    // Signed with the right key (still in this tab's memory): Herald itself refuses it.
    await page.click('form#send-push button[type=submit]');
    await page.waitForSelector('#push-status');
    assert.equal(await page.textContent('#push-status'), '410');
    assert.match((await page.textContent('#push-error')) ?? '', /errno 27/);
  });

  it('imports a public key, with a header it signed as proof, by keyboard alone; a key that is not a P-256 point is refused with errno 632', async () => {
    await go('apps');
    await page.focus('details > summary');
    await page.keyboard.press('Enter');
    await page.focus('form#import-app input[name=name]');
    await page.keyboard.type('Imported app');
    await page.keyboard.press('Tab');
    await page.keyboard.type('BAAAA');
    await page.keyboard.press('Tab');
    await page.keyboard.type(vapidHeader(running.origin, imported));
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter'); // the focused submit button
    await page.waitForSelector('p[role=alert]:has-text("errno 632")');
    await page.fill('form#import-app input[name=publicKey]', '');
    await page.focus('form#import-app input[name=publicKey]');
    await page.keyboard.type(imported.publicKey);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#apps td:has-text("Imported app")');
    const found = (await appsNow()).find((app) => app.name === 'Imported app');
    assert.ok(found, 'the imported app is listed by the API');
    importedId = found.id;
  });

  it("charts an app's pushes and refreshes them while the page is visible, and stops polling when hidden", async () => {
    const holder = await RawDevice.connect(running.wsUrl);
    try {
      await holder.hello();
      const endpoint = await holder.register(CHANNEL_B, imported.publicKey);
      const signed = { authorization: vapidHeader(running.origin, imported) };
      for (let i = 0; i < 3; i++) assert.equal((await post(endpoint, signed)).status, 201);
      await untilAccepted(3);
      await go('charts');
      await page.selectOption('form#chart-options select[name=app]', { label: 'Imported app' });
      await page.waitForSelector('#charts .legend li:has-text("accepted: 3")');
      await shot('charts');
      // Live: two more pushes show up at the next refresh, with no reload.
      for (let i = 0; i < 2; i++) assert.equal((await post(endpoint, signed)).status, 201);
      await page.waitForSelector('#charts .legend li:has-text("accepted: 5")', { timeout: 25_000 });
      const daily = page.waitForResponse((response) => response.url().includes('range=days'));
      await page.check('form#chart-options input[value=days]');
      await daily;
      await page.waitForSelector('#charts .legend li:has-text("accepted: 5")');
      // Hidden: no request until it is visible again (counted from the moment the page is hidden).
      await page.evaluate(`Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true }); document.dispatchEvent(new Event('visibilitychange'))`);
      let polls = 0;
      const count = (request: { url(): string }) => void (request.url().includes('/stats?') && polls++);
      page.on('request', count);
      await new Promise((resolve) => setTimeout(resolve, 11_000));
      assert.equal(polls, 0, 'no stats request while hidden');
      await page.evaluate(`Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true }); document.dispatchEvent(new Event('visibilitychange'))`);
      await page.waitForTimeout(500);
      assert.equal(polls, 1, 'visible again: one request at once');
      page.off('request', count);
      await page.setViewportSize({ width: 360, height: 740 });
      await page.waitForSelector('#charts svg');
      assert.ok(await page.evaluate('document.documentElement.scrollWidth <= 360'), 'no page-wide horizontal scroll at 360 px');
      await shot('charts-360px');
      await page.setViewportSize({ width: 1100, height: 800 });
    } finally {
      holder.close();
    }
  });

  it('diagnoses a VAPID JWT: the aud is not this Herald', async () => {
    const keys = (await import('../../src/crypto/vapid.js')).generateVapidKeyPair();
    const jwt = signVapidJwt({ audience: 'https://elsewhere.example', expiresAt: Math.floor(Date.now() / 1000) + 3600, subject: 'mailto:a@example.com', ...keys });
    await go('vapid');
    await page.fill('form#vapid-check textarea', vapidAuthorizationHeader(jwt, keys.publicKey));
    await page.click('form#vapid-check button[type=submit]');
    await page.waitForSelector('li[data-check="aud"].failed');
    assert.ok(await page.$('li[data-check="signature"].ok'));
    await shot('vapid');
  });

  it('lists the sessions and, for an operator, nodes, bans and counts', async () => {
    await go('sessions');
    await page.waitForSelector('table tbody tr');
    await shot('sessions');
    assert.equal(await admin(['accounts', 'operator', EMAIL, '--data-dir', running.dataDir], () => {}), 0);
    assert.equal(await admin(['nodes', 'add', 'push', running.wsUrl, '--data-dir', running.dataDir], () => {}), 0);
    await page.reload();
    await go('operator');
    await page.waitForSelector('dl.stats');
    await page.waitForSelector('table tbody tr td:has-text("push")');
    await shot('operator');
    // At 360 px wide the pages still fit (tables scroll inside themselves).
    await page.setViewportSize({ width: 360, height: 740 });
    await go('apps');
    await page.waitForSelector('#apps tbody tr');
    assert.ok(await page.evaluate('document.documentElement.scrollWidth <= 360'), 'no page-wide horizontal scroll at 360 px');
    await shot('apps-360px');
    await page.setViewportSize({ width: 1100, height: 800 });
  });

  it('a form POST, a credentialed fetch and a text/plain POST from another origin are all refused, and nothing changes', async () => {
    const target = `${running.origin}/console/api/apps`;
    attacker.page('/form', `<form method="POST" action="${target}"><input name="name" value="evil"></form><script>document.forms[0].submit()</script>`);
    attacker.page('/fetch', `<script>
      window.results = [];
      fetch(${JSON.stringify(target)}, { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: '{"name":"evil"}' })
        .then((r) => results.push('json ' + r.status), (e) => results.push('json blocked'));
      fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: '{"name":"evil"}' })
        .then((r) => results.push('text ' + r.type), (e) => results.push('text blocked'));
    </script>`);
    const before = await appsNow();
    const evil = await context.newPage();
    const refused = evil.waitForResponse((response) => response.url() === target && response.request().method() === 'POST');
    await evil.goto(`${attacker.origin}/form`);
    assert.equal((await refused).status(), 403);
    assert.match((await evil.textContent('body')) ?? '', /"errno":620/);
    // The text/plain answer (403) is not even handed to the other origin's page: the console's
    // Cross-Origin-Resource-Policy: same-origin makes Chromium drop it (ERR_BLOCKED_BY_RESPONSE).
    const failures: string[] = [];
    evil.on('requestfailed', (request) => {
      if (request.url() === target) failures.push(`${request.headers()['content-type']} ${request.failure()?.errorText}`);
    });
    await evil.goto(`${attacker.origin}/fetch`);
    await evil.waitForFunction(() => (globalThis as unknown as { results: string[] }).results.length === 2);
    const results = await evil.evaluate(() => (globalThis as unknown as { results: string[] }).results);
    assert.ok(results.includes('json blocked'), `the JSON fetch needs a preflight nobody answers: ${results.join(', ')}`);
    assert.ok(failures.some((failure) => /text\/plain .*BLOCKED_BY_RESPONSE/.test(failure)), failures.join('; '));
    await evil.close();
    assert.deepEqual(await appsNow(), before);
  });

  it('a request from the console page without its CSRF token is refused with 403 errno 621', async () => {
    const answer = await page.evaluate(async () => {
      const response = await fetch('/console/api/apps', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"no token"}' });
      return { status: response.status, body: (await response.json()) as { errno: number } };
    });
    assert.deepEqual([answer.status, answer.body.errno], [403, 621]);
  });

  it("signs out: the session ends on the server and the cookie goes", async () => {
    const cookie = (await context.cookies(running.origin)).find((each) => each.name === '__Host-herald-console');
    await page.click('#sign-out');
    await page.waitForSelector('form#sign-in');
    const stale = await fetch(`${running.origin}/console/api/apps`, { headers: { cookie: `__Host-herald-console=${cookie?.value}`, 'sec-fetch-site': 'same-origin' } });
    assert.equal(stale.status, 401);
  });

  it("login CSRF: signing in with the attacker's pre-session token is refused (403 errno 623)", async () => {
    // The attacker fetches a sign-in token for their own pre-session...
    const theirs = new ConsoleClient(running.origin);
    await theirs.refresh();
    await createAccount(running.origin, 'attacker@example.com');
    // ...and makes the victim's browser (its own pre-session cookie) sign in with it.
    const answer = await page.evaluate(async (token) => {
      const response = await fetch('/console/api/session', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': token },
        body: JSON.stringify({ email: 'attacker@example.com', password: 'a long and unusual passphrase' }),
      });
      return { status: response.status, body: (await response.json()) as { errno: number } };
    }, theirs.csrfToken);
    assert.deepEqual([answer.status, answer.body.errno], [403, 623]);
    assert.ok(!(await context.cookies(running.origin)).some((each) => each.name === '__Host-herald-console'));
  });
}
