/**
 * The per-connection protocol of protocol.md §1 as a state machine. It owns no socket and no
 * timer: frames come in as text, live messages come in as values, and everything it does to the
 * outside goes through the ports it is handed (send/close, the store, the device registry, a clock).
 * Tests drive it with plain values and a real in-memory store.
 */
import { toBase64Url } from '../../crypto/base64.js';
import { cursorAfter } from '../../store/cursor.js';
import type { DrainCursor, Store, StoredMessage, Urgency, WakeupAddress } from '../../store/types.js';
import { parseClientMessage, ProtocolViolation, type ClientMessage, type ServerMessage, type BroadcastAnswer } from './messages.js';
import { checkSenderKey } from './sender-key.js';
import { FrameBudget, type FrameBudgetOptions } from './frame-budget.js';
import type { WakeupPort } from '../wakeup/port.js';

/** A message handed to a connected device; `stored` is false only for TTL=0 messages. */
export interface LiveMessage {
  message: StoredMessage | Omit<StoredMessage, 'seq'>;
  stored: boolean;
}

export interface SessionOptions {
  msgLimit: number;
  batchSize: number;
  clientPingIntervalMs: number;
  /** A connected device's lastSeenAt is refreshed this often, so the idle sweep never takes it. */
  touchIntervalMs?: number;
  /** Channels a device may hold (guard); a register beyond answers status 409. 0 or absent: no cap. */
  maxChannelsPerDevice?: number;
  /** Frames this socket may send (guard); past a budget the socket closes 1011. Absent: no limit. */
  frameBudget?: FrameBudgetOptions;
}

/** TTL=0 messages held back while a drain runs (they are never stored, so they wait in memory). */
const MAX_HELD_TRANSIENT = 100;
const DEFAULT_TOUCH_INTERVAL_MS = 86_400_000;

export interface SessionPorts {
  store: Store;
  now(): number;
  newUaid(): string;
  newChannelId(): string;
  /** The push endpoint URL for a channel (v2 when a sender key hash is given). */
  endpointFor(uaid: string, channelId: string, senderKeyHash: Buffer | null): string;
  /** Makes this session the one that receives live messages for uaid, closing any older one. */
  claimDevice(uaid: string, session: PushSession): void;
  releaseDevice(uaid: string, session: PushSession): void;
  /** Current broadcast versions, by id. */
  broadcasts(): Readonly<Record<string, string>>;
  /** A revoked or blocked sender key may not be bound to a new channel (docs/security.md). */
  isSenderKeyBlocked?(keyHash: Buffer): boolean | Promise<boolean>;
  send(message: ServerMessage): void;
  close(code: number, reason: string): void;
  observe?: SessionObserver;
  /** The socket's peer address (the socket server fills it in). */
  peerAddress?: string;
  /** Herald adds (docs/wakeup.md): UDP wake-up addresses and keys. */
  wakeup?: WakeupPort;
  /**
   * push.deviceAuth = "token" (docs/security.md): who the hello's token names. Given, a hello
   * without a valid token is refused, and a device answers only to the owner it registered under.
   */
  deviceAuth?: { verify(token: unknown): { ok: true; owner: string } | { ok: false; reason: string } };
}

/** Hooks for metrics and logs; never given payloads. */
export interface SessionObserver {
  delivered?(count: number, fromStorage: boolean): void;
  acked?(code: number | null): void;
  reset?(): void;
  registered?(): void;
  unregistered?(): void;
  violation?(reason: string): void;
  /** Storage failed under this session; the socket is closed 1011 and nothing stored is lost. */
  storageFailed?(error: unknown): void;
}

const SENDER_KEY_REVOKED = "the application server's key is revoked; subscribe with its new key";

const URGENCY_RANK: Record<Urgency, number> = { 'very-low': 0, low: 1, normal: 2, high: 3 };

type Phase = 'awaiting-hello' | 'ready' | 'closed';

interface Pending {
  channelId: string;
  stored: boolean;
  /** Part of the drain batch in flight (the next batch waits for these). */
  inBatch: boolean;
}

export class PushSession {
  private phase: Phase = 'awaiting-hello';
  private currentUaid: string | null = null;
  private deviceRecorded = false;
  /** push.deviceAuth: the token-server user this socket's hello was authenticated as. */
  private owner: string | null = null;
  private minUrgency: Urgency = 'very-low';
  private lastPingAt: number | null = null;
  private lastTouchAt = 0;
  private readonly pending = new Map<string, Pending>();
  private readonly broadcastSubscriptions = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  private readonly budget: FrameBudget;

