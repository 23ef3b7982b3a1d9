/**
 * The device side of Herald's socket protocol (protocol.md §1), as Firefox speaks it: hello with the
 * stored uaid, register with client-generated keys, decrypt and ack notifications, ping, reconnect.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { toBase64Url } from '../crypto/base64.js';
import { generateAuthSecret, generateUaKeys } from '../crypto/ece.js';
import { backoffDelay } from './backoff.js';
import { judgeNotification } from './inbound-notification.js';
import { emptyState, readState, writeState, type ChannelState, type DeviceState } from './state.js';
import type { Subscription } from './subscription.js';
import { WakeupListener, type WakeupVerdict } from './wakeup.js';
import { finish, parseFrame, sendRequest, settle, toSubscription, type Attempt, type Frame, type Pending } from './device-frames.js';
import { Keepalive } from './keepalive.js';
import { type PushDeviceEvents, type PushDeviceOptions, type ResetEvent, type WakeupHelloStatus } from './device-types.js';

export { DeliveryError } from './device-types.js';
export type { DisconnectEvent, PushDeviceEvents, PushDeviceOptions, PushMessage, ResetEvent, WakeupHelloStatus } from './device-types.js';

const DEFAULT_INITIAL_DELAY_MS = 1000;
const DEFAULT_MAX_DELAY_MS = 60_000;
const DEFAULT_PING_INTERVAL_MS = 300_000;
/** Herald closes 1011 on client pings less than 45 s apart; keep a margin for network jitter. */
const MIN_PING_INTERVAL_MS = 46_000;
const SUBPROTOCOL = 'push-notification';
const UAID_PATTERN = /^[0-9a-f]{32}$/;

export class PushDevice extends EventEmitter<PushDeviceEvents> {
  private readonly options: Required<Omit<PushDeviceOptions, 'stateFile' | 'reconnect' | 'wakeup' | 'serviceToken' | 'attestation'>> & {
    stateFile: string | undefined;
    initialDelayMs: number;
    maxDelayMs: number;
    serviceToken: PushDeviceOptions['serviceToken'];
    attestation: PushDeviceOptions['attestation'];
  };
  private state: DeviceState;
  private socket: WebSocket | undefined;
  /** Set once `hello` is answered on the current socket. */
  private ready = false;
  private stopped = true;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly keepalive: Keepalive;
  /** Versions seen on this connection: Herald may resend, the application sees each once. */
  private seenVersions = new Set<string>();
  private readonly pendingRegister = new Map<string, Pending>();
  private readonly pendingUnregister = new Map<string, Pending>();
  private readonly wakeupListener: WakeupListener | undefined;
  /** sleep() was called: no socket, waiting for a wake-up datagram. */
  private asleep = false;

  constructor(options: PushDeviceOptions) {
    super();
    this.options = {
      serverUrl: options.serverUrl,
      stateFile: options.stateFile,
      serviceToken: options.serviceToken,
      attestation: options.attestation,
      initialDelayMs: options.reconnect?.initialDelayMs ?? DEFAULT_INITIAL_DELAY_MS,
      maxDelayMs: options.reconnect?.maxDelayMs ?? DEFAULT_MAX_DELAY_MS,
      pingIntervalMs: Math.max(MIN_PING_INTERVAL_MS, options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS),
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    };
    this.keepalive = new Keepalive(this.options.pingIntervalMs);
    this.state = options.stateFile ? readState(options.stateFile) : emptyState();
    if (options.wakeup) {
      this.wakeupListener = new WakeupListener(options.wakeup, {
        key: () => this.state.wakeup,
        judged: (verdict) => this.onWakeupDatagram(verdict),
      });
    }
  }

  /** The uaid Herald knows this device by; null before the first hello. */
  get uaid(): string | null {
    return this.state.uaid;
  }

  get connected(): boolean {
    return this.ready;
  }

  /** The {host, port} declared to Herald for wake-up; null without the wakeup option or before connect(). */
  get wakeupAddress(): { host: string; port: number } | null {
    return this.wakeupListener?.listening ? this.wakeupListener.declaration : null;
  }

