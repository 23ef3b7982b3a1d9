/**
 * The bus for many nodes: Redis holds presence (which node holds which device) and carries
 * deliveries between nodes over pub/sub, one channel per node.
 *
 *   <prefix>:presence:<uaid>  = "<nodeId>.<claim>"  with a lease (PX); refreshed while the socket lives
 *   <prefix>:node:<nodeId>    = the channel a node listens on, for requests and answers alike
 *
 * A claim value names the node and one claim on it, so that a late release or refresh for an old
 * socket never touches a newer claim (compare-and-delete/-expire in Lua). A node that dies stops
 * refreshing and its leases run out; until then, a PUBLISH to its channel reaches nobody and the
 * delivery answers false at once. Every message with a TTL is stored before it is delivered, so a
 * false only means "drained at the device's next hello".
 */
import { createHash, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { LiveMessage } from '../protocol/session.js';
import type { Bus, LocalDevices } from './bus.js';
import { decodeFrame, encodeFrame, type NodeFrame } from './redis-frames.js';

export type RedisBusActivity = 'connection' | 'claim' | 'release' | 'refresh' | 'deliver' | 'answer' | 'close';

export interface RedisBusOptions {
  /** redis://[user:password@]host:port[/db] or rediss://… */
  url: string;
  /** The live sessions of this node. */
  devices: LocalDevices;
  /** Prefix of every key and channel (default "herald"); several deployments can share one Redis. */
  keyPrefix?: string;
  /** How long presence outlives a node that stopped refreshing it (default 30 s). */
  presenceLeaseMs?: number;
  /** Default: a third of the lease, so one missed refresh does not drop a live device. */
  refreshIntervalMs?: number;
  /** How long a delivery waits for the device's node to answer before leaving it to storage (default 500 ms). */
  deliveryTimeoutMs?: number;
  /** Default: 16 random hex characters, new at every start. */
  nodeId?: string;
  /** Redis errors; the bus carries on (deliveries answer false, presence catches up at the next refresh). */
  onError?(error: unknown, during: RedisBusActivity): void;
}

export interface RedisBusCloseOptions {
  /**
   * Delete this node's presence keys (default). false leaves them to expire, as a crashed node
   * does (tests).
   */
  release?: boolean;
}

/** Deletes each key whose value is still the given claim. KEYS: presence keys; ARGV: their claims. */
const RELEASE = script(`
local released = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i] then
    released = released + redis.call('DEL', key)
  end
end
return released`);

/**
 * Extends each lease still held by its claim (re-creating one that ran out while the device stayed
 * connected) and returns the 1-based positions of keys a newer claim took: those sockets are
 * replaced even if the "replace" message was lost. ARGV[1]: lease ms; ARGV[i + 1]: claim of KEYS[i].
 */
const REFRESH = script(`
local lost = {}
for i, key in ipairs(KEYS) do
  local owner = redis.call('GET', key)
  if owner == ARGV[i + 1] then
    redis.call('PEXPIRE', key, ARGV[1])
  elseif not owner then
    redis.call('SET', key, ARGV[i + 1], 'PX', ARGV[1])
  else
    lost[#lost + 1] = i
  end
end
return lost`);

/** Keys per script call: bounds how long one call holds Redis. */
const CHUNK = 500;
const CLOSE_TIMEOUT_MS = 2000;

type State = 'new' | 'running' | 'closed';

export class RedisBus implements Bus {
  readonly nodeId: string;
  private readonly devices: LocalDevices;
  private readonly prefix: string;
  private readonly leaseMs: number;
  private readonly refreshIntervalMs: number;
  private readonly deliveryTimeoutMs: number;
  private readonly report: (error: unknown, during: RedisBusActivity) => void;
  /** Commands, scripts and PUBLISH. */
  private readonly commands: Redis;
  /** A connection in subscriber mode can run nothing else. */
  private readonly subscriber: Redis;
  private readonly url: string;

  private state: State = 'new';
  /** Devices whose socket is on this node, with the claim their presence key should hold. */
  private readonly owned = new Map<string, string>();
  private claims = 0;
  private requests = 0;
  /** Deliveries waiting for the device's node to answer, by request id. */
  private readonly waiting = new Map<string, (ok: boolean) => void>();
  /** Presence writes not yet answered by Redis. */
  private readonly inflight = new Set<Promise<unknown>>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private refreshing = false;
  private startError: unknown;

  constructor(options: RedisBusOptions) {
    this.url = options.url;
    this.devices = options.devices;
    this.nodeId = options.nodeId ?? randomBytes(8).toString('hex');
    if (!/^[A-Za-z0-9_-]+$/.test(this.nodeId)) throw new Error('a node id is letters, digits, "_" and "-" only');
    this.prefix = options.keyPrefix ?? 'herald';
    this.leaseMs = options.presenceLeaseMs ?? 30_000;
    this.refreshIntervalMs = options.refreshIntervalMs ?? Math.max(50, Math.floor(this.leaseMs / 3));
    this.deliveryTimeoutMs = options.deliveryTimeoutMs ?? 500;
    this.report = options.onError ?? (() => {});
    // lazyConnect: start() connects, so a Redis that is down fails the start instead of queueing.
    const connection = { lazyConnect: true, connectionName: `herald-${this.nodeId}` };
    this.commands = new Redis(options.url, connection);
    this.subscriber = new Redis(options.url, connection);
    for (const client of [this.commands, this.subscriber]) {
      client.on('error', (error: unknown) => {
        // Before start() succeeds, the first error is what start() throws.
        if (this.state === 'running') this.report(error, 'connection');
        else this.startError ??= error;
      });
    }
    this.subscriber.on('message', (_channel: string, text: string) => this.receive(text));
  }

  get description(): string {
    return `${maskCredentials(this.url)} (node ${this.nodeId})`;
  }

  /** Number of devices this node holds presence for (tests and metrics). */
  get presenceCount(): number {
    return this.owned.size;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error('a RedisBus starts once');
    try {
      await Promise.all([this.commands.connect(), this.subscriber.connect()]);
      await this.subscriber.subscribe(this.nodeChannel(this.nodeId));
      await this.loadScripts();
    } catch (error) {
      this.commands.disconnect();
      this.subscriber.disconnect();
      this.state = 'closed';
      const cause = this.startError ?? error;
      throw new Error(`the Redis bus cannot reach ${maskCredentials(this.url)}: ${cause instanceof Error ? cause.message : String(cause)}`);
    }
    // A Redis restart forgets loaded scripts; EVALSHA falls back to EVAL meanwhile.
    this.commands.on('ready', () => void this.loadScripts().catch((error: unknown) => this.report(error, 'connection')));
    this.state = 'running';
    this.refreshTimer = setInterval(() => void this.refresh(), this.refreshIntervalMs);
    this.refreshTimer.unref();
  }

  claimed(uaid: string): void {
    if (this.state !== 'running') return;
    const claim = `${this.nodeId}.${(++this.claims).toString(36)}`;
    this.owned.set(uaid, claim);
    this.track('claim', async () => {
      const previous = await this.commands.set(this.presenceKey(uaid), claim, 'PX', this.leaseMs, 'GET');
      const owner = previous === null ? null : ownerOf(previous);
      // protocol.md §1 across nodes: the node holding the older socket closes it.
      if (previous !== null && owner !== null && owner !== this.nodeId) {
        await this.publish(owner, { type: 'replace', uaid, claim: previous });
      }
    });
  }

  released(uaid: string): void {
    const claim = this.owned.get(uaid);
    if (claim === undefined || this.state !== 'running') return;
    this.owned.delete(uaid);
    this.track('release', () => this.runScript(RELEASE, [this.presenceKey(uaid)], [claim]));
  }

  async deliver(uaid: string, live: LiveMessage): Promise<boolean> {
    if (this.devices.deliverLocal(uaid, live)) return true;
    if (this.state !== 'running') return false;
    const requestId = (++this.requests).toString(36);
    return new Promise<boolean>((resolve) => {
      const finish = (ok: boolean) => {
        if (!this.waiting.delete(requestId)) return;
        clearTimeout(timer);
        resolve(ok);
      };
      const timer = setTimeout(() => finish(false), this.deliveryTimeoutMs);
      this.waiting.set(requestId, finish);
      void this.routeToOwner(uaid, live, requestId)
        .then((sent) => {
          if (!sent) finish(false);
        })
        .catch((error: unknown) => {
          this.report(error, 'deliver');
          finish(false);
        });
    });
  }

  /** Resolves once every presence write issued so far has been answered by Redis (tests). */
  async flush(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  async close(options: RedisBusCloseOptions = {}): Promise<void> {
    if (this.state === 'closed') return;
    const wasRunning = this.state === 'running';
    this.state = 'closed';
    clearInterval(this.refreshTimer);
    for (const finish of [...this.waiting.values()]) finish(false);
    // Redis unreachable right now: its leases run out instead of waiting for it here.
    if (!wasRunning || options.release === false || this.commands.status !== 'ready') {
      this.commands.disconnect();
      this.subscriber.disconnect();
      return;
    }
    const owned = [...this.owned];
    this.owned.clear();
    const releasing = (async () => {
      await this.subscriber.unsubscribe();
      await this.flush();
      await Promise.all(
        chunks(owned).map((chunk) =>
          this.runScript(
            RELEASE,
            chunk.map(([uaid]) => this.presenceKey(uaid)),
            chunk.map(([, claim]) => claim),
          ),
        ),
      );
    })().catch((error: unknown) => this.report(error, 'close'));
    // With Redis down, commands wait in ioredis' offline queue: a stopping node does not wait for
    // them (its leases run out instead).
    await withTimeout(releasing, CLOSE_TIMEOUT_MS);
    await Promise.all([quit(this.commands), quit(this.subscriber)]);
  }

  /** True once the request is on its way to a node that listens; false when nobody holds the device. */
  private async routeToOwner(uaid: string, live: LiveMessage, requestId: string): Promise<boolean> {
    const claim = await this.commands.get(this.presenceKey(uaid));
    const owner = claim === null ? null : ownerOf(claim);
    // Presence naming this node without a local session is a socket that just closed.
    if (owner === null || owner === this.nodeId) return false;
    const receivers = await this.publish(owner, { type: 'deliver', requestId, replyTo: this.nodeId, uaid, live });
    // Nobody listens: that node is gone and its lease has not run out yet.
    return receivers > 0;
  }

  private receive(text: string): void {
    const frame = decodeFrame(text);
    if (frame === null || this.state === 'closed') return;
    switch (frame.type) {
      case 'deliver': {
        const ok = this.devices.deliverLocal(frame.uaid, frame.live);
        this.publish(frame.replyTo, { type: 'answer', requestId: frame.requestId, ok }).catch((error: unknown) =>
          this.report(error, 'answer'),
        );
        return;
      }
      case 'answer':
        this.waiting.get(frame.requestId)?.(frame.ok);
        return;
      case 'replace':
        this.replaced(frame.uaid, frame.claim);
        return;
    }
  }

  /** Another node claimed the device over this node's claim: its socket here is the older one. */
  private replaced(uaid: string, claim: string): void {
    // A newer claim on this node (the device came back here since) stays.
    if (this.owned.get(uaid) !== claim) return;
    this.owned.delete(uaid);
    this.devices.closeReplaced(uaid);
  }

  private async refresh(): Promise<void> {
    if (this.refreshing || this.state !== 'running' || this.owned.size === 0) return;
    this.refreshing = true;
    try {
      await Promise.all(
        chunks([...this.owned]).map(async (chunk) => {
          const lost = await this.runScript(
            REFRESH,
            chunk.map(([uaid]) => this.presenceKey(uaid)),
            [String(this.leaseMs), ...chunk.map(([, claim]) => claim)],
          );
          if (!Array.isArray(lost)) return;
          for (const position of lost) {
            const entry = typeof position === 'number' ? chunk[position - 1] : undefined;
            if (entry) this.replaced(entry[0], entry[1]);
          }
        }),
      );
    } catch (error) {
      this.report(error, 'refresh');
    } finally {
      this.refreshing = false;
    }
  }

  private track(activity: RedisBusActivity, write: () => Promise<unknown>): void {
    const pending = write().catch((error: unknown) => this.report(error, activity));
    this.inflight.add(pending);
    void pending.finally(() => this.inflight.delete(pending));
  }

  private publish(node: string, frame: NodeFrame): Promise<number> {
    return this.commands.publish(this.nodeChannel(node), encodeFrame(frame));
  }

  private async loadScripts(): Promise<void> {
    await Promise.all([RELEASE, REFRESH].map((lua) => this.commands.script('LOAD', lua.source)));
  }

  private async runScript(lua: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.commands.evalsha(lua.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await this.commands.eval(lua.source, keys.length, ...keys, ...args);
    }
  }

  private presenceKey(uaid: string): string {
    return `${this.prefix}:presence:${uaid}`;
  }

  private nodeChannel(node: string): string {
    return `${this.prefix}:node:${node}`;
  }
}

interface LuaScript {
  source: string;
  sha: string;
}

function script(source: string): LuaScript {
  const trimmed = source.trim();
  return { source: trimmed, sha: createHash('sha1').update(trimmed).digest('hex') };
}

/** The node a claim value names ("<nodeId>.<claim>"), or null for a value Herald did not write. */
function ownerOf(claim: string): string | null {
  const dot = claim.lastIndexOf('.');
  return dot > 0 ? claim.slice(0, dot) : null;
}

function chunks<T>(items: T[]): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += CHUNK) result.push(items.slice(start, start + CHUNK));
  return result;
}

/** QUIT lets queued commands finish; a Redis that does not answer is dropped after a while. */
async function quit(client: Redis): Promise<void> {
  await withTimeout(client.quit().catch(() => undefined), CLOSE_TIMEOUT_MS);
  client.disconnect();
}

async function withTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([work, timeout]);
  clearTimeout(timer);
}

/** The url as logs may show it: user and password replaced by ***. */
export function maskCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === '' && parsed.password === '') return parsed.toString();
    parsed.username = '***';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return 'redis://(unparsable url)';
  }
}
