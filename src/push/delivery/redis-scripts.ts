/**
 * The Lua the Redis bus runs, and how it runs it: by SHA, falling back to the source after a Redis
 * restart forgot the loaded scripts; and closing its clients without waiting long for a Redis that
 * does not answer. Each script does a compare-and-act on presence values, so a late write for an old
 * socket never touches a newer claim, or acts on what a claim says in the same round trip.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface LuaScript {
  source: string;
  sha: string;
}

/** Deletes each key whose value is still the given claim. KEYS: presence keys; ARGV: their claims. */
export const RELEASE = script(`
local released = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i] then
    released = released + redis.call('DEL', key)
  end
end
return released`);

/**
 * Extends each lease still held by its claim (re-creating one that ran out, or that a restarted
 * Redis forgot, while the device stayed connected) and returns the 1-based positions of keys a
 * newer claim took: those sockets are replaced even if the "replace" message was lost.
 * ARGV[1]: lease ms; ARGV[i + 1]: claim of KEYS[i].
 */
export const REFRESH = script(`
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

/**
 * The nodes' roll call, run at each refresh: records this node as seen now and takes out the
 * nodes not seen for a lease (their devices' presence has lapsed), returning them as
 * [node, last seen ms, …]. Only the node whose call took a node out returns it, so one node logs
 * each lapse. KEYS[1]: the roll (a sorted set); ARGV: this node, now (ms), lease (ms).
 */
export const ROLL_CALL = script(`
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2] - ARGV[3], 'WITHSCORES')
local gone = {}
for i = 1, #stale, 2 do
  if redis.call('ZREM', KEYS[1], stale[i]) == 1 then
    gone[#gone + 1] = stale[i]
    gone[#gone + 1] = stale[i + 1]
  end
end
return gone`);

/**
 * A delivery's hand-off in one round trip: reads the device's presence claim and, when it names
 * another node, publishes the frame on that node's channel. Returns -1 when no other node holds the
 * device (no claim, a value Herald did not write, or a claim of this node: a socket that just closed
 * here), else how many subscribers heard the frame (0: its node is gone or not listening yet).
 * The owner is parsed as ownerOf() does in redis-presence.ts: everything before the last ".", at
 * least one character. KEYS[1]: presence key; ARGV: this node, channel prefix, frame.
 * (Lua reads 0 as true: the count is returned as it is, never tested here.)
 */
export const HANDOFF = script(`
local claim = redis.call('GET', KEYS[1])
if not claim then return -1 end
local owner = string.match(claim, '^(.+)%.[^.]*$')
if not owner or owner == ARGV[1] then return -1 end
return redis.call('PUBLISH', ARGV[2] .. owner, ARGV[3])`);

export const SCRIPTS: readonly LuaScript[] = [RELEASE, REFRESH, ROLL_CALL, HANDOFF];

export async function runScript(client: Redis, lua: LuaScript, keys: string[], args: string[]): Promise<unknown> {
  try {
    return await client.evalsha(lua.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return await client.eval(lua.source, keys.length, ...keys, ...args);
  }
}

/** Keys per script call: bounds how long one call holds Redis. */
const CHUNK = 500;

export function chunks<T>(items: T[], size = CHUNK): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += size) result.push(items.slice(start, start + size));
  return result;
}

const CLOSE_TIMEOUT_MS = 2000;

/** QUIT lets queued commands finish; a Redis that does not answer is dropped after a while. */
export async function quit(client: Redis): Promise<void> {
  await withTimeout(client.quit().catch(() => undefined), CLOSE_TIMEOUT_MS);
  client.disconnect();
}

/**
 * Drops the connection at once and resolves when its socket has closed, which Redis does only after
 * letting go of the client: a channel it subscribed to has no receiver from it any more.
 */
export async function drop(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  const closed = new Promise<void>((resolve) => client.once('end', () => resolve()));
  client.disconnect();
  await withTimeout(closed, CLOSE_TIMEOUT_MS);
}

export async function withTimeout(work: Promise<unknown>, ms = CLOSE_TIMEOUT_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([work, timeout]);
  clearTimeout(timer);
}

function script(source: string): LuaScript {
  const trimmed = source.trim();
  return { source: trimmed, sha: createHash('sha1').update(trimmed).digest('hex') };
}
