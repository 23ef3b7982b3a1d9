/**
 * Single sign-on in a real browser (issue 12, docs/sso.md): Debian's Chromium, three sites on
 * loopback names (`--host-resolver-rules`) over TLS from a CA made here, trusted by the SPKI of
 * its server certificate (sso-tls.ts says why). Herald's accounts server is
 * accounts.herald.test; the example relying app runs twice, as console.herald.test (same-site:
 * the frame) and app.other.test (cross-site: the redirect); evil.herald.test and
 * evil.other.test are pages on no list.
 *
 * Needs /usr/bin/chromium (`bash .ci/install-browser`). Under CI a missing browser fails the run.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { run as admin } from '../../src/cli/admin.js';
import { buildSsoApp, type SsoApp } from '../../examples/sso-app/app.js';
import { startHerald, type Running } from '../helpers/herald.js';
import { CHROMIUM_CANDIDATES, findChromium, launchChromium } from './chromium.js';
import { freePort, loopbackFetch, makeTestTls, type TestTls } from './sso-tls.js';

const binary = findChromium();
const inCi = Boolean(process.env.CI) && process.env.CI !== 'false' && process.env.CI !== '0';
const missing = `Chromium not found (looked at ${process.env.HERALD_CHROMIUM ?? CHROMIUM_CANDIDATES.join(', ')}); install it with: bash .ci/install-browser`;
const title = 'browser: single sign-on across origins in Chromium';
const EMAIL = 'sso-dev@example.com';
const PASSWORD = 'a long and unusual passphrase';

if (binary) {
  describe(title, { timeout: 180_000 }, () => ssoSuite(binary));
} else if (inCi) {
  it(title, () => assert.fail(`CI must run the SSO browser test. ${missing}`));
} else {
  describe(title, { skip: missing }, () => undefined);
}

interface Site {
  origin: string;
  relying: SsoApp;
}

/** `herald admin accounts sso-app …` as the operator runs it; answers the printed key. */
async function ssoAdmin(args: string[]): Promise<{ cipherId: string; key: string }> {
  let printed = '';
  assert.equal(await admin(['accounts', 'sso-app', ...args], (text) => (printed += text)), 0);
  const match = /cipherId ([0-9a-f]{16}) key ([A-Za-z0-9_-]{43})/.exec(printed);
  assert.ok(match, printed);
  return { cipherId: match[1] as string, key: match[2] as string };
}

