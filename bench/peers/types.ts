/**
 * What the comparison bench needs from each system under test, split in two halves:
 *   - the server side (`RunningTarget`): start it, read its processes' CPU and memory, stop it;
 *   - the client side (`TargetClient`): subscribers that receive and acknowledge, a publisher.
 * The client side is built from a plain `Endpoint` object, so a child process (bench/peers/holder.ts)
 * can open idle connections to the same running target.
 */

export type TargetName = 'herald-sqlite' | 'herald-pg' | 'mosquitto' | 'nchan';
export const TARGET_NAMES: readonly TargetName[] = ['herald-sqlite', 'herald-pg', 'mosquitto', 'nchan'];
export const HERALD_TARGETS: readonly TargetName[] = ['herald-sqlite', 'herald-pg'];

/** Serializable: everything a client process needs to reach a running target. */
export interface Endpoint {
  target: TargetName;
  /** Where subscribers connect: ws://… for Herald and Nchan, mqtt://… for Mosquitto. One per node. */
  subscribeUrls: string[];
  /** Where publishers send: http://host:port for Herald and Nchan, mqtt://… for Mosquitto. One per node. */
  publishUrls: string[];
  /**
   * Herald cluster: each message goes to a node other than its subscriber's (the worst a load
   * balancer can do: every delivery is a hand-off between nodes). Otherwise message i goes to node
   * i mod N, which is its subscriber's node: every delivery is local.
   */
  crossNode?: boolean;
}

/** One connected subscriber (a Herald device, an MQTT client, an Nchan WebSocket). */
export interface Subscriber {
  /** What a reconnecting subscriber presents to get what was stored meanwhile: uaid, MQTT client id, channel id. */
  readonly resumeKey: string;
  /** Where a publisher sends to reach it: push endpoint path, MQTT topic, Nchan channel id. */
  readonly publishKey: string;
  /** Messages received (and acknowledged, where the protocol has acknowledgements). */
  readonly received: number;
  close(): Promise<void>;
}

/** Called after a message was received and acknowledged. */
export type MessageHandler = (subscriber: Subscriber, receivedAt: number) => void;

export interface ConnectOptions {
  onMessage: MessageHandler;
  /** Names this fleet's subscribers (MQTT client ids, topics, Nchan channels) apart from every other fleet. */
  group: string;
  /** Reconnect these (resumeKey of an earlier fleet) instead of creating new subscribers. */
  resumeKeys?: string[];
  /** Loopback source addresses, round robin: one address reaches ~28k ports of one destination. */
  localAddresses?: string[];
  /** Handshakes in flight. */
  concurrency?: number;
}

export interface Publisher {
  /** Resolves once the server accepted the message (201/202, PUBACK). */
  publish(index: number, publishKey: string, body: Buffer | null): Promise<void>;
  failures: number;
  lastFailure: string;
  close(): Promise<void>;
}

export interface TargetClient {
  connect(count: number, options: ConnectOptions): Promise<Subscriber[]>;
  /**
   * A publisher keeping up to `inFlight` messages outstanding; `ttlSeconds` is how long the server
   * keeps a message for an offline subscriber (Herald's TTL; the peers keep theirs by config).
   */
  publisher(inFlight: number, ttlSeconds: number): Publisher;
  /** The message body for subscriber `index` (Herald: a real aes128gcm body of `payloadBytes` plaintext). */
  bodies(count: number, payloadBytes: number): Array<Buffer | null>;
}

export interface StartOptions {
  /** Herald-pg: nodes; Nchan: nginx worker processes. Ignored by single-process targets. */
  processes?: number;
  /** Herald only: the inspector, so the bench can force a full GC before reading memory. */
  inspect?: boolean;
  /** Herald only: extra node flags (--cpu-prof …). */
  nodeFlags?: string[];
  /** Herald only: `section.option` → value, passed as --set (e.g. guard.enabled = false). */
  settings?: Record<string, string>;
  /** Herald-pg only: publish each message to a node other than its subscriber's (Endpoint.crossNode). */
  crossNode?: boolean;
}

export interface RunningTarget {
  readonly name: TargetName;
  readonly endpoint: Endpoint;
  /** How the target is run, for the report ("2 nodes, PostgreSQL + Redis", "nginx 1.22, 1 worker"). */
  readonly description: string;
  /** At most this many subscriber connections (open-file limit per process × processes), with why. */
  readonly capacity: { connections: number; why: string };
  /** The server's processes now (nginx master and workers, Herald nodes). */
  pids(): number[];
  /**
   * Processes shared with other work that this target depends on (PostgreSQL, Redis): their CPU is
   * counted as the target's cost, but they are not restarted per run.
   */
  servicePids(): number[];
  /** A full GC in every Herald node before a memory reading; nothing for the peers. */
  collectGarbage(): Promise<void>;
  /** Herald only: the worst node's event-loop delay p99 (ms) since the last call. */
  eventLoopDelayP99Ms?(): Promise<number>;
  stop(): Promise<void>;
}