  // Drain of stored messages: runs from hello until storage has nothing more for this device.
  private draining = false;
  private fetching = false;
  /** A live message arrived while draining: storage holds something the last fetch may have missed. */
  private storageChanged = false;
  private cursor: DrainCursor | undefined;
  private sentFromStorage = 0;
  private batchOutstanding = 0;
  /** TTL=0 messages that arrived mid-drain; sent after it, so a channel's order holds. */
  private heldTransient: LiveMessage[] = [];
  /** A wake-up address accepted at hello for a device not recorded yet: stored at its first register. */
  private pendingWakeup: WakeupAddress | null = null;

  constructor(
    private readonly ports: SessionPorts,
    private readonly options: SessionOptions,
  ) {
    this.budget = new FrameBudget(options.frameBudget ?? {}, ports.now());
  }

  get uaid(): string | null {
    return this.currentUaid;
  }

  get isClosed(): boolean {
    return this.phase === 'closed';
  }

  /** Number of messages sent and not yet acked (for tests and metrics). */
  get unackedCount(): number {
    return this.pending.size;
  }

  /** Frames are handled one at a time, in order; the returned promise settles when this one is done. */
  receive(text: string): Promise<void> {
    this.queue = this.queue.then(() => this.handle(text));
    return this.queue;
  }

  /** Called when the socket is gone (closed by either side). Unacked messages stay stored. */
  ended(): void {
    if (this.phase === 'closed' && this.currentUaid === null) return;
    const uaid = this.currentUaid;
    this.phase = 'closed';
    if (uaid) this.ports.releaseDevice(uaid, this);
  }

  /** Closes the socket from the server side (replaced socket, timeouts, violations). */
  terminate(code: number, reason: string): void {
    if (this.phase === 'closed') return;
    this.ended();
    this.ports.close(code, reason);
  }

  /**
   * A message for this device was accepted while it is connected. While stored messages are still
   * being drained, a stored one is left to the drain (which reads it from storage in order).
   */
  deliverLive(live: LiveMessage): void {
    if (this.phase !== 'ready') return;
    if (this.draining) {
      if (live.stored) {
        this.storageChanged = true;
      } else {
        // Older stored messages of the same channel go first; a TTL=0 message waits in memory.
        this.heldTransient.push(live);
        if (this.heldTransient.length > MAX_HELD_TRANSIENT) this.heldTransient.shift();
      }
      return;
    }
    if (!this.wanted(live.message.urgency)) return;
    this.sendNotification(live.message, live.stored, false);
    this.ports.observe?.delivered?.(1, false);
  }

  /**
   * Storage may hold messages for this device that never reached it live (a hand-off failed while
   * the bus was down): drain again from where the last drain stopped, as after a hello. Runs in
   * turn with the frames. Resolves false when storage failed (the socket stays open; ask again).
   */
  recheckStorage(): Promise<boolean> {
    const looked = this.queue.then(async () => {
      if (this.phase !== 'ready' || !this.deviceRecorded) return true;
      // A drain in progress reads storage again before it ends.
      if (this.draining) {
        this.storageChanged = true;
        return true;
      }
      this.draining = true;
      this.sentFromStorage = 0;
      try {
        await this.drain();
        return true;
      } catch {
        if (this.draining) this.finishDrain();
        return false;
      }
    });
    this.queue = looked.then(() => undefined);
    return looked;
  }

  /**
   * The socket proved alive (a pong). A device that stays connected for months must not look idle
   * to the sweep, so its lastSeenAt is refreshed now and then.
   */
  async keepAlive(): Promise<void> {
    const uaid = this.currentUaid;
    if (this.phase !== 'ready' || uaid === null || !this.deviceRecorded) return;
    const now = this.ports.now();
    if (now - this.lastTouchAt < (this.options.touchIntervalMs ?? DEFAULT_TOUCH_INTERVAL_MS)) return;
    this.lastTouchAt = now;
    await this.ports.store.touchDevice(uaid, now).catch(() => undefined);
  }

