/**
 * UDP wake-up (docs/wakeup.md): takes wake-up addresses from hellos, hands each device its
 * wake-up key, and sends one authenticated datagram when a message is stored for a device that is
 * not connected. The key is derived from the endpoint-token ring (HKDF over the uaid), so Herald
 * stores only the address and the ring key id the device was handed.
 */
import type { RateLimiterMemory } from 'rate-limiter-flexible';
import { toBase64Url } from '../../crypto/base64.js';
import type { KeyRing } from '../../crypto/keyring.js';
import { deriveWakeupKey, encodeWakeupDatagram } from '../../crypto/wakeup.js';
import type { WakeupAddress, WakeupStore } from '../../store/types.js';
import { refusal } from './answers.js';
import { WakeupPolicy, type WakeupPolicyOptions } from './policy.js';
import type { WakeupHello, WakeupHelloResult, WakeupHook } from '../protocol/hooks.js';
import { DatagramSender } from './sender.js';

export interface WakeupOptions extends WakeupPolicyOptions {
  /** At most one datagram per device per this many seconds (on this node). */
  minIntervalSeconds: number;
}

/** What became of one wake-up attempt (for metrics; never carries the uaid). */
export type WakeOutcome = 'sent' | 'rate-limited' | 'no-address' | 'key-retired' | 'failed';

export interface WakeupObserver {
  woke?(outcome: WakeOutcome, error?: unknown): void;
  /** Storing or clearing an address failed under a hello (the hello went on). */
  storageFailed?(error: unknown): void;
}

export interface WakeupDeps {
  store: WakeupStore;
  /** The ring wake-up keys are derived from; its first key keys new hellos. */
  ring: KeyRing;
  now(): number;
  observe?: WakeupObserver;
}

export class WakeupService implements WakeupHook {
  private readonly policy: WakeupPolicy;
  /** Built at the first wake-up: a Herald with wake-up off (the default) never loads the library. */
  private limiter: Promise<RateLimiterMemory> | undefined;
  private readonly minIntervalSeconds: number;
  private readonly sender = new DatagramSender();
  private lastCounter = 0n;

  constructor(
    private readonly deps: WakeupDeps,
    options: WakeupOptions,
  ) {
    this.policy = new WakeupPolicy(options);
    this.minIntervalSeconds = options.minIntervalSeconds;
  }

  get enabled(): boolean {
    return this.policy.enabled;
  }

  async hello(request: WakeupHello): Promise<WakeupHelloResult> {
    const { uaid, value, recorded } = request;
    if (!this.policy.enabled) {
      // Off: nothing is read or written; a device that asks is told so.
      return value === undefined ? { pending: null } : { answer: refusal('off'), pending: null };
    }
    const checked = value === undefined ? null : this.policy.check(value, request.peerAddress);
    if (!checked?.ok) {
      // Each hello restates where the device listens: no (valid) declaration withdraws the old one,
      // so Herald never wakes an address the device has left.
      if (recorded && !(await this.tryStore(() => this.deps.store.deleteWakeupAddress(uaid)))) {
        return { answer: refusal('storageFailed'), pending: null };
      }
      return checked ? { answer: refusal(checked.reason), pending: null } : { pending: null };
    }
    const ringKey = this.deps.ring.keys[0];
    if (!ringKey) throw new Error('unreachable: a key ring always has a key');
    const address: WakeupAddress = { host: checked.host, port: checked.port, keyId: ringKey.id, updatedAt: this.deps.now() };
    if (recorded && !(await this.tryStore(() => this.deps.store.setWakeupAddress(uaid, address)))) {
      return { answer: refusal('storageFailed'), pending: null };
    }
    const key = deriveWakeupKey(ringKey.secret, uaid);
    return { answer: { status: 200, keyId: ringKey.id, key: toBase64Url(key) }, pending: recorded ? null : address };
  }

  async remember(uaid: string, address: WakeupAddress): Promise<void> {
    await this.deps.store.setWakeupAddress(uaid, address);
  }

  /**
   * A message was stored for a device no node holds. Sends it one datagram unless it has no
   * address, its key's ring key was retired, or it was woken less than minIntervalSeconds ago.
   * Never rejects.
   */
  async wake(uaid: string): Promise<WakeOutcome> {
    const outcome = await this.tryWake(uaid).catch((error: unknown) => {
      this.deps.observe?.woke?.('failed', error);
      return null;
    });
    if (outcome) this.deps.observe?.woke?.(outcome);
    return outcome ?? 'failed';
  }

  async close(): Promise<void> {
    await this.sender.close();
  }

  private perDeviceLimiter(): Promise<RateLimiterMemory> {
    this.limiter ??= import('rate-limiter-flexible').then(
      ({ RateLimiterMemory }) => new RateLimiterMemory({ points: 1, duration: this.minIntervalSeconds, keyPrefix: 'wakeup' }),
    );
    return this.limiter;
  }

  private async tryWake(uaid: string): Promise<WakeOutcome> {
    if (!this.policy.enabled) return 'no-address';
    const address = await this.deps.store.getWakeupAddress(uaid);
    if (!address) return 'no-address';
    const ringKey = this.deps.ring.keys.find((key) => key.id === address.keyId);
    // The device holds a key derived from a ring key the operator has since removed: it gets a
    // fresh one at its next hello; until then no datagram it could verify can be made.
    if (!ringKey) return 'key-retired';
    // Only devices that have an address reach the limiter, so its memory is bounded by them.
    const allowed = await (await this.perDeviceLimiter()).consume(uaid).then(
      () => true,
      (rejection: unknown) => {
        if (rejection instanceof Error) throw rejection;
        return false;
      },
    );
    if (!allowed) return 'rate-limited';
    const now = this.deps.now();
    const datagram = encodeWakeupDatagram({ keyId: ringKey.id, timestamp: now, counter: this.nextCounter(now) }, deriveWakeupKey(ringKey.secret, uaid));
    await this.sender.send(datagram, address.host, address.port);
    return 'sent';
  }

  /**
   * Strictly increasing within this process and, since it starts from the clock (1000 per ms),
   * across restarts too: a device that saw a counter before a restart still accepts the next one.
   * Nodes share no counter; with synchronised clocks a datagram from another node is at worst
   * refused as a replay while the device is already awake.
   */
  private nextCounter(now: number): bigint {
    const fromClock = BigInt(Math.max(0, Math.floor(now))) * 1000n;
    this.lastCounter = fromClock > this.lastCounter ? fromClock : this.lastCounter + 1n;
    return this.lastCounter;
  }

  private async tryStore(write: () => Promise<unknown>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (error) {
      this.deps.observe?.storageFailed?.(error);
      return false;
    }
  }
}
