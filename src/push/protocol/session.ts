/**
 * One device connection (protocol.md §1) as a state machine: awaiting hello (hello.ts) → ready
 * (client-frames.ts) → closed. Frames come in as text and are handled one at a time; each handler
 * runs its storage commands and returns the frames to send, which this loop sends while the socket
 * is open. Live delivery and the drain of stored messages (drain.ts) feed the same outbox. It owns
 * no socket and no timer: everything outside goes through its ports (ports.ts). Tests drive it
 * with plain values and a real in-memory store.
 */
import { ack, broadcastSubscribe, nack, ping, register, unregister } from './client-frames.js';
import { learnChannelKeys } from './channel-keys.js';
import { DeviceState } from './device-state.js';
import { Drain } from './drain.js';
import { FrameBudget } from './frame-budget.js';
import type { FrameContext, Reply } from './frame-context.js';
import { hello } from './hello.js';
import type { RegisterCheck } from './hooks.js';
import type { LiveMessage } from './live.js';
import { parseClientMessage, ProtocolViolation, type BroadcastAnswer, type ClientMessage, type ServerMessage } from './messages.js';
import { Outbox } from './outbox.js';
import type { SessionOptions, SessionPortsOf } from './ports.js';
import { channelCap, senderKeyNotBlocked } from './register-checks.js';

export type { LiveMessage } from './live.js';
export type { SessionObserver, SessionOptions } from './ports.js';
export type SessionPorts = SessionPortsOf<PushSession>;

const DEFAULT_TOUCH_INTERVAL_MS = 86_400_000;

export class PushSession {
  private readonly device = new DeviceState();
  private readonly outbox = new Outbox();
  private readonly drain: Drain;
  private readonly budget: FrameBudget;
  private readonly context: FrameContext;
  private queue: Promise<void> = Promise.resolve();
  /** Closed by Herald (a violation, a replaced socket, a reset): queued frames are dropped. */
  private terminated = false;

  constructor(
    private readonly ports: SessionPorts,
    private readonly options: SessionOptions,
  ) {
    this.budget = new FrameBudget(options.frameBudget ?? {}, ports.now());
    this.drain = new Drain({
      store: ports.store,
      now: () => ports.now(),
      msgLimit: options.msgLimit,
      batchSize: options.batchSize,
      outbox: this.outbox,
      wanted: (urgency) => this.device.wanted(urgency),
      // Only where acks are counted per app: the drained messages' channel bindings.
      ...(ports.observe?.appDelivered ? { fetched: (uaid, batch) => learnChannelKeys(ports.store, this.device.channelKeys, uaid, batch) } : {}),
    });
    const registerChecks: RegisterCheck[] = [];
    if (ports.isSenderKeyBlocked) registerChecks.push(senderKeyNotBlocked((hash) => ports.isSenderKeyBlocked?.(hash) ?? false));
    if ((options.maxChannelsPerDevice ?? 0) > 0) registerChecks.push(channelCap(ports.store, options.maxChannelsPerDevice ?? 0));
    this.context = { ports: ports as FrameContext['ports'], options, device: this.device, outbox: this.outbox, registerChecks };
  }

  get uaid(): string | null {
    return this.device.uaid;
  }

  get isClosed(): boolean {
    return this.device.phase === 'closed';
  }

  /** Number of messages sent and not yet acked (for tests and metrics). */
  get unackedCount(): number {
    return this.outbox.size;
  }

  /** Frames are handled one at a time, in order; the returned promise settles when this one is done. */
  receive(text: string): Promise<void> {
    this.queue = this.queue.then(() => this.handle(text));
    return this.queue;
  }

  /** Called when the socket is gone (closed by either side). Unacked messages stay stored. */
  ended(): void {
    if (this.device.phase === 'closed' && this.device.uaid === null) return;
    const uaid = this.device.uaid;
    this.device.phase = 'closed';
    if (uaid) this.ports.releaseDevice(uaid, this);
  }

  /** Closes the socket from the server side (replaced socket, timeouts, violations). */
  terminate(code: number, reason: string): void {
    if (this.device.phase === 'closed') return;
    this.terminated = true;
    this.ended();
    this.ports.close(code, reason);
  }

  /**
   * A message for this device was accepted while it is connected. While stored messages are still
   * being drained, a stored one is left to the drain (which reads it from storage in order).
   */
  deliverLive(live: LiveMessage): void {
    if (this.device.phase !== 'ready') return;
    if (this.drain.active) {
      // Older stored messages of the same channel go first; a TTL=0 message waits in memory.
      if (live.stored) this.drain.storageChanged = true;
      else this.drain.hold(live);
      return;
    }
    if (!this.device.wanted(live.message.urgency)) return;
    // A node of the older bus format sends no key: the binding this connection knows, if any.
    const senderKeyHash = live.senderKeyHash !== undefined ? live.senderKeyHash : (this.device.channelKeys.get(live.message.channelId) ?? null);
    this.ports.send(this.outbox.notify(live.message, live.stored, false, this.ports.now(), senderKeyHash));
    this.ports.observe?.delivered?.(1, false);
  }