  /** Broadcast versions changed: tell this device about the ones it subscribed to. */
  broadcastsChanged(changed: Readonly<Record<string, string>>): void {
    if (this.phase !== 'ready') return;
    const answer: BroadcastAnswer = {};
    for (const [id, version] of Object.entries(changed)) {
      if (this.broadcastSubscriptions.has(id)) answer[id] = version;
    }
    if (Object.keys(answer).length > 0) this.ports.send({ messageType: 'broadcast', broadcasts: answer });
  }

  private async handle(text: string): Promise<void> {
    if (this.phase === 'closed') return;
    let message: ClientMessage;
    try {
      message = parseClientMessage(text);
      if (this.phase === 'awaiting-hello' && message.messageType !== 'hello') {
        throw new ProtocolViolation('the first message must be hello');
      }
      if (this.phase === 'ready' && message.messageType === 'hello') {
        throw new ProtocolViolation('a second hello on one connection');
      }
      // Like pings too fast (autopush closes those 1011 too): Firefox reconnects with backoff.
      const overBudget = this.budget.spend(message.messageType, this.ports.now());
      if (overBudget) throw new ProtocolViolation(overBudget);
    } catch (error) {
      if (error instanceof ProtocolViolation) return this.violate(error);
      throw error;
    }
    try {
      await this.dispatch(message);
    } catch (error) {
      if (error instanceof ProtocolViolation) return this.violate(error);
      // Storage failures end the connection; nothing stored is lost (unacked messages stay).
      this.ports.observe?.storageFailed?.(error);
      this.terminate(1011, 'storage failure');
    }
  }

  private violate(error: ProtocolViolation): void {
    this.ports.observe?.violation?.(error.message);
    this.terminate(error.closeCode, error.message);
  }

  private async dispatch(message: ClientMessage): Promise<void> {
    switch (message.messageType) {
      case 'hello':
        return this.hello(message.uaid, message.broadcasts, message.urgency, message.wakeup, message.token);
      case 'register':
        return this.register(message.channelID, message.key);
      case 'unregister':
        return this.unregister(message.channelID);
      case 'ack':
        return this.ack(message.updates);
      case 'nack':
        return this.nack(message.version);
      case 'ping':
        return this.ping();
      case 'broadcast_subscribe': {
        const answer = this.subscribeBroadcasts(message.broadcasts);
        if (Object.keys(answer).length > 0) this.ports.send({ messageType: 'broadcast', broadcasts: answer });
        return;
      }
    }
  }

  private async hello(
    requested: string | null,
    broadcasts: Record<string, string>,
    urgency: Urgency | null,
    wakeupValue?: unknown,
    token?: unknown,
  ): Promise<void> {
    const now = this.ports.now();
    let uaid: string | null = null;
    if (this.ports.deviceAuth) {
      const verdict = this.ports.deviceAuth.verify(token);
      if (!verdict.ok) {
        this.ports.send({ messageType: 'hello', status: 401, error: verdict.reason });
        this.terminate(1011, 'hello without a valid service token');
        return;
      }
      this.owner = verdict.owner;
      // A uaid bound to someone else (or to nobody) is treated as unknown: a fresh one, and no drain.
      if (requested !== null && (await this.ports.store.getDeviceOwner(requested)) !== verdict.owner) requested = null;
      if (this.phase !== 'awaiting-hello') return;
    }
    // Firefox drops every subscription when the answered uaid differs from the one it sent, so a
    // known device always keeps its uaid; an unknown or malformed one gets a fresh id.
    if (requested !== null && /^[0-9a-f]{32}$/.test(requested) && (await this.ports.store.touchDevice(requested, now))) {
      uaid = requested;
      this.deviceRecorded = true;
      this.lastTouchAt = now;
    }
    if (this.phase !== 'awaiting-hello') return;
    uaid ??= this.ports.newUaid();
    // Before the session is ready, so no live message can overtake the hello answer meanwhile.
    const wakeup = await this.ports.wakeup?.hello({ uaid, value: wakeupValue, peerAddress: this.ports.peerAddress, recorded: this.deviceRecorded });
    if (this.phase !== 'awaiting-hello') return;
    this.pendingWakeup = wakeup?.pending ?? null;
    this.currentUaid = uaid;
    this.phase = 'ready';
    if (urgency) this.minUrgency = urgency;
    // Claim before draining: a message accepted from now on either reaches this session live or
    // flags the drain to look at storage again, so none falls between the two.
    this.ports.claimDevice(uaid, this);
    this.ports.send({
      messageType: 'hello',
      uaid,
      status: 200,
      use_webpush: true,
      broadcasts: this.subscribeBroadcasts(broadcasts),
      ...(wakeup?.answer ? { wakeup: wakeup.answer } : {}),
    });
    if (this.deviceRecorded) {
      this.draining = true;
      await this.drain();
    }
  }

