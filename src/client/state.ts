/**
 * The device's persistent state: its uaid and, per channel, the endpoint and the private key that
 * decrypts it. Written whole to a temporary file and renamed over the old one, mode 0600.
 */
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { WakeupKeyState } from './wakeup.js';

export interface ChannelState {
  endpoint: string;
  /** All base64url: p256dh = 65-byte public key, auth = 16-byte secret, privateKey = 32-byte scalar. */
  keys: { p256dh: string; auth: string; privateKey: string };
  /** The sender's VAPID public key the channel was bound to (v2), as given to register. */
  senderKey?: string;
}

export interface DeviceState {
  uaid: string | null;
  channels: Record<string, ChannelState>;
  /** Herald adds (docs/wakeup.md): the UDP wake-up key of the last hello that was given one. */
  wakeup?: WakeupKeyState;
}

export class StateFileError extends Error {
  override name = 'StateFileError';
}

export function emptyState(): DeviceState {
  return { uaid: null, channels: {} };
}

/** Reads the state file; a missing file is a fresh device, a malformed one is an error (never overwritten silently). */
export function readState(file: string): DeviceState {
  if (!existsSync(file)) return emptyState();
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new StateFileError(`${file} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  return checkState(value, file);
}

export function writeState(file: string, state: DeviceState): void {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    // The file holds private keys: the temporary file is created 0600 (a umask only narrows it), and
    // the rename carries that mode over whatever mode an older file had.
    writeFileSync(temp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    renameSync(temp, file);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // nothing to clean up
    }
    throw error;
  }
}

function checkState(value: unknown, file: string): DeviceState {
  const fail = (why: string): never => {
    throw new StateFileError(`${file}: ${why}`);
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('expected a JSON object');
  const record = value as Record<string, unknown>;
  const uaid = record.uaid ?? null;
  if (uaid !== null && typeof uaid !== 'string') fail('uaid must be a string or null');
  const channelsValue = record.channels ?? {};
  if (channelsValue === null || typeof channelsValue !== 'object' || Array.isArray(channelsValue)) fail('channels must be an object');
  const channels: Record<string, ChannelState> = {};
  for (const [channelID, entry] of Object.entries(channelsValue as Record<string, unknown>)) {
    if (entry === null || typeof entry !== 'object') fail(`channel ${channelID} is not an object`);
    const channel = entry as Record<string, unknown>;
    const keys = channel.keys as Record<string, unknown> | null | undefined;
    if (
      typeof channel.endpoint !== 'string' ||
      !keys ||
      typeof keys.p256dh !== 'string' ||
      typeof keys.auth !== 'string' ||
      typeof keys.privateKey !== 'string'
    ) {
      fail(`channel ${channelID} needs endpoint and keys.{p256dh, auth, privateKey}`);
    }
    const checked: ChannelState = {
      endpoint: channel.endpoint as string,
      keys: { p256dh: keys?.p256dh as string, auth: keys?.auth as string, privateKey: keys?.privateKey as string },
    };
    if (typeof channel.senderKey === 'string') checked.senderKey = channel.senderKey;
    channels[channelID] = checked;
  }
  const state: DeviceState = { uaid: uaid as string | null, channels };
  if (record.wakeup !== undefined) state.wakeup = checkWakeupKey(record.wakeup, fail);
  return state;
}

function checkWakeupKey(value: unknown, fail: (why: string) => never): WakeupKeyState {
  const entry = (value ?? {}) as Record<string, unknown>;
  const { keyId, key, lastCounter } = entry;
  if (
    typeof keyId !== 'number' ||
    !Number.isInteger(keyId) ||
    keyId < 0 ||
    keyId > 255 ||
    typeof key !== 'string' ||
    !/^[A-Za-z0-9_-]{43}$/.test(key) ||
    typeof lastCounter !== 'string' ||
    !/^[0-9]{1,20}$/.test(lastCounter) ||
    BigInt(lastCounter) >= 2n ** 64n
  ) {
    fail('wakeup needs keyId (0-255), key (43 base64url characters) and lastCounter (a decimal uint64 string)');
  }
  return { keyId: keyId as number, key: key as string, lastCounter: lastCounter as string };
}
