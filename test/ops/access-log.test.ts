/**
 * The optional access log (log.requests): one line per request with the route pattern, status,
 * errno and duration, never the endpoint token, a message id or an address; off by default.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { captureLog } from '../helpers/log.js';
import { CHANNEL_A, startHerald, subscribedDevice } from '../helpers/herald.js';
import { expectStatus, post } from '../helpers/sender.js';

interface AccessLine {
  part: string;
  method: string;
  route: string;
  status: number;
  errno?: number;
  ms: number;
}

async function traffic(requests: boolean): Promise<{ lines: AccessLine[]; text: string; endpoint: string; location: string }> {
  const log = captureLog();
  const running = await startHerald({ log: { level: 'info', requests } }, undefined, { logger: log.logger });
  const { device, endpoint } = await subscribedDevice(running.wsUrl, CHANNEL_A);
  let location = '';
  try {
    const sent = await post(endpoint, { TTL: '60' });
    await expectStatus(sent.clone(), 201);
    location = sent.headers.get('location') ?? '';
    await expectStatus(await post(endpoint.replace(/.{8}$/, 'AAAAAAAA'), { TTL: '60' }), 404);
    await expectStatus(await fetch(location), 200);
    await expectStatus(await fetch(`${running.origin}/no/such/route`), 404);
  } finally {
    device.close();
    await running.stop();
  }
  const text = log.text();
  const lines = text
    .split('\n')
    .filter((line) => line.includes('"part":"access"'))
    .map((line) => JSON.parse(line) as AccessLine);
  return { lines, text, endpoint, location };
}

describe('access log', () => {
  it('log.requests = true logs each request by route pattern, status and errno, never a token, id or address', async () => {
    const { lines, text, endpoint, location } = await traffic(true);
    const seen = lines.map((line) => [line.method, line.route, line.status, line.errno ?? null]);
    assert.deepEqual(seen, [
      ['POST', '/wpush/v1/:token', 201, null],
      ['POST', '/wpush/v1/:token', 404, 102],
      ['GET', '/m/:id', 200, null],
      ['GET', '(no route)', 404, 102],
    ]);
    for (const line of lines) assert.ok(line.ms >= 0);
    const token = endpoint.split('/').at(-1) as string;
    const id = location.split('/').at(-1) as string;
    const accessText = lines.map((line) => JSON.stringify(line)).join('\n');
    assert.ok(!text.includes(token), 'no endpoint token anywhere in the log');
    assert.ok(!text.includes(id), 'no message id');
    assert.doesNotMatch(accessText, /127\.0\.0\.1/, 'no address');
  });

  it('is off by default', async () => {
    const { lines } = await traffic(false);
    assert.deepEqual(lines, []);
  });
});
