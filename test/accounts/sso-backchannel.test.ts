/**
 * Back-channel sign-out with two real servers (docs/sso.md): a Herald (accounts server) and the
 * example relying app, each on its own loopback port. Signing out at the accounts server ends the
 * app's session through a signed logout token the app verifies; the sign-out answer does not
 * wait for the app; a failed delivery is retried.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { run as admin } from '../../src/cli/admin.js';
import { openIdentityStore, type InspectableIdentityStore } from '../../src/accounts/open-store.js';
import { buildSsoApp, type SsoApp } from '../../examples/sso-app/app.js';
import { freePort } from '../browser/sso-tls.js';
import { startHerald, type Running } from '../helpers/herald.js';

const EMAIL = 'bye@example.com';
const PASSWORD = 'a long and unusual passphrase';

/** A browser's cookie jar, per origin, enough for this flow. */
class Jar {
  private readonly cookies = new Map<string, Map<string, string>>();
  header(url: string): string {
    return [...(this.cookies.get(new URL(url).origin) ?? new Map<string, string>())].map(([name, value]) => `${name}=${value}`).join('; ');
  }
  take(url: string, response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      const jar = this.cookies.get(new URL(url).origin) ?? new Map<string, string>();
      if (/Max-Age=0/i.test(line)) jar.delete(pair.slice(0, at));
      else jar.set(pair.slice(0, at), pair.slice(at + 1));
      this.cookies.set(new URL(url).origin, jar);
    }
  }
  /** GET, following redirects the way a browser does, carrying each origin's cookies. */
  async navigate(url: string): Promise<{ url: string; response: Response }> {
    for (let hops = 0; hops < 10; hops += 1) {
      const response = await fetch(url, { headers: { cookie: this.header(url), accept: 'text/html' }, redirect: 'manual' });
      this.take(url, response);
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || !location) return { url, response };
      url = new URL(location, url).toString();
    }
    throw new Error('too many redirects');
  }
}