  private async register(requestedChannelId: string | null, key: string | null): Promise<void> {
    const uaid = this.requireUaid();
    const channelId = requestedChannelId ?? this.ports.newChannelId();
    let senderKeyHash: Buffer | null = null;
    if (key !== null) {
      const checked = checkSenderKey(key);
      if (!checked.ok) {
        this.ports.send({ messageType: 'register', channelID: channelId, status: 400, error: checked.reason });
        return;
      }
      senderKeyHash = checked.hash;
    }
    const now = this.ports.now();
    try {
      if (senderKeyHash && (await this.ports.isSenderKeyBlocked?.(senderKeyHash))) {
        this.ports.send({ messageType: 'register', channelID: channelId, status: 400, error: SENDER_KEY_REVOKED });
        return;
      }
      if (await this.atChannelCap(uaid, channelId)) {
        const error = `too many registrations for this device (at most ${this.options.maxChannelsPerDevice}); unregister one first`;
        this.ports.send({ messageType: 'register', channelID: channelId, status: 409, error });
        return;
      }
      await this.ports.store.upsertDevice(uaid, now);
      this.deviceRecorded = true;
      if (this.owner !== null && !(await this.ports.store.bindDeviceOwner(uaid, this.owner, now))) {
        // Only a uaid bound to someone else gets here (hello checked it), and that cannot happen
        // for a fresh one: refuse rather than hand out an endpoint under another user's device.
        this.ports.send({ messageType: 'register', channelID: channelId, status: 500, error: 'device owner mismatch' });
        return;
      }
      if (this.pendingWakeup) await this.ports.wakeup?.remember(uaid, this.pendingWakeup);
      this.pendingWakeup = null;
      await this.ports.store.putChannel({ uaid, channelId, senderKeyHash, createdAt: now });
    } catch {
      this.ports.send({ messageType: 'register', channelID: channelId, status: 500, error: 'storage failure' });
      return;
    }
    this.ports.observe?.registered?.();
    this.ports.send({
      messageType: 'register',
      channelID: channelId,
      status: 200,
      pushEndpoint: this.ports.endpointFor(uaid, channelId, senderKeyHash),
    });
  }

  /** Re-registering a channel the device already holds replaces it, so it never counts against the cap. */
  private async atChannelCap(uaid: string, channelId: string): Promise<boolean> {
    const cap = this.options.maxChannelsPerDevice ?? 0;
    if (cap <= 0 || (await this.ports.store.countChannels(uaid)) < cap) return false;
    return (await this.ports.store.getChannel(uaid, channelId)) === null;
  }

  private async unregister(channelId: string): Promise<void> {
    const uaid = this.requireUaid();
    await this.ports.store.deleteChannel(uaid, channelId);
    for (const [version, pending] of this.pending) {
      if (pending.channelId === channelId) this.settle(version);
    }
    this.ports.observe?.unregistered?.();
    // 200 even when the channel did not exist: the device's wish is fulfilled either way.
    this.ports.send({ messageType: 'unregister', channelID: channelId, status: 200 });
    // The batch in flight may have been all of that channel's: the drain must not wait for it.
    await this.continueDrain();
  }

  private async ack(updates: Array<{ channelID: string; version: string; code: number | null }>): Promise<void> {
    const uaid = this.requireUaid();
    for (const update of updates) {
      const pending = this.pending.get(update.version);
      // Acks for versions this connection never sent are ignored: they cannot touch storage.
      if (!pending || pending.channelId !== update.channelID) continue;
      if (pending.stored) await this.ports.store.deleteMessage(uaid, update.version);
      this.settle(update.version);
      this.ports.observe?.acked?.(update.code);
    }
    await this.continueDrain();
  }

  /** The device could not handle the message now: it stays stored and comes again next connection. */
  private async nack(version: string): Promise<void> {
    this.requireUaid();
    if (this.pending.has(version)) this.settle(version);
    await this.continueDrain();
  }

