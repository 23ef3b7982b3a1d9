/**
 * The replay cache on many nodes (docs/sso.md): two relying back ends ("nodes") share a real
 * Redis; a payload one node accepted is refused by the other (400 errno 464), and so is a logout
 * token. With memory caches (one per node) the second node would accept it: that is why a
 * many-node relying app needs the shared one. A cache that cannot answer refuses (503 errno 473).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { signLogoutToken } from '../../src/accounts/sso-backchannel.js';
import { MemoryReplayCache, RedisReplayCache, replayCacheFor } from '../../src/client/sso.js';
import { ORIGIN, World } from './harness.js';
import { browserCookie, payloadFor, registerApp, relyingParty, type TestApp } from './sso-harness.js';

const REDIS_URL = process.env.HERALD_TEST_REDIS ?? 'redis://127.0.0.1:6379';

describe('single sign-on: one-time payloads on many nodes (Redis replay cache)', () => {
  let world: World;
  let app: TestApp;
  let cookie: string;
  const clients: Redis[] = [];
  const prefix = `herald-test-sso-${randomBytes(4).toString('hex')}:`;
  const connect = () => {
    const client = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
    clients.push(client);
    return client;
  };

  before(async () => {
    world = await World.start();
    app = await registerApp(world, 'app', 'http://app.other.test');
    cookie = await browserCookie(world, 'nodes@example.com');
  });
  after(async () => {
    const keys = await clients[0]?.keys(`${prefix}*`);
    if (keys && keys.length > 0) await clients[0]?.del(...keys);
    for (const client of clients) client.disconnect();
    await world.close();
  });

  it('a payload accepted on one node is refused on the other: 400 errno 464', async () => {
    // Real wall-clock time for Redis' expiry; the payload is made at the World's clock, so both agree.
    const now = () => world.clock;
    const nodeA = relyingParty(world, app, { replay: new RedisReplayCache(connect(), prefix, now) });
    const nodeB = relyingParty(world, app, { replay: new RedisReplayCache(connect(), prefix, now) });
    const payload = await payloadFor(world, app, cookie);
    assert.equal((await nodeA.recover({ recoveryPayload: payload })).status, 204);
    const again = await nodeB.recover({ recoveryPayload: payload });
    assert.deepEqual([again.status, 'body' in again ? again.body.errno : null], [400, 464]);
    const key = (await clients[0]?.keys(`${prefix}*`)) ?? [];
    assert.equal(key.length, 1, 'one key, the packet hash');
    const ttl = await clients[0]?.pttl(key[0] as string);
    assert.ok(ttl !== undefined && ttl > 0 && ttl <= 61_000, `kept only while the payload lives (${ttl} ms)`);
  });

  it('with a memory cache per node the same replay would pass: the reason for the shared one', async () => {
    const payload = await payloadFor(world, app, cookie);
    const nodeA = relyingParty(world, app, { replay: new MemoryReplayCache(() => world.clock) });
    const nodeB = relyingParty(world, app, { replay: new MemoryReplayCache(() => world.clock) });
    assert.equal((await nodeA.recover({ recoveryPayload: payload })).status, 204);
    assert.equal((await nodeB.recover({ recoveryPayload: payload })).status, 204);
  });

  it('a logout token used on one node is refused on the other: 400 errno 472', async () => {
    const nodeA = relyingParty(world, app, { replay: replayCacheFor(connect(), { prefix, now: () => world.clock }) });
    const nodeB = relyingParty(world, app, { replay: replayCacheFor(connect(), { prefix, now: () => world.clock }) });
    const token = await signLogoutToken(world.identity.signingKeys, { issuer: ORIGIN, clientId: app.clientId, accountId: 'cd'.repeat(16), sid: 's', nowMs: world.clock });
    const body = new URLSearchParams({ logout_token: token }).toString();
    assert.equal((await nodeA.verifyLogout(body)).status, 200);
    const again = await nodeB.verifyLogout(body);
    assert.deepEqual([again.status, 'body' in again ? again.body.errno : null], [400, 472]);
  });

  it('without Redis configured the cache is memory; a Redis that cannot answer refuses with 503 errno 473', async () => {
    assert.ok(replayCacheFor(null) instanceof MemoryReplayCache);
    const down = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    down.on('error', () => undefined);
    clients.push(down);
    const rp = relyingParty(world, app, { replay: replayCacheFor(down, { prefix }) });
    const outcome = await rp.recover({ recoveryPayload: await payloadFor(world, app, cookie) });
    assert.deepEqual([outcome.status, 'body' in outcome ? outcome.body.errno : null], [503, 473]);
  });
});
