import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, validateConfig } from '../../../src/config/load.js';
import { WakeupPolicy } from '../../../src/push/wakeup/policy.js';

describe('who may declare a wake-up address', () => {
  const lan = new WakeupPolicy({ allowedNetworks: ['192.168.0.0/16', 'fd00::/8'], hostMustMatchPeer: true });

  it('a device on an allowed network may declare its own address, IPv4 or IPv6', () => {
    assert.deepEqual(lan.check({ host: '192.168.1.20', port: 5000 }, '192.168.1.20'), { ok: true, host: '192.168.1.20', port: 5000 });
    assert.deepEqual(lan.check({ host: 'fd00::20', port: 5000 }, 'fd00::20'), { ok: true, host: 'fd00::20', port: 5000 });
  });

  it('an IPv4 peer seen through a dual-stack socket counts as IPv4', () => {
    assert.deepEqual(lan.check({ host: '192.168.1.20', port: 5000 }, '::ffff:192.168.1.20'), { ok: true, host: '192.168.1.20', port: 5000 });
  });

  it('a peer outside the allowed networks is refused, and so is an unknown peer', () => {
    assert.deepEqual(lan.check({ host: '10.0.0.1', port: 5000 }, '10.0.0.1'), { ok: false, reason: 'networkNotAllowed' });
    assert.deepEqual(lan.check({ host: '192.168.1.20', port: 5000 }, undefined), { ok: false, reason: 'networkNotAllowed' });
  });

  it('another host, even on the same network, is refused while hostMustMatchPeer holds', () => {
    assert.deepEqual(lan.check({ host: '192.168.1.21', port: 5000 }, '192.168.1.20'), { ok: false, reason: 'hostNotPeer' });
  });

  it('without hostMustMatchPeer the host must still be inside the allowed networks', () => {
    const proxied = new WakeupPolicy({ allowedNetworks: ['192.168.0.0/16'], hostMustMatchPeer: false });
    assert.deepEqual(proxied.check({ host: '192.168.7.7', port: 1 }, '192.168.1.20'), { ok: true, host: '192.168.7.7', port: 1 });
    assert.deepEqual(proxied.check({ host: '8.8.8.8', port: 53 }, '192.168.1.20'), { ok: false, reason: 'hostNotAllowed' });
  });

  it('broadcast, multicast and unspecified hosts are never accepted', () => {
    const open = new WakeupPolicy({ allowedNetworks: ['0.0.0.0/0', '::/0'], hostMustMatchPeer: false });
    for (const host of ['255.255.255.255', '224.0.0.1', '0.0.0.0', '::', 'ff02::1']) {
      assert.deepEqual(open.check({ host, port: 9 }, '192.168.1.20'), { ok: false, reason: 'unusableHost' }, host);
    }
  });

  it('names, zone ids and odd spellings are malformed, not resolved', () => {
    for (const host of ['printer.local', 'fe80::1%eth0', '0300.0250.0001.0024', '192.168.1', ' 192.168.1.20']) {
      assert.deepEqual(lan.check({ host, port: 9 }, '192.168.1.20'), { ok: false, reason: 'malformed' }, host);
    }
  });

  it('with no allowed network the feature is off', () => {
    const off = new WakeupPolicy({ allowedNetworks: [], hostMustMatchPeer: true });
    assert.equal(off.enabled, false);
    assert.deepEqual(off.check({ host: '127.0.0.1', port: 9 }, '127.0.0.1'), { ok: false, reason: 'off' });
  });

  it('a network that is not a CIDR block stops the start with a message naming the option', () => {
    assert.throws(() => validateConfig({ push: { wakeup: { allowedNetworks: ['192.168.0.0/33'] } } }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /push\.wakeup\.allowedNetworks/);
      return true;
    });
    assert.deepEqual(validateConfig({}).push.wakeup, { allowedNetworks: [], hostMustMatchPeer: true, minIntervalSeconds: 30 });
  });
});