  private ping(): void {
    const now = this.ports.now();
    if (this.lastPingAt !== null && now - this.lastPingAt < this.options.clientPingIntervalMs) {
      throw new ProtocolViolation('pings are too frequent');
    }
    this.lastPingAt = now;
    this.ports.send({});
  }

  private subscribeBroadcasts(requested: Record<string, string>): BroadcastAnswer {
    const current = this.ports.broadcasts();
    const answer: BroadcastAnswer = {};
    const errors: Record<string, string> = {};
    for (const [id, version] of Object.entries(requested)) {
      const known = Object.hasOwn(current, id) ? current[id] : undefined;
      if (known === undefined) {
        errors[id] = 'Broadcast not found';
        continue;
      }
      this.broadcastSubscriptions.add(id);
      if (known !== version) answer[id] = known;
    }
    if (Object.keys(errors).length > 0) answer.errors = errors;
    return answer;
  }

  private settle(version: string): void {
    const pending = this.pending.get(version);
    if (!pending) return;
    this.pending.delete(version);
    if (pending.inBatch) this.batchOutstanding--;
  }

  private async continueDrain(): Promise<void> {
    if (this.draining && this.batchOutstanding === 0) await this.drain();
  }

  /**
   * Sends the next batch of stored messages: topic messages first, then arrival order. Runs until
   * a batch awaits acks, storage is empty, or the device went past msg_limit (then it is reset).
   * Messages below the device's urgency floor are passed over (they stay stored) and do not count
   * towards msg_limit.
   */
  private async drain(): Promise<void> {
    if (this.fetching) return;
    this.fetching = true;
    try {
      const uaid = this.requireUaid();
      while (this.phase === 'ready' && this.draining && this.batchOutstanding === 0) {
        this.storageChanged = false;
        const allowance = this.options.msgLimit - this.sentFromStorage;
        const limit = Math.max(1, Math.min(this.options.batchSize, allowance));
        const batch = await this.ports.store.fetchMessages(uaid, { after: this.cursor, limit, now: this.ports.now() });
        if (this.phase !== 'ready') return;
        if (batch.length === 0) {
          if (this.storageChanged) continue;
          this.finishDrain();
          return;
        }
        this.cursor = cursorAfter(this.cursor, batch);
        const toSend = batch.filter((message) => !this.pending.has(message.id) && this.wanted(message.urgency));
        if (toSend.length === 0) continue;
        if (allowance <= 0) return await this.resetDevice(uaid);
        for (const message of toSend) this.sendNotification(message, true, true);
        this.sentFromStorage += toSend.length;
        this.ports.observe?.delivered?.(toSend.length, true);
      }
    } finally {
      this.fetching = false;
    }
  }

  /** Storage has nothing more: from now on messages go out as they arrive. */
  private finishDrain(): void {
    this.draining = false;
    const held = this.heldTransient;
    this.heldTransient = [];
    for (const live of held) this.deliverLive(live);
  }

  /** protocol.md §1: a device whose backlog exceeds msg_limit starts over with a new uaid. */
  private async resetDevice(uaid: string): Promise<void> {
    await this.ports.store.dropDevice(uaid);
    this.ports.observe?.reset?.();
    this.terminate(1000, 'too many stored messages: device reset');
  }

  private sendNotification(message: LiveMessage['message'], stored: boolean, inBatch: boolean): void {
    this.pending.set(message.id, { channelId: message.channelId, stored, inBatch });
    if (inBatch) this.batchOutstanding++;
    const ttl = Math.max(0, Math.round((message.expiresAt - this.ports.now()) / 1000));
    if (message.data === null) {
      this.ports.send({ messageType: 'notification', channelID: message.channelId, version: message.id, ttl });
      return;
    }
    const frame: ServerMessage = {
      messageType: 'notification',
      channelID: message.channelId,
      version: message.id,
      ttl,
      data: toBase64Url(message.data),
    };
    if (message.headers) frame.headers = message.headers;
    this.ports.send(frame);
  }

  private wanted(urgency: Urgency): boolean {
    return URGENCY_RANK[urgency] >= URGENCY_RANK[this.minUrgency];
  }

  private requireUaid(): string {
    if (this.currentUaid === null) throw new ProtocolViolation('the first message must be hello');
    return this.currentUaid;
  }
}
