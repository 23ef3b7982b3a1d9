/**
 * Listener layout: the connection and endpoint listeners on separate ports, /metrics only on the
 * admin listener when one is configured (protocol.md §3: nothing internal on public listeners).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { CHANNEL_A, RawDevice, startHerald } from './helpers/herald.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('listeners', () => {
  it('separate connection, endpoint and admin ports each serve only their part', async () => {
    const [endpointPort, adminPort] = [await freePort(), await freePort()];
    const running = await startHerald({ server: { port: 0, endpointPort, adminPort } });
    try {
      const { connectionPort } = running.herald.listeners;
      assert.notEqual(connectionPort, endpointPort);
      assert.equal(running.origin, `http://127.0.0.1:${endpointPort}`);

      const device = await RawDevice.connect(running.wsUrl);
      await device.hello();
      const endpoint = await device.register(CHANNEL_A);
      assert.ok(endpoint.startsWith(`http://127.0.0.1:${endpointPort}/wpush/v1/`));

      const response = await fetch(endpoint, { method: 'POST', headers: { TTL: '60' } });
      assert.equal(response.status, 201);
      device.ack(await device.next('notification'));
      device.close();

      // The sender endpoint is not on the device port, and devices cannot connect to the endpoint port.
      const onDevicePort = endpoint.replace(`:${endpointPort}/`, `:${connectionPort}/`);
      assert.equal((await fetch(onDevicePort, { method: 'POST', headers: { TTL: '60' } })).status, 404);
      const refused = new WebSocket(`ws://127.0.0.1:${endpointPort}/`);
      const outcome = await new Promise<string>((resolve) => {
        refused.once('open', () => resolve('open'));
        refused.once('error', () => resolve('refused'));
      });
      assert.equal(outcome, 'refused');

      // /metrics is on the admin port only.
      assert.equal((await fetch(`http://127.0.0.1:${adminPort}/metrics`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${connectionPort}/metrics`)).status, 404);
      assert.equal((await fetch(`http://127.0.0.1:${endpointPort}/metrics`)).status, 404);
      assert.equal((await fetch(`http://127.0.0.1:${endpointPort}/__heartbeat__`)).status, 200);
    } finally {
      await running.stop();
    }
  });
});