  /**
   * Storage may hold messages for this device that never reached it live (a hand-off failed while
   * the bus was down): drain again from where the last drain stopped, as after a hello. Runs in
   * turn with the frames. Resolves false when storage failed (the socket stays open; ask again).
   */
  recheckStorage(): Promise<boolean> {
    const looked = this.queue.then(async () => {
      if (this.device.phase !== 'ready' || !this.device.recorded) return true;
      // A drain in progress reads storage again before it ends.
      if (this.drain.active) {
        this.drain.storageChanged = true;
        return true;
      }
      this.drain.restart();
      try {
        await this.runDrain();
        return true;
      } catch {
        if (this.drain.active) {
          this.drain.active = false;
          for (const live of this.drain.takeHeld()) this.deliverLive(live);
        }
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
    const { uaid, phase, recorded, lastTouchAt } = this.device;
    if (phase !== 'ready' || uaid === null || !recorded) return;
    const now = this.ports.now();
    if (now - lastTouchAt < (this.options.touchIntervalMs ?? DEFAULT_TOUCH_INTERVAL_MS)) return;
    this.device.lastTouchAt = now;
    await this.ports.store.touchDevice(uaid, now).catch(() => undefined);
  }

  /** Broadcast versions changed: tell this device about the ones it subscribed to. */
  broadcastsChanged(changed: Readonly<Record<string, string>>): void {
    if (this.device.phase !== 'ready') return;
    const answer: BroadcastAnswer = {};
    for (const [id, version] of Object.entries(changed)) {
      if (this.device.broadcasts.has(id)) answer[id] = version;
    }
    if (Object.keys(answer).length > 0) this.ports.send({ messageType: 'broadcast', broadcasts: answer });
  }

  private async handle(text: string): Promise<void> {
    const open = this.device.phase !== 'closed';
    if (!open && this.terminated) return;
    let message: ClientMessage;
    try {
      message = parseClientMessage(text);
      // Once the device itself closed, only what it acked before closing still counts: the acked
      // messages go from storage, and the drain decides a reset past msg_limit.
      if (!open && message.messageType !== 'ack') return;
      if (open) this.checkOrder(message);
    } catch (error) {
      if (error instanceof ProtocolViolation) return open ? this.violate(error) : undefined;
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

  /** Hello first and once; the frame budgets (like pings too fast, autopush closes those 1011). */
  private checkOrder(message: ClientMessage): void {
    const { phase } = this.device;
    if (phase === 'awaiting-hello' && message.messageType !== 'hello') throw new ProtocolViolation('the first message must be hello');
    if (phase === 'ready' && message.messageType === 'hello') throw new ProtocolViolation('a second hello on one connection');
    const overBudget = this.budget.spend(message.messageType, this.ports.now());
    if (overBudget) throw new ProtocolViolation(overBudget);
  }

  private violate(error: ProtocolViolation): void {
    this.ports.observe?.violation?.(error.message);
    this.terminate(error.closeCode, error.message);
  }

  private async dispatch(message: ClientMessage): Promise<void> {
    const context = this.context;
    switch (message.messageType) {
      case 'hello': {
        const answer = await hello(context, message);
        if (!answer.ready) return this.apply(answer);
        // The socket went away during the hello: nothing is claimed and nothing drained.
        if (this.device.phase === 'closed') return;
        const { uaid, drain } = answer.ready;
        this.device.uaid = uaid;
        this.device.phase = 'ready';
        // Claim before draining: a message accepted from now on either reaches this session live
        // or flags the drain to look at storage again, so none falls between the two.
        this.ports.claimDevice(uaid, this);
        this.apply(answer);
        if (drain) {
          this.drain.active = true;
          await this.runDrain();
        }
        return;
      }
      case 'register':
        return this.apply(await register(context, message));
      case 'unregister':
        return this.apply(await unregister(context, message));
      case 'ack':
        return this.apply(await ack(context, message));
      case 'nack':
        return this.apply(nack(context, message));
      case 'ping':
        return this.apply(ping(context));
      case 'broadcast_subscribe':
        return this.apply(broadcastSubscribe(context, message));
    }
  }

  /** Sends a handler's frames (while the socket is open), then closes or lets the drain go on. */
  private async apply(answer: Reply): Promise<void> {
    if (this.device.phase !== 'closed') for (const frame of answer.frames) this.ports.send(frame);
    if (answer.close) return this.terminate(answer.close.code, answer.close.reason);
    if (answer.continueDrain && this.drain.active && this.outbox.batchOutstanding === 0) await this.runDrain();
  }

  private async runDrain(): Promise<void> {
    const uaid = this.device.uaid;
    if (uaid === null) return;
    const outcome = await this.drain.run(
      uaid,
      () => this.device.phase === 'ready',
      (messages) => this.sendStored(messages),
    );
    if (outcome === 'reset') return this.resetDevice(uaid);
    if (outcome === 'finished') for (const live of this.drain.takeHeld()) this.deliverLive(live);
  }

  private sendStored(messages: LiveMessage['message'][]): void {
    const now = this.ports.now();
    const keys = this.device.channelKeys;
    for (const message of messages) {
      this.ports.send(this.outbox.notify(message, true, true, now, keys.get(message.channelId) ?? null) satisfies ServerMessage);
    }
    this.ports.observe?.delivered?.(messages.length, true);
  }

  /** protocol.md §1: a device whose backlog exceeds msg_limit starts over with a new uaid. */
  private async resetDevice(uaid: string): Promise<void> {
    await this.ports.store.dropDevice(uaid);
    this.ports.observe?.reset?.();
    this.terminate(1000, 'too many stored messages: device reset');
  }
}