/** The attacker's pages, served over TLS for any name. */
function evilServer(tls: TestTls, pages: Record<string, string>): Server {
  return createServer({ cert: tls.cert, key: tls.key }, (request, response) => {
    const html = pages[new URL(request.url ?? '/', 'https://x').pathname];
    response.writeHead(html ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' }).end(html ?? 'not found');
  });
}

function ssoSuite(binary: string): void {
  let tls: TestTls;
  let running: Running;
  let accounts: string;
  let consoleSite: Site;
  let appSite: Site;
  let evil: Server;
  let evilPort: number;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const folder = mkdtempSync(path.join(tmpdir(), 'herald-sso-browser-'));

  async function startSite(clientId: string, host: string): Promise<Site> {
    const port = await freePort();
    const origin = `https://${host}:${port}`;
    const key = await ssoAdmin(['add', clientId, '--redirect-uri', `${origin}/sso/callback`, '--origin', origin, '--data-dir', running.dataDir]);
    const relying = buildSsoApp({
      accountsUrl: accounts,
      origin,
      clientId,
      keys: { [key.cipherId]: key.key },
      fetch: loopbackFetch(tls.ca),
      https: { cert: tls.cert, key: tls.key },
    });
    await relying.app.listen({ port, host: '127.0.0.1' });
    return { origin, relying };
  }

  before(async () => {
    tls = await makeTestTls(['accounts.herald.test', 'console.herald.test', 'app.other.test', 'evil.herald.test', 'evil.other.test']);
    writeFileSync(path.join(folder, 'cert.pem'), tls.cert);
    writeFileSync(path.join(folder, 'key.pem'), tls.key, { mode: 0o600 });
    const port = await freePort();
    accounts = `https://accounts.herald.test:${port}`;
    running = await startHerald({ server: { port, publicOrigin: accounts }, tls: { cert: path.join(folder, 'cert.pem'), key: path.join(folder, 'key.pem') } });
    const created = await loopbackFetch(tls.ca)(`${accounts}/v1/account/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
    });
    assert.equal(created.status, 201);
    consoleSite = await startSite('console', 'console.herald.test');
    appSite = await startSite('app', 'app.other.test');
    evilPort = await freePort();
    evil = evilServer(tls, evilPages());
    await new Promise<void>((resolve) => evil.listen(evilPort, '127.0.0.1', resolve));
    browser = await launchChromium(binary, [
      '--host-resolver-rules=MAP *.herald.test 127.0.0.1, MAP *.other.test 127.0.0.1',
      `--ignore-certificate-errors-spki-list=${tls.spkiHash}`,
    ]);
    context = await browser.newContext();
    page = await context.newPage();
  });

  after(async () => {
    await browser?.close();
    await consoleSite?.relying.app.close();
    await appSite?.relying.app.close();
    await new Promise<void>((resolve) => (evil ? evil.close(() => resolve()) : resolve()));
    await running?.stop();
    rmSync(folder, { recursive: true, force: true });
  });

  function evilPages(): Record<string, string> {
    const frameUrl = () => `${accounts}/v1/sso/frame`;
    // The attacker's own page may run any script; it collects whatever reaches it.
    const collector = (body: string) =>
      `<!doctype html><html><body><script>window.got = []; window.addEventListener('message', function (e) { window.got.push({ origin: e.origin, data: e.data }); });${body}</script></body></html>`;
    return {
      '/frame': collector(`var f = document.createElement('iframe'); f.src = ${JSON.stringify(frameUrl())}; f.onload = function () { try { f.contentWindow.postMessage({ type: 'herald-sso-recover' }, '*'); } catch (e) {} }; document.body.appendChild(f);`),
      '/popup': collector(
        `window.popup = window.open(${JSON.stringify(frameUrl())}, 'frame'); var n = 0; var t = setInterval(function () { try { window.popup.postMessage({ type: 'herald-sso-recover' }, '*'); } catch (e) {} if (++n > 20) clearInterval(t); }, 100);`,
      ),
      '/csrf': `<!doctype html><html><body><form id="f" method="POST" enctype="text/plain" action="${accounts}/v1/sso/session"><input name='{"email":"${EMAIL}","password":"${PASSWORD}","x":"' value='"}'></form><script>document.getElementById('f').submit();</script></body></html>`,
    };
  }

  /** What the attacker's page collected (run in the page). */
  const collected = (): unknown => (globalThis as unknown as { got: unknown[] }).got;
  const whoAmI = async (site: Site): Promise<number> => (await page.goto(`${site.origin}/me`))?.status() ?? 0;

  it('a cross-site app with no accounts session: the sign-in page, the password, back with a code, signed in', async () => {
    const answers: Array<{ url: string; status: number }> = [];
    page.on('response', (response) => answers.push({ url: response.url(), status: response.status() }));
    await page.goto(`${appSite.origin}/login`);
    await page.waitForSelector('form#sign-in');
    const signInUrl = new URL(page.url());
    assert.equal(signInUrl.origin, accounts);
    assert.equal(signInUrl.pathname, '/v1/sso/authorize');
    assert.equal(await page.textContent('#app-origin'), appSite.origin);
    await page.fill('input[name=email]', EMAIL);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('form#sign-in button[type=submit]');
    await page.waitForURL(`${appSite.origin}/`);
    assert.equal(await page.textContent('#who'), `Signed in as ${EMAIL}`);
    assert.ok(
      answers.some((answer) => answer.url.startsWith(`${appSite.origin}/sso/callback?code=`) && answer.status === 302),
      'the browser came back to the registered redirect URI with a code',
    );
    const cookie = (await context.cookies(accounts)).find((each) => each.name === '__Host-herald-accounts');
    assert.ok(cookie, 'the accounts session is a __Host- cookie on the accounts origin');
    assert.deepEqual([cookie.httpOnly, cookie.secure, cookie.sameSite], [true, true, 'Lax']);
    page.removeAllListeners('response');
  });

  it('the sign-in page is strict: no inline script, no framing, and a wrong password keeps the browser there', async () => {
    const probe = await context.newPage();
    await context.clearCookies({ domain: 'accounts.herald.test' });
    const answer = await probe.goto(`${appSite.origin}/login`);
    const csp = answer?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.match(csp, /frame-ancestors 'none'/);
    await probe.fill('input[name=email]', EMAIL);
    await probe.fill('input[name=password]', 'not the passphrase at all');
    await probe.click('form#sign-in button[type=submit]');
    await probe.waitForSelector('#status:not(:empty)');
    assert.equal(await probe.textContent('#status'), 'Wrong email or password.');
    assert.equal(new URL(probe.url()).origin, accounts);
    await probe.fill('input[name=password]', PASSWORD);
    await probe.click('form#sign-in button[type=submit]');
    await probe.waitForURL(`${appSite.origin}/`);
    await probe.close();
  });

  it('same-site: the console signs in through the frame, no password typed, the session already there', async () => {
    assert.equal(await whoAmI(consoleSite), 401);
    const before = consoleSite.relying.sessions.size;
    await page.goto(`${consoleSite.origin}/frame`);
    await page.waitForSelector('#result:not(:empty)');
    assert.equal(await page.textContent('#result'), 'signed in');
    assert.equal(consoleSite.relying.sessions.size, before + 1);
    assert.equal(await whoAmI(consoleSite), 200);
    assert.equal(await page.locator('input[type=password]').count(), 0);
  });

  it('cross-site with the session: straight through the redirect, no sign-in page', async () => {
    const before = appSite.relying.sessions.size;
    const pages: string[] = [];
    page.on('framenavigated', (frame) => pages.push(frame.url()));
    await page.goto(`${appSite.origin}/login`);
    await page.waitForURL(`${appSite.origin}/`);
    page.removeAllListeners('framenavigated');
    assert.equal(await page.textContent('#who'), `Signed in as ${EMAIL}`);
    assert.equal(appSite.relying.sessions.size, before + 1);
    assert.ok(!pages.some((url) => url.startsWith(`${accounts}/`)), `no accounts page was shown: ${pages.join(', ')}`);
  });

  it('a page on an origin no app registered gets nothing: framing refused, messages unanswered', async () => {
    for (const host of ['evil.herald.test', 'evil.other.test']) {
      const evilPage = await context.newPage();
      const refusals: string[] = [];
      evilPage.on('console', (message) => refusals.push(message.text()));
      await evilPage.goto(`https://${host}:${evilPort}/frame`);
      await evilPage.waitForTimeout(1500);
      assert.deepEqual(await evilPage.evaluate(collected), []);
      assert.ok(refusals.some((text) => /frame-ancestors/.test(text)), `Chromium refused the framing: ${refusals.join(' | ')}`);
      const framed = evilPage.frames().find((frame) => frame !== evilPage.mainFrame());
      assert.ok(framed && !framed.url().startsWith(accounts), `the frame did not load the accounts page (${framed?.url()})`);
      await evilPage.close();

      // Not framed but opened: the page loads, and ignores every message from this origin.
      const opener = await context.newPage();
      const popup = context.waitForEvent('page');
      await opener.goto(`https://${host}:${evilPort}/popup`);
      const opened = await popup;
      await opened.waitForLoadState();
      assert.equal(opened.url(), `${accounts}/v1/sso/frame`, 'the frame page itself loaded');
      await opener.waitForTimeout(2500);
      assert.deepEqual(await opener.evaluate(collected), []);
      await opener.close();
    }
  });

  it('the same popup opened by a listed origin is answered (the control for the test above)', async () => {
    await page.goto(`${consoleSite.origin}/`);
    const popup = context.waitForEvent('page');
    const got = page.evaluate(
      (frameUrl) =>
        new Promise<unknown>((resolve) => {
          const scope = globalThis as unknown as {
            open(url: string): { postMessage(data: unknown, origin: string): void } | null;
            addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
          };
          scope.addEventListener('message', (event) => resolve(event.data));
          const opened = scope.open(frameUrl);
          const timer = setInterval(() => opened?.postMessage({ type: 'herald-sso-recover' }, new URL(frameUrl).origin), 100);
          setTimeout(() => clearInterval(timer), 3000);
        }),
      `${accounts}/v1/sso/frame`,
    );
    const answer = (await got) as { type?: string; recoveryPayload?: { cipherId?: string } };
    assert.equal(answer.type, 'herald-sso-payload');
    assert.match(answer.recoveryPayload?.cipherId ?? '', /^[0-9a-f]{16}$/);
    await (await popup).close();
  });

  it('login CSRF: a form another site posts to the sign-in endpoint sets no session', async () => {
    const fresh = await browser.newContext();
    const evilPage = await fresh.newPage();
    const answered = evilPage.waitForResponse((response) => response.url() === `${accounts}/v1/sso/session`);
    await evilPage.goto(`https://evil.other.test:${evilPort}/csrf`);
    const answer = await answered;
    assert.equal(answer.status(), 403);
    assert.equal((await answer.json()).errno, 448);
    assert.deepEqual((await fresh.cookies(accounts)).map((cookie) => cookie.name), []);
    await fresh.close();
  });

  it('rotating the console key by cipherId keeps the signed-in user signed in, and new sign-ins use the new key', async () => {
    const rotated = await ssoAdmin(['rotate-key', 'console', '--data-dir', running.dataDir]);
    consoleSite.relying.sso.addKey(rotated.cipherId, rotated.key);
    assert.equal(await whoAmI(consoleSite), 200, 'the session made before the rotation still holds');
    const sealedWith: string[] = [];
    page.on('request', (request) => {
      if (request.url() === `${consoleSite.origin}/sso/recover`) sealedWith.push((request.postDataJSON() as { recoveryPayload: { cipherId: string } }).recoveryPayload.cipherId);
    });
    await context.clearCookies({ domain: 'console.herald.test' });
    assert.equal(await whoAmI(consoleSite), 401);
    await page.goto(`${consoleSite.origin}/frame`);
    await page.waitForSelector('#result:not(:empty)');
    page.removeAllListeners('request');
    assert.equal(await page.textContent('#result'), 'signed in');
    assert.deepEqual(sealedWith, [rotated.cipherId]);
    assert.equal(await whoAmI(consoleSite), 200);
  });
}
