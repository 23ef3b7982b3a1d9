/**
 * The console's JSON API without a browser: the Fetch Metadata / Origin rule, JSON only, the CSRF
 * tokens (missing, another session's, tampered), login CSRF, session expiry, sign-out, the shared
 * login budgets, roles and the security headers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../helpers/clock.js';
import type { Running } from '../helpers/herald.js';
import { ConsoleClient, createAccount, PASSWORD, startConsoleHerald } from './harness.js';

describe('console API: CSRF and origin checks', () => {
  let running: Running;
  let client: ConsoleClient;

  before(async () => {
    running = await startConsoleHerald();
    await createAccount(running.origin, 'dev@example.com');
    await createAccount(running.origin, 'other@example.com');
    client = new ConsoleClient(running.origin);
    assert.equal((await client.signIn('dev@example.com')).status, 200);
  });
  after(() => running.stop());

  const appCount = async () => ((await client.request('GET', '/console/api/apps')).body.apps as unknown[]).length;

  it('with its token, a same-origin JSON request creates an app', async () => {
    const answer = await client.request('POST', '/console/api/apps', { name: 'first' });
    assert.equal(answer.status, 201);
    assert.equal(await appCount(), 1);
  });

  it('Sec-Fetch-Site same-site or cross-site is refused with 403 errno 620, before the body is read', async () => {
    for (const site of ['same-site', 'cross-site']) {
      const answer = await client.request('POST', '/console/api/apps', '{"name":', { 'sec-fetch-site': site });
      assert.deepEqual([answer.status, answer.body.errno], [403, 620], site);
    }
    const read = await client.request('GET', '/console/api/apps', undefined, { 'sec-fetch-site': 'cross-site' });
    assert.deepEqual([read.status, read.body.errno], [403, 620]);
    assert.equal(await appCount(), 1);
  });

  it('without Sec-Fetch-Site, the Origin must be the console origin', async () => {
    client.site = null;
    try {
      for (const origin of [undefined, 'http://evil.example', running.origin.replace('127.0.0.1', 'localhost')]) {
        const answer = await client.request('POST', '/console/api/apps', { name: 'x' }, origin ? { origin } : {});
        assert.deepEqual([answer.status, answer.body.errno], [403, 620], String(origin));
      }
      assert.equal((await client.request('POST', '/console/api/apps', { name: 'via origin' }, { origin: running.origin })).status, 201);
    } finally {
      client.site = 'same-origin';
    }
    assert.equal(await appCount(), 2);
  });

  it('a form or text/plain body is refused with 415 errno 602', async () => {
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x']) {
      const answer = await client.request('POST', '/console/api/apps', 'name=evil', { 'content-type': type });
      assert.deepEqual([answer.status, answer.body.errno], [415, 602], type);
    }
    assert.equal(await appCount(), 2);
  });

  it('no token, a tampered token and another session\'s token are refused (403 errno 621, 622, 622)', async () => {
    const other = new ConsoleClient(running.origin);
    await other.signIn('other@example.com');
    const tampered = client.csrfToken.slice(0, -2) + (client.csrfToken.endsWith('AA') ? 'BB' : 'AA');
    const cases: Array<[string, number]> = [['', 621], [tampered, 622], [other.csrfToken, 622]];
    for (const [token, errno] of cases) {
      const headers = token === '' ? { 'x-csrf-token': '' } : { 'x-csrf-token': token };
      const answer = await client.request('POST', '/console/api/apps', { name: 'x' }, headers);
      assert.deepEqual([answer.status, answer.body.errno], [403, errno], token.slice(0, 8));
    }
    // The pre-session token of this very browser is no session token either.
    const fresh = new ConsoleClient(running.origin);
    await fresh.refresh();
    const answer = await client.request('POST', '/console/api/apps', { name: 'x' }, { 'x-csrf-token': fresh.csrfToken });
    assert.deepEqual([answer.status, answer.body.errno], [403, 622]);
    assert.equal(await appCount(), 2);
  });

  it('login CSRF: no pre-session cookie, or the attacker\'s token, is refused with 403 errno 623', async () => {
    const attacker = new ConsoleClient(running.origin);
    await attacker.refresh();
    const victim = new ConsoleClient(running.origin);
    await victim.refresh();
    const withTheirs = await victim.request('POST', '/console/api/session', { email: 'other@example.com', password: PASSWORD }, { 'x-csrf-token': attacker.csrfToken });
    assert.deepEqual([withTheirs.status, withTheirs.body.errno], [403, 623]);
    const noCookie = new ConsoleClient(running.origin);
    const without = await noCookie.request('POST', '/console/api/session', { email: 'other@example.com', password: PASSWORD }, { 'x-csrf-token': attacker.csrfToken });
    assert.deepEqual([without.status, without.body.errno], [403, 623]);
    assert.equal(victim.cookies.has('__Host-herald-console'), false);
  });

  it('a sign-in gives a session id the browser never held, and ends the session it had', async () => {
    const browser = new ConsoleClient(running.origin);
    await browser.refresh();
    const pre = browser.cookies.get('__Host-herald-console-pre');
    await browser.signIn('dev@example.com');
    const first = browser.cookies.get('__Host-herald-console') as string;
    assert.ok(first && first !== pre);
    assert.equal(browser.cookies.has('__Host-herald-console-pre'), false);
    // Signing in again from the same browser (a new pre-session, the old session cookie still sent).
    const preSession = 'a'.repeat(32);
    const token = new ConsoleClient(running.origin);
    token.cookies.set('__Host-herald-console-pre', preSession);
    browser.cookies.set('__Host-herald-console-pre', preSession);
    const csrfToken = (await token.refresh()).body.csrfToken as string;
    assert.equal((await browser.request('POST', '/console/api/session', { email: 'dev@example.com', password: PASSWORD }, { 'x-csrf-token': csrfToken })).status, 200);
    assert.notEqual(browser.cookies.get('__Host-herald-console'), first);
    const stale = new ConsoleClient(running.origin);
    stale.cookies.set('__Host-herald-console', first);
    assert.equal((await stale.request('GET', '/console/api/apps')).status, 401, 'the earlier session of this browser ended');
  });

  it('sign-out ends the session on the server', async () => {
    const browser = new ConsoleClient(running.origin);
    await browser.signIn('other@example.com');
    const cookie = browser.cookies.get('__Host-herald-console') as string;
    assert.equal((await browser.request('DELETE', '/console/api/session', {})).status, 204);
    const replay = new ConsoleClient(running.origin);
    replay.cookies.set('__Host-herald-console', cookie);
    const answer = await replay.request('GET', '/console/api/sessions');
    assert.deepEqual([answer.status, answer.body.errno], [401, 610]);
  });

  it('cookies are HttpOnly, SameSite=Strict, Path=/, Secure (loopback), and every answer carries the security headers', async () => {
    const fresh = new ConsoleClient(running.origin);
    const answer = await fresh.refresh();
    const line = answer.headers.getSetCookie()[0] ?? '';
    for (const part of ['__Host-herald-console-pre=', 'HttpOnly', 'SameSite=Strict', 'Path=/', 'Secure']) assert.ok(line.includes(part), `${part} in ${line}`);
    assert.ok(!/Domain=/i.test(line));
    for (const path of ['/console/api/session', '/console/', '/console/api/nothing-here']) {
      const page = await fetch(`${running.origin}${path}`);
      const csp = page.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self'/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.doesNotMatch(csp, /unsafe-inline/, path);
      assert.equal(page.headers.get('x-frame-options'), 'DENY', path);
      assert.equal(page.headers.get('x-content-type-options'), 'nosniff', path);
    }
    const missing = await fetch(`${running.origin}/console/api/nothing-here`);
    assert.deepEqual([missing.status, ((await missing.json()) as { errno: number }).errno], [404, 603]);
  });

  it('operator pages need the operator role (403 errno 614); test pushes go only to this Herald (400 errno 641)', async () => {
    const overview = await client.request('GET', '/console/api/operator/overview');
    assert.deepEqual([overview.status, overview.body.errno], [403, 614]);
    const push = await client.request('POST', '/console/api/push', { subscription: { endpoint: 'http://169.254.169.254/latest' }, text: '' });
    assert.deepEqual([push.status, push.body.errno], [400, 641]);
  });
});

describe('console API: session expiry and login budgets', () => {
  const clock = new ManualClock({ ticking: true });
  let running: Running;

  before(async () => {
    running = await startConsoleHerald({ loginFailuresPerAccount: 3 }, { now: clock.now });
    await createAccount(running.origin, 'dev@example.com');
  });
  after(() => running.stop());

  it('a session unused for console.sessionIdleSeconds is over (401 errno 610)', async () => {
    const browser = new ConsoleClient(running.origin);
    await browser.signIn('dev@example.com');
    clock.advance(29 * 60_000);
    assert.equal((await browser.request('GET', '/console/api/apps')).status, 200);
    clock.advance(31 * 60_000);
    const answer = await browser.request('GET', '/console/api/apps');
    assert.deepEqual([answer.status, answer.body.errno], [401, 610]);
  });

  it('a session used all along is over console.sessionLifetimeSeconds after sign-in', async () => {
    const browser = new ConsoleClient(running.origin);
    await browser.signIn('dev@example.com');
    // Used every 20 minutes (well inside the 30-minute idle limit) for 11 h 40 min: still on.
    for (let step = 0; step < 35; step += 1) {
      clock.advance(20 * 60_000);
      assert.equal((await browser.request('GET', '/console/api/apps')).status, 200, `step ${step}`);
    }
    clock.advance(25 * 60_000);
    assert.equal((await browser.request('GET', '/console/api/apps')).status, 401);
  });

  it('failed console sign-ins share the accounts server\'s budgets: 429 errno 612 once spent', async () => {
    const browser = new ConsoleClient(running.origin);
    // One failure through the accounts API, two through the console: the budget of 3 is spent.
    await fetch(`${running.origin}/v1/account/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'dev@example.com', password: 'wrong password!' }) });
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const answer = await browser.signIn('dev@example.com', 'wrong password!');
      assert.deepEqual([answer.status, answer.body.errno], [401, 611]);
    }
    const limited = await browser.signIn('dev@example.com');
    assert.deepEqual([limited.status, limited.body.errno], [429, 612]);
    assert.ok(limited.headers.get('retry-after'));
  });
});