  /** The stored channels and their subscriptions (without private keys). */
  channels(): Array<{ channelID: string; senderKey: string | null; subscription: Subscription }> {
    return Object.entries(this.state.channels).map(([channelID, channel]) => ({
      channelID,
      senderKey: channel.senderKey ?? null,
      subscription: toSubscription(channel),
    }));
  }

  /**
   * Opens the socket and says hello. Rejects when this first attempt fails; once connected, the
   * device reconnects by itself after any unexpected close until close() is called.
   */
  async connect(): Promise<{ uaid: string }> {
    if (!this.stopped) throw new Error('PushDevice is already connected or connecting');
    this.stopped = false;
    this.attempt = 0;
    try {
      await this.wakeupListener?.listen();
      return await this.open();
    } catch (error) {
      this.stopped = true;
      throw error;
    }
  }

  /** Closes the socket (1000) and stops reconnecting; also stops listening for wake-up datagrams. */
  async close(): Promise<void> {
    this.asleep = false;
    await this.wakeupListener?.close();
    await this.closeSocket();
  }

  /**
   * Herald adds (docs/wakeup.md): closes the socket but keeps listening for wake-up datagrams; a
   * genuine one reconnects the device, which then receives what Herald stored meanwhile.
   */
  async sleep(): Promise<void> {
    if (!this.wakeupListener?.listening) throw new Error('sleep() needs the wakeup option and a connect() first');
    this.asleep = true;
    await this.closeSocket();
  }

  private onWakeupDatagram(verdict: WakeupVerdict): void {
    if (verdict.accepted && this.state.wakeup) {
      // Recorded before anything else, so the same datagram replayed later is refused.
      this.state.wakeup = { ...this.state.wakeup, lastCounter: verdict.counter.toString() };
      this.persist();
    }
    this.emit('wakeup', verdict);
    if (!verdict.accepted || !this.asleep || !this.stopped) return;
    this.asleep = false;
    this.connect().catch((error: unknown) => {
      // Herald unreachable: stay asleep, so the next datagram tries again.
      this.asleep = true;
      this.reportError(error instanceof Error ? error : new Error(String(error)));
    });
  }

