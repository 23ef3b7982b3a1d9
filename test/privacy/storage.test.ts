/**
 * Threat 5 of docs/security.md: the database leaks. After a message was delivered and acked, the
 * SQLite files (database, WAL, shared memory) hold neither its payload (plaintext or ciphertext)
 * nor the sender's public key in clear, and no source IP address anywhere.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fromBase64Url } from '../../src/crypto/base64.js';
import { generateVapidKeyPair } from '../../src/crypto/vapid.js';
import { CHANNEL_A, CHANNEL_B, RawDevice, startHerald } from '../helpers/herald.js';
import { newSubscriber, vapidHeader } from '../helpers/sender.js';
import { waitFor } from '../helpers/wait.js';

function databaseBytes(dataDir: string): Array<{ file: string; bytes: Buffer }> {
  return ['herald.db', 'herald.db-wal', 'herald.db-shm']
    .map((name) => path.join(dataDir, name))
    .filter((file) => existsSync(file))
    .map((file) => ({ file: path.basename(file), bytes: readFileSync(file) }));
}

describe('data minimisation in storage', () => {
  it('after delivery and ack the SQLite files hold no payload, no sender key in clear and no source IP', async () => {
    const running = await startHerald();
    try {
      const sender = generateVapidKeyPair();
      const subscriber = newSubscriber();
      const plaintext = 'the meeting moved to 3 pm, room 4.12';
      const ciphertexts: Buffer[] = [];

      const device = await RawDevice.connect(running.wsUrl);
      const uaid = await device.hello();
      const v1 = await device.register(CHANNEL_A);
      const v2 = await device.register(CHANNEL_B, sender.publicKey);
      const authorization = vapidHeader(running.origin, sender, 600);
      // Delivered live, and delivered from storage after a reconnect; large ones spill to overflow pages.
      for (const [endpoint, size] of [[v1, 100], [v2, 3000], [v1, 4000]] as const) {
        const body = subscriber.encrypt(plaintext.padEnd(size, '.'));
        ciphertexts.push(body);
        const response = await fetch(endpoint, { method: 'POST', headers: { TTL: '600', 'Content-Encoding': 'aes128gcm', Authorization: authorization }, body });
        assert.equal(response.status, 201);
        device.ack(await device.next('notification'));
      }
      device.close();
      await device.closed;
      assert.equal(await (await running.store()).countMessages(uaid, Date.now()), 0, 'every message was acked and deleted');

      // The files as an attacker who copies them finds them, while Herald runs. The WAL keeps the
      // pages of a deleted message until it is checkpointed and truncated when quiet (checkpointer.ts):
      // look until then, and fail if it never happens.
      const publicKey = fromBase64Url(sender.publicKey) as Buffer;
      const needles: Array<[string, Buffer]> = [
        ['plaintext', Buffer.from(plaintext.slice(0, 20))],
        ['sender public key (raw)', publicKey],
        ['sender public key (base64url)', Buffer.from(sender.publicKey)],
        ['source IP (text)', Buffer.from('127.0.0.1')],
        ['source IP (IPv4 bytes as IPv6-mapped)', Buffer.from('00000000000000000000ffff7f000001', 'hex')],
        ...ciphertexts.flatMap((body, i): Array<[string, Buffer]> => [
          [`ciphertext ${i} (head)`, body.subarray(0, 32)],
          [`ciphertext ${i} (middle)`, body.subarray(body.length / 2, body.length / 2 + 32)],
          [`ciphertext ${i} (tail)`, body.subarray(body.length - 32)],
        ]),
      ];
      const found = (): string[] =>
        databaseBytes(running.dataDir).flatMap(({ file, bytes }) =>
          needles.filter(([, needle]) => bytes.includes(needle)).map(([name]) => `${file} holds the ${name}`),
        );
      await waitFor(() => found().length === 0, 15_000, 'the SQLite files to hold none of it', 250).catch(() => {});
      assert.deepEqual(found(), []);
      assert.ok(databaseBytes(running.dataDir).some(({ file }) => file === 'herald.db'));
      // The subscription is still there: only its key hash was needed.
      assert.equal((await (await running.store()).getChannel(uaid, CHANNEL_B))?.senderKeyHash?.length, 32);
    } finally {
      await running.stop();
    }
  });
});

