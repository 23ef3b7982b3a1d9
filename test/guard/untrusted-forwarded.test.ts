/**
 * Guard defaults behind a proxy (docs/security.md, hardening row 12): X-Forwarded-For from a peer
 * that is not a trusted proxy is ignored, so the operator is told once, in the log and a metric,
 * that every client behind that proxy shares one budget (or, on loopback, is exempt).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateVapidKeyPair } from '../../src/crypto/vapid.js';
import { captureLog } from '../helpers/log.js';
import { CHANNEL_A, startHerald, subscribedDevice } from '../helpers/herald.js';
import { expectStatus, post, vapidHeader } from '../helpers/sender.js';

const TOKEN = 't'.repeat(32);

async function sendThrough(trustedProxies: string[]): Promise<{ warnings: string[]; counted: string | undefined }> {
  const log = captureLog();
  const sender = generateVapidKeyPair();
  const running = await startHerald({ server: { metricsToken: TOKEN }, guard: { trustedProxies } }, undefined, { logger: log.logger });
  const { device, endpoint } = await subscribedDevice(running.wsUrl, CHANNEL_A, sender.publicKey);
  try {
    for (let i = 0; i < 3; i += 1) {
      await expectStatus(await post(endpoint, { Authorization: vapidHeader(running.origin, sender), TTL: '60', 'X-Forwarded-For': `198.51.100.${i}` }), 201);
    }
    const metrics = await (await fetch(`${running.origin}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    const warnings = log
      .text()
      .split('\n')
      .filter((line) => line.includes('X-Forwarded-For'));
    return { warnings, counted: /^herald_guard_untrusted_forwarded_total (\d+)$/m.exec(metrics)?.[1] };
  } finally {
    device.close();
    await running.stop();
  }
}

describe('guard: X-Forwarded-For from an untrusted peer', () => {
  it('is warned about once and counted in a metric', async () => {
    const { warnings, counted } = await sendThrough([]);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0] ?? '', /"level":40/);
    assert.match(warnings[0] ?? '', /guard\.trustedProxies/);
    assert.equal(counted, '3');
  });

  it('from a trusted proxy is neither warned about nor counted', async () => {
    const { warnings, counted } = await sendThrough(['127.0.0.1']);
    assert.deepEqual(warnings, []);
    assert.equal(counted ?? '0', '0');
  });
});
