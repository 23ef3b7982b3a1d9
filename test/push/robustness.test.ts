/**
 * Bad input never crashes Herald and never damages what is stored: a burst of malformed frames,
 * oversized frames, garbage tokens and truncated bodies, then the earlier messages are intact.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { CHANNEL_A, RawDevice, startHerald } from '../helpers/herald.js';

const HOSTILE_FRAMES = [
  '',
  'null',
  '[]',
  '"hello"',
  '{"messageType":null}',
  '{"messageType":"hello","uaid":{"$gt":""}}',
  '{"messageType":"register","channelID":"../../etc/passwd"}',
  '{"messageType":"ack","updates":"all"}',
  '{"messageType":"ack","updates":[{"channelID":null}]}',
  '{"messageType":"broadcast_subscribe","broadcasts":[1,2]}',
  '{"messageType":"hello","broadcasts":{"a":{"b":1}}}',
  '{"__proto__":{"polluted":true},"messageType":"hello"}',
  '\u0000\u0001\u0002',
  '{"messageType":"hello","uaid":"' + 'f'.repeat(5000) + '"}',
];

describe('robustness', () => {
  it('hostile frames, oversized frames, garbage tokens and truncated bodies leave stored messages intact', async () => {
    const running = await startHerald({ push: { maxFrameBytes: 4096 } });
    try {
      const owner = await RawDevice.connect(running.wsUrl);
      const uaid = await owner.hello();
      const endpoint = await owner.register(CHANNEL_A);
      owner.close();
      await owner.closed;
      const locations: string[] = [];
      for (let i = 0; i < 5; i++) {
        const response = await fetch(endpoint, { method: 'POST', headers: { TTL: '600', Topic: i === 0 ? 'kept' : `t${i}` } });
        assert.equal(response.status, 201);
        locations.push(response.headers.get('location') as string);
      }

      for (const frame of HOSTILE_FRAMES) {
        const attacker = await RawDevice.connect(running.wsUrl);
        attacker.send(frame);
        // A frame that happened to be a valid hello is followed by a second hello, which closes.
        attacker.send('{"messageType":"hello"}');
        const { code } = await attacker.closed;
        assert.ok([1000, 1002, 1009, 1011].includes(code), `frame ${JSON.stringify(frame.slice(0, 40))} closed ${code}`);
      }

      const oversized = await RawDevice.connect(running.wsUrl);
      await oversized.hello();
      oversized.send(JSON.stringify({ messageType: 'ping', pad: 'x'.repeat(10_000) }));
      assert.equal((await oversized.closed).code, 1009);

      // The owner reconnecting, receiving without acking, then misbehaving loses nothing.
      const impostor = await RawDevice.connect(running.wsUrl);
      assert.equal(await impostor.hello(uaid), uaid);
      for (const message of await drain(impostor, 5)) void message;
      impostor.send('{"messageType":"unregister","channelID":"NOT-A-UUID"}');
      await impostor.closed;

      const origin = running.origin;
      const garbage = [
        `${origin}/wpush/v1/${'A'.repeat(80)}`,
        `${origin}/wpush/v2/${randomBytes(90).toString('base64url')}`,
        `${origin}/wpush/v1/%00%ff`,
        `${origin}/wpush/v1/${endpoint.split('/').pop()?.slice(1)}`,
      ];
      for (const url of garbage) {
        const response = await fetch(url, { method: 'POST', headers: { TTL: '60' }, body: randomBytes(100) });
        assert.ok(response.status === 404, `${url} answered ${response.status}`);
      }
      for (const location of locations) {
        const forged = location.slice(0, -3) + 'xyz';
        assert.equal((await fetch(forged, { method: 'DELETE' })).status, 404);
      }

      // A request body cut off mid-way: the connection drops, nothing is stored, the server lives.
      await truncatedPost(new URL(endpoint));

      assert.equal(await (await running.store()).countMessages(uaid, Date.now()), 5);
      for (const location of locations) {
        assert.deepEqual(((await (await fetch(location)).json()) as { status: string }).status, 'pending');
      }
      const back = await RawDevice.connect(running.wsUrl);
      assert.equal(await back.hello(uaid), uaid);
      const delivered = await drain(back, 5);
      assert.equal(delivered.length, 5);
      back.close();
      assert.equal((await fetch(`${origin}/__heartbeat__`)).status, 200);
    } finally {
      await running.stop();
    }
  });

  it('a socket that drops mid-handshake or mid-frame does not disturb the server', async () => {
    const running = await startHerald();
    try {
      const url = new URL(running.wsUrl);
      await new Promise<void>((resolve) => {
        const socket = connect(Number(url.port), url.hostname, () => {
          socket.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n');
          socket.destroy();
          resolve();
        });
      });
      const raw = new WebSocket(running.wsUrl);
      await new Promise((resolve) => raw.once('open', resolve));
      raw.terminate();
      const device = await RawDevice.connect(running.wsUrl);
      assert.match(await device.hello(), /^[0-9a-f]{32}$/);
      device.close();
    } finally {
      await running.stop();
    }
  });
});

async function drain(device: RawDevice, count: number): Promise<Array<Record<string, unknown>>> {
  const seen = [];
  for (let i = 0; i < count; i++) seen.push(await device.next('notification'));
  return seen;
}

/**
 * A sender that announces 3,000 bytes, sends 500, stalls and drops the connection. The stall is
 * the scenario, not a wait for something: it lets the server start reading the body.
 */
async function truncatedPost(endpoint: URL): Promise<void> {
  await new Promise<void>((resolve) => {
    const socket = connect(Number(endpoint.port), endpoint.hostname, () => {
      socket.write(
        `POST ${endpoint.pathname} HTTP/1.1\r\nHost: ${endpoint.host}\r\nTTL: 60\r\nContent-Encoding: aes128gcm\r\nContent-Length: 3000\r\n\r\n`,
      );
      socket.write(randomBytes(500));
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 100);
    });
  });
}
