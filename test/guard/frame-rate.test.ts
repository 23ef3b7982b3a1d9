/**
 * Issue 10 item 13: one socket ran 6,000 register/unregister frames (each a store write) in 1.5 s.
 * A device socket now has a budget of frames (guard.framesPerSocket) and of register/unregister
 * frames (guard.registrationsPerSocket); past either it is closed 1011, as a ping flood is.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { RawDevice, startHerald, type Frame, type Running } from '../helpers/herald.js';

/**
 * Sends a ping behind a flood and settles on what came first: the socket closed (with every frame
 * Herald sent until then), or the ping was answered, i.e. Herald handled the whole flood.
 */
async function afterFlood(device: RawDevice): Promise<{ code: number; reason: string; frames: Frame[] }> {
  device.send({});
  const outcome = await Promise.race([device.closed, device.next('ping', 120_000).then(() => 'answered' as const)]);
  assert.notEqual(outcome, 'answered', 'Herald handled the whole flood and kept the socket open');
  const closed = await device.closed;
  return { ...closed, frames: device.frames.splice(0) };
}

describe('frames per device socket', () => {
  let running: Running;
  before(async () => {
    running = await startHerald();
  });
  after(() => running.stop());

  it('a socket flooding 6,000 register/unregister frames is closed 1011 after its budget, long before 6,000 store writes', async () => {
    const device = await RawDevice.connect(running.wsUrl);
    await device.hello();
    for (let i = 0; i < 3000; i++) {
      const channelID = randomUUID();
      device.send({ messageType: 'register', channelID });
      device.send({ messageType: 'unregister', channelID });
    }
    const { code, reason, frames } = await afterFlood(device);
    assert.equal(code, 1011);
    assert.match(reason, /too many register\/unregister frames/);
    const writes = frames.filter((frame) => frame.messageType === 'register' || frame.messageType === 'unregister');
    // The default budget is 600 per 60 s: the burst, and what refilled while the flood ran.
    assert.ok(writes.length >= 600, `${writes.length} answered`);
    assert.ok(writes.length < 1000, `${writes.length} store writes were answered before the socket closed`);
  });

  it('a socket flooding 8,000 acks is closed 1011 after guard.framesPerSocket', async () => {
    const device = await RawDevice.connect(running.wsUrl);
    await device.hello();
    const ack = JSON.stringify({ messageType: 'ack', updates: [{ channelID: randomUUID(), version: 'nothing-sent' }] });
    for (let i = 0; i < 8000; i++) device.send(ack);
    const { code, reason } = await afterFlood(device);
    assert.equal(code, 1011);
    assert.match(reason, /too many frames/);
  });

  it('Firefox-like traffic (hello, 20 registers, 500 messages acked one by one) keeps its socket', async () => {
    const device = await RawDevice.connect(running.wsUrl);
    try {
      await device.hello();
      const endpoints: string[] = [];
      for (let i = 0; i < 20; i++) endpoints.push(await device.register(randomUUID()));
      for (let i = 0; i < 500; i++) {
        const answer = await fetch(endpoints[i % endpoints.length] as string, { method: 'POST', headers: { TTL: '60' } });
        assert.equal(answer.status, 201);
        device.ack(await device.next('notification'));
      }
      device.send({});
      await device.next('ping');
      assert.equal(device.socket.readyState, device.socket.OPEN);
    } finally {
      device.close();
    }
  });
});
