/**
 * The Apps list's subscription count: how many channels are bound to an app's key right now, as a
 * real device subscribes with that key and unregisters (push store migration 8, docs/console.md).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CHANNEL_A, CHANNEL_B, RawDevice, type Running } from '../helpers/herald.js';
import { ConsoleClient, createAccount, startConsoleHerald } from './harness.js';

interface Listed {
  id: string;
  publicKey: string;
  subscriptions: number;
}

describe('console API: subscriptions per app', () => {
  let running: Running;
  let client: ConsoleClient;
  const devices: RawDevice[] = [];

  before(async () => {
    running = await startConsoleHerald();
    await createAccount(running.origin, 'dev@example.com');
    client = new ConsoleClient(running.origin);
    assert.equal((await client.signIn('dev@example.com')).status, 200);
  });
  after(async () => {
    for (const device of devices) device.close();
    await running.stop();
  });

  const createApp = async (name: string): Promise<Listed> => {
    const answer = await client.request('POST', '/console/api/apps', { name });
    assert.equal(answer.status, 201);
    return answer.body.app as Listed;
  };
  const listed = async (): Promise<Map<string, Listed>> => {
    const answer = await client.request('GET', '/console/api/apps');
    assert.equal(answer.status, 200);
    return new Map((answer.body.apps as Listed[]).map((app) => [app.id, app]));
  };
  const connect = async (): Promise<RawDevice> => {
    const device = await RawDevice.connect(running.wsUrl);
    devices.push(device);
    await device.hello();
    return device;
  };

  it("a device subscribing with an app's key counts 1 for that app, and 0 again once it unregisters", async () => {
    const app = await createApp('news');
    const other = await createApp('other');
    assert.equal((await listed()).get(app.id)?.subscriptions, 0, 'a new app has no subscriptions');

    const device = await connect();
    await device.register(CHANNEL_A, app.publicKey);
    // A v1 subscription (no key) belongs to no app.
    await (await connect()).register(CHANNEL_B);

    let apps = await listed();
    assert.equal(apps.get(app.id)?.subscriptions, 1);
    assert.equal(apps.get(other.id)?.subscriptions, 0, "another app's count is its own");
    // A figure, never which devices: the listed app carries no device or channel id.
    assert.deepEqual(Object.keys(apps.get(app.id) ?? {}).sort(), ['createdAt', 'id', 'keyHash', 'name', 'publicKey', 'revokedAt', 'subscriptions']);

    device.send({ messageType: 'unregister', channelID: CHANNEL_A });
    assert.equal((await device.next('unregister')).status, 200);
    apps = await listed();
    assert.equal(apps.get(app.id)?.subscriptions, 0);
  });
});