  private async closeSocket(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const socket = this.socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
      else socket.close(1000);
      setTimeout(() => {
        socket.terminate();
        resolve();
      }, 2000).unref();
    });
  }

  /**
   * Creates a channel: the ECDH key pair and auth secret are made here and never leave the device;
   * Herald only learns the channel ID (and the sender key for a key-bound, v2, endpoint).
   */
  async register(options: { senderKey?: string } = {}): Promise<Subscription> {
    const channelID = randomUUID();
    const uaKeys = generateUaKeys();
    const authSecret = generateAuthSecret();
    const answer = await this.request(this.pendingRegister, channelID, {
      messageType: 'register',
      channelID,
      ...(options.senderKey !== undefined ? { key: options.senderKey } : {}),
    });
    if (answer.status !== 200 || typeof answer.pushEndpoint !== 'string') {
      throw new Error(`register answered status ${String(answer.status)}${typeof answer.error === 'string' ? `: ${answer.error}` : ''}`);
    }
    const channel: ChannelState = {
      endpoint: answer.pushEndpoint,
      keys: { p256dh: toBase64Url(uaKeys.publicKey), auth: toBase64Url(authSecret), privateKey: toBase64Url(uaKeys.privateKey) },
      ...(options.senderKey !== undefined ? { senderKey: options.senderKey } : {}),
    };
    this.state.channels[channelID] = channel;
    this.persist('throw');
    return toSubscription(channel);
  }

  /** Drops a channel here and on Herald; its endpoint answers 410 afterwards. */
  async unregister(channelID: string): Promise<void> {
    await this.request(this.pendingUnregister, channelID, { messageType: 'unregister', channelID, code: 200 });
    delete this.state.channels[channelID];
    this.persist('throw');
  }

  private request(pending: Map<string, Pending>, channelID: string, frame: Frame): Promise<Frame> {
    const socket = this.socket;
    if (!this.ready || !socket) return Promise.reject(new Error('PushDevice is not connected'));
    return sendRequest(socket, pending, channelID, frame, this.options.requestTimeoutMs);
  }

  /** One connection attempt: resolves on the hello answer, rejects if the socket fails before it. */
  private async open(): Promise<{ uaid: string }> {
    const credentials = await this.helloCredentials();
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(this.options.serverUrl, [SUBPROTOCOL], { handshakeTimeout: this.options.requestTimeoutMs });
      this.socket = socket;
      this.ready = false;
      this.seenVersions = new Set();
      const attempt: Attempt = {
        settled: false,
        resolve,
        reject,
        timer: setTimeout(() => {
          finish(attempt, new Error(`no hello answer within ${this.options.requestTimeoutMs} ms`));
          socket.terminate();
        }, this.options.requestTimeoutMs),
      };
      socket.on('open', () => this.sendHello(socket, credentials));
      socket.on('message', (data, isBinary) => {
        if (isBinary) return;
        const frame = parseFrame(data.toString());
        if (frame) this.onFrame(socket, attempt, frame);
      });
      // ws emits 'close' after every 'error'; the close handler decides what happens next.
      socket.on('error', (error) => finish(attempt, error));
      socket.on('close', (code, reason) => this.onClose(socket, attempt, code, reason.toString()));
    });
  }

  /** The service token and attestation a hello carries, when configured (each may be fetched per connection). */
  private async helloCredentials(): Promise<{ token?: unknown; attestation?: unknown }> {
    const source = this.options.serviceToken;
    const token = typeof source === 'function' ? await source() : source;
    const attesting = this.options.attestation;
    const attestation = typeof attesting === 'function' ? await attesting() : attesting;
    return { ...(token === undefined ? {} : { token }), ...(attestation === undefined ? {} : { attestation }) };
  }

  private sendHello(socket: WebSocket, credentials: { token?: unknown; attestation?: unknown }): void {
    const channelIDs = Object.keys(this.state.channels);
    // As Firefox does: a device without subscriptions has nothing to keep, so it asks for a fresh uaid.
    const uaid = channelIDs.length > 0 ? this.state.uaid : null;
    const wakeup = this.wakeupListener?.listening ? { wakeup: this.wakeupListener.declaration } : {};
    socket.send(JSON.stringify({ messageType: 'hello', use_webpush: true, ...(uaid ? { uaid, channelIDs } : {}), ...wakeup, ...credentials }));
  }

  private onFrame(socket: WebSocket, attempt: Attempt, frame: Frame): void {
    if (this.ready) return this.receive(socket, frame);
    if (frame.messageType !== 'hello') return;
    const uaid = this.acceptHello(frame);
    if (uaid === null) {
      finish(attempt, new Error(`hello answered status ${String(frame.status)}`));
      socket.close(1000);
      return;
    }
    this.ready = true;
    this.attempt = 0;
    this.keepalive.start(socket);
    const wakeup = this.wakeupListener ? this.adoptWakeupKey(frame.wakeup) : undefined;
    finish(attempt, { uaid });
    this.emit('connected', wakeup ? { uaid, wakeup } : { uaid });
  }

  private onClose(socket: WebSocket, attempt: Attempt, code: number, reason: string): void {
    clearTimeout(attempt.timer);
    const wasReady = this.ready;
    this.ready = false;
    this.keepalive.stop();
    if (this.socket === socket) this.socket = undefined;
    const lost = new Error(`socket closed (${code}${reason ? ` ${reason}` : ''})`);
    for (const pending of [this.pendingRegister, this.pendingUnregister]) {
      for (const entry of pending.values()) {
        clearTimeout(entry.timer);
        entry.reject(lost);
      }
      pending.clear();
    }
    finish(attempt, lost);
    // Only an established session goes on reconnecting; a failed first connect() is the caller's.
    const reconnectAfter = wasReady || this.attempt > 0;
    if (code === 1000 && wasReady && !this.stopped) {
      // Herald closes 1000 only when it dropped the device (a drain past msg_limit).
      this.dropChannels('server-reset');
    }
    if (this.stopped || !reconnectAfter) {
      this.emit('disconnected', { code, reason, reconnectInMs: null });
      return;
    }
    const delay = code === 1000 && wasReady ? 0 : backoffDelay(this.attempt, this.options.initialDelayMs, this.options.maxDelayMs);
    this.attempt += 1;
    this.emit('disconnected', { code, reason, reconnectInMs: delay });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.stopped) return;
      // A failed attempt closes its socket too, and that close schedules the next attempt.
      this.open().catch(() => undefined);
    }, delay);
  }

  /** Adopts the uaid of a hello answer; returns null for a failed hello. */
  private acceptHello(frame: Frame): string | null {
    if (frame.status !== 200 || typeof frame.uaid !== 'string' || !UAID_PATTERN.test(frame.uaid)) return null;
    const uaid = frame.uaid;
    if (uaid !== this.state.uaid) {
      // A different uaid means Herald no longer knows the old one: its endpoints are dead.
      if (Object.keys(this.state.channels).length > 0) this.dropChannels('uaid-changed');
      this.state.uaid = uaid;
      this.persist();
    }
    return uaid;
  }

  /** Keeps the wake-up key a hello answer hands over; its counter history stays while the key is the same. */
  private adoptWakeupKey(answer: unknown): WakeupHelloStatus {
    if (answer === null || typeof answer !== 'object') return { status: 0, error: 'the server did not answer the wakeup declaration' };
    const { status, error, keyId, key } = answer as Record<string, unknown>;
    if (status !== 200) return { status: typeof status === 'number' ? status : 0, ...(typeof error === 'string' ? { error } : {}) };
    if (typeof keyId !== 'number' || typeof key !== 'string') return { status: 0, error: 'the wakeup answer has no key' };
    const held = this.state.wakeup;
    if (!held || held.keyId !== keyId || held.key !== key) {
      this.state.wakeup = { keyId, key, lastCounter: '0' };
      this.persist();
    }
    return { status: 200 };
  }

  private dropChannels(reason: ResetEvent['reason']): void {
    const event: ResetEvent = { reason, previousUaid: this.state.uaid, droppedChannels: Object.keys(this.state.channels) };
    this.state = reason === 'server-reset' ? emptyState() : { uaid: this.state.uaid, channels: {} };
    this.persist();
    this.emit('reset', event);
  }

  private receive(socket: WebSocket, frame: Frame): void {
    const channelID = typeof frame.channelID === 'string' ? frame.channelID : '';
    switch (frame.messageType) {
      case 'notification':
        this.onNotification(socket, frame);
        return;
      case 'register':
        settle(this.pendingRegister, channelID, frame);
        return;
      case 'unregister':
        settle(this.pendingUnregister, channelID, frame);
        return;
      case undefined:
        // `{}`: the answer to our ping.
        this.keepalive.answered();
        return;
      default:
        // broadcast and anything newer: nothing this client subscribes to.
        return;
    }
  }

  private onNotification(socket: WebSocket, frame: Frame): void {
    const judged = judgeNotification(frame, this.state.channels, this.seenVersions);
    if (!judged) return;
    const { channelID, version, outcome } = judged;
    if (outcome.code !== 100) {
      this.ack(socket, channelID, version, outcome.code);
      this.reportError(outcome.error);
      return;
    }
    // The application has the message before the ack lets Herald forget it.
    if (outcome.message) this.emit('notification', outcome.message);
    this.ack(socket, channelID, version, 100);
  }

  private ack(socket: WebSocket, channelID: string, version: string, code: 100 | 101 | 102): void {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ messageType: 'ack', updates: [{ channelID, version, code }] }));
  }

  private reportError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /**
   * Writes the state file. From register/unregister a failure rejects the call; from socket events
   * (hello, reset) it is reported, since throwing there would take the whole process down.
   */
  private persist(mode: 'throw' | 'report' = 'report'): void {
    if (!this.options.stateFile) return;
    try {
      writeState(this.options.stateFile, this.state);
    } catch (error) {
      if (mode === 'throw') throw error;
      this.reportError(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