describe('single sign-on: back-channel sign-out between two real servers', { timeout: 60_000 }, () => {
  let running: Running;
  let accounts: string;
  let relying: SsoApp;
  let appOrigin: string;
  let store: InspectableIdentityStore;
  const deliveries: number[] = [];
  let failNext = 0;

  before(async () => {
    running = await startHerald();
    accounts = running.origin;
    const created = await fetch(`${accounts}/v1/account/create`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: EMAIL, password: PASSWORD }) });
    assert.equal(created.status, 201);
    const port = await freePort();
    appOrigin = `http://127.0.0.1:${port}`;
    let printed = '';
    const code = await admin(
      ['accounts', 'sso-app', 'add', 'bye', '--redirect-uri', `${appOrigin}/sso/callback`, '--origin', appOrigin, '--backchannel-logout-uri', `${appOrigin}/sso/backchannel-logout`, '--data-dir', running.dataDir],
      (text) => (printed += text),
    );
    assert.equal(code, 0);
    const match = /cipherId ([0-9a-f]{16}) key ([A-Za-z0-9_-]{43})/.exec(printed);
    assert.ok(match, printed);
    relying = buildSsoApp({ accountsUrl: accounts, origin: appOrigin, clientId: 'bye', keys: { [match[1] as string]: match[2] as string } });
    // The app's back-channel door, watched: when each delivery came, and a refusal on demand.
    relying.app.addHook('onRequest', async (request, reply) => {
      if (request.url !== '/sso/backchannel-logout') return;
      deliveries.push(Date.now());
      if (failNext > 0) {
        failNext -= 1;
        await reply.code(503).send();
      }
    });
    await relying.app.listen({ port, host: '127.0.0.1' });
    store = await openIdentityStore('accounts.sqlite', running.dataDir);
  });

  after(async () => {
    await store?.close();
    await relying?.app.close();
    await running?.stop();
  });

  async function signedInBrowser(): Promise<Jar> {
    const jar = new Jar();
    const signIn = await fetch(`${accounts}/v1/sso/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: accounts },
      body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
    });
    assert.equal(signIn.status, 200);
    jar.take(accounts, signIn);
    const landed = await jar.navigate(`${appOrigin}/login`);
    assert.equal(landed.url, `${appOrigin}/`);
    assert.match(await landed.response.text(), /Signed in as bye@example\.com/);
    return jar;
  }

  const appStatus = async (jar: Jar) => (await fetch(`${appOrigin}/me`, { headers: { cookie: jar.header(appOrigin) } })).status;
  const until = async (check: () => Promise<boolean>, ms: number) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await check()) return true;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return false;
  };

  it("signing out at the accounts server ends the app's session through the back channel, and the session minted for the app", async () => {
    const jar = await signedInBrowser();
    assert.equal(await appStatus(jar), 200);
    const account = await store.accountByEmail(EMAIL);
    const sessionsBefore = (await store.listSessions(account?.id as string)).map((session) => session.id);
    // The account's own (from sign-up), the browser's, the one minted for the app.
    assert.equal(sessionsBefore.length, 3);
    deliveries.length = 0;
    const out = await fetch(`${accounts}/v1/sso/session`, { method: 'DELETE', headers: { cookie: jar.header(accounts), origin: accounts } });
    assert.equal(out.status, 204);
    assert.ok(await until(async () => (await appStatus(jar)) === 401, 3000), 'the app session ended');
    assert.equal(deliveries.length, 1);
    assert.deepEqual((await store.listSessions(account?.id as string)).map((session) => session.id), sessionsBefore.slice(0, 1), 'only the sign-up session is left');
  });

  it('the sign-out answer does not wait for the app, and a failed delivery is retried', async () => {
    const jar = await signedInBrowser();
    deliveries.length = 0;
    failNext = 1;
    const started = Date.now();
    const out = await fetch(`${accounts}/v1/sso/session`, { method: 'DELETE', headers: { cookie: jar.header(accounts), origin: accounts } });
    assert.equal(out.status, 204);
    const answeredAfter = Date.now() - started;
    assert.ok(await until(async () => (await appStatus(jar)) === 401, 5000), 'the app session ended after the retry');
    assert.equal(deliveries.length, 2, 'one refused attempt, one delivered');
    const [first = 0, second = 0] = deliveries;
    assert.ok(second - first >= 400, `the retry waited (${second - first} ms)`);
    assert.ok(answeredAfter < second - started, `the sign-out was answered (${answeredAfter} ms) before the delivery that worked`);
  });

  it('a logout token posted again is refused 400 errno 472, and a made-up one 400 errno 471', async () => {
    const seen: string[] = [];
    // Capture the next token the accounts server sends, then replay it.
    const jar = await signedInBrowser();
    const original = relying.sso.verifyLogout.bind(relying.sso);
    relying.sso.verifyLogout = async (body: unknown) => {
      seen.push(String(body));
      return original(body);
    };
    await fetch(`${accounts}/v1/sso/session`, { method: 'DELETE', headers: { cookie: jar.header(accounts), origin: accounts } });
    assert.ok(await until(async () => seen.length === 1 && (await appStatus(jar)) === 401, 3000));
    const replay = await fetch(`${appOrigin}/sso/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: seen[0] });
    assert.deepEqual([replay.status, ((await replay.json()) as { errno: number }).errno], [400, 472]);
    const forged = await fetch(`${appOrigin}/sso/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'logout_token=eyJhbGciOiJub25lIn0.e30.' });
    assert.deepEqual([forged.status, ((await forged.json()) as { errno: number }).errno], [400, 471]);
  });

  it("signing in to the app again and again from one browser keeps few sessions: the browser's own is never crowded out", async () => {
    const jar = await signedInBrowser();
    for (let again = 0; again < 25; again += 1) assert.equal((await jar.navigate(`${appOrigin}/login`)).url, `${appOrigin}/`);
    const account = await store.accountByEmail(EMAIL);
    // Sign-up's, the browser's, and the newest five minted for the app (past the cap of 20 otherwise).
    assert.equal((await store.listSessions(account?.id as string)).length, 7);
    assert.equal((await jar.navigate(`${appOrigin}/login`)).url, `${appOrigin}/`, 'the browser is still signed in at the accounts server');
    deliveries.length = 0;
    await fetch(`${accounts}/v1/sso/session`, { method: 'DELETE', headers: { cookie: jar.header(accounts), origin: accounts } });
    assert.ok(await until(async () => (await appStatus(jar)) === 401, 3000), "the app's current session ended");
    assert.equal((await store.listSessions(account?.id as string)).length, 1);
  });
});
