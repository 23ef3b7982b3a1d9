/**
 * The device socket's message set (protocol.md §1): what a device may send, decoded and checked,
 * and what Herald sends back. Pure: no I/O.
 */
import type { ForwardedHeaders, Urgency } from '../../store/types.js';

/** What a hello answer carries under `wakeup` (docs/wakeup.md): a key, or why not. */
export type WakeupAnswerFrame = { status: 200; keyId: number; key: string } | { status: number; error: string };

export type ClientMessage =
  | {
      messageType: 'hello';
      uaid: string | null;
      broadcasts: Record<string, string>;
      urgency: Urgency | null;
      /** Herald adds (docs/wakeup.md): judged by the wake-up part, never a protocol violation. */
      wakeup?: unknown;
      /** Herald adds (push.deviceAuth = "token"): a token-server service token, judged by the session's port. */
      token?: unknown;
      /** Herald adds (devices.attestation): an attestation JWT, judged by the attestation hook. */
      attestation?: unknown;
    }
  | { messageType: 'register'; channelID: string | null; key: string | null }
  | { messageType: 'unregister'; channelID: string; code: number | null }
  | { messageType: 'ack'; updates: Array<{ channelID: string; version: string; code: number | null }> }
  | { messageType: 'nack'; version: string; code: number | null }
  | { messageType: 'ping' }
  | { messageType: 'broadcast_subscribe'; broadcasts: Record<string, string> };

export type ServerMessage =
  | { messageType: 'hello'; uaid: string; status: 200; use_webpush: true; broadcasts: BroadcastAnswer; wakeup?: WakeupAnswerFrame }
  /** push.deviceAuth = "token" and no valid token, or a refused attestation: the socket closes 1011 right after. */
  | { messageType: 'hello'; status: 401; error: string }
  | { messageType: 'register'; channelID: string; status: number; pushEndpoint?: string; error?: string }
  | { messageType: 'unregister'; channelID: string; status: 200 }
  | {
      messageType: 'notification';
      channelID: string;
      version: string;
      ttl: number;
      data?: string;
      headers?: ForwardedHeaders;
    }
  | { messageType: 'broadcast'; broadcasts: BroadcastAnswer }
  | Record<string, never>;

export type BroadcastAnswer = Record<string, string | Record<string, string>>;

/** Why a frame is refused; every reason closes the socket (protocol.md §1 close codes). */
export class ProtocolViolation extends Error {
  override name = 'ProtocolViolation';
  constructor(
    message: string,
    readonly closeCode: 1002 | 1011 = 1011,
  ) {
    super(message);
  }
}

const CHANNEL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const URGENCIES: readonly Urgency[] = ['very-low', 'low', 'normal', 'high'];

type Json = Record<string, unknown>;

export function parseClientMessage(text: string): ClientMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolViolation('frame is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ProtocolViolation('frame is not a JSON object');
  }
  const frame = value as Json;
  // A bare `{}` is the client's ping (Firefox sends exactly that).
  if (!('messageType' in frame)) {
    if (Object.keys(frame).length === 0) return { messageType: 'ping' };
    throw new ProtocolViolation('frame has no messageType');
  }
  const type = frame.messageType;
  if (typeof type !== 'string') throw new ProtocolViolation('messageType is not a string');
  switch (type.toLowerCase()) {
    case 'hello':
      return parseHello(frame);
    case 'register':
      return parseRegister(frame);
    case 'unregister':
      return { messageType: 'unregister', channelID: requireChannelId(frame.channelID), code: optionalCode(frame.code) };
    case 'ack':
      return parseAck(frame);
    case 'nack':
      return { messageType: 'nack', version: requireVersion(frame.version), code: optionalCode(frame.code) };
    case 'ping':
      return { messageType: 'ping' };
    case 'broadcast_subscribe':
      return { messageType: 'broadcast_subscribe', broadcasts: parseBroadcasts(frame.broadcasts, true) };
    default:
      throw new ProtocolViolation(`unknown messageType "${type.slice(0, 32)}"`);
  }
}

function parseHello(frame: Json): ClientMessage {
  // An absent or malformed uaid is not an error: the device simply gets a fresh one.
  const uaid = typeof frame.uaid === 'string' ? frame.uaid : null;
  let urgency: Urgency | null = null;
  if (frame.urgency !== undefined && frame.urgency !== null) {
    if (typeof frame.urgency !== 'string' || !URGENCIES.includes(frame.urgency as Urgency)) {
      throw new ProtocolViolation('hello urgency must be one of very-low, low, normal, high');
    }
    urgency = frame.urgency as Urgency;
  }
  const hello: ClientMessage = { messageType: 'hello', uaid, broadcasts: parseBroadcasts(frame.broadcasts, false), urgency };
  if (frame.wakeup !== undefined) hello.wakeup = frame.wakeup;
  if (frame.token !== undefined) hello.token = frame.token;
  if (frame.attestation !== undefined) hello.attestation = frame.attestation;
  return hello;
}

function parseRegister(frame: Json): ClientMessage {
  let channelID: string | null = null;
  if (frame.channelID !== undefined && frame.channelID !== null) channelID = requireChannelId(frame.channelID);
  let key: string | null = null;
  if (frame.key !== undefined && frame.key !== null) {
    // A key of the wrong type is a bad key (status 400), not a protocol violation: the socket stays.
    key = typeof frame.key === 'string' ? frame.key : '';
  }
  return { messageType: 'register', channelID, key };
}

function parseAck(frame: Json): ClientMessage {
  if (!Array.isArray(frame.updates)) throw new ProtocolViolation('ack needs an updates array');
  if (frame.updates.length > 1000) throw new ProtocolViolation('ack has too many updates');
  const updates = frame.updates.map((update: unknown) => {
    if (update === null || typeof update !== 'object') throw new ProtocolViolation('ack update is not an object');
    const entry = update as Json;
    return {
      channelID: requireChannelId(entry.channelID),
      version: requireVersion(entry.version),
      code: optionalCode(entry.code),
    };
  });
  return { messageType: 'ack', updates };
}

function parseBroadcasts(value: unknown, required: boolean): Record<string, string> {
  if (value === undefined || value === null) {
    if (required) throw new ProtocolViolation('broadcast_subscribe needs a broadcasts object');
    return {};
  }
  if (typeof value !== 'object' || Array.isArray(value)) throw new ProtocolViolation('broadcasts is not an object');
  const entries = Object.entries(value as Json);
  if (entries.length > 100) throw new ProtocolViolation('too many broadcasts');
  const result: Record<string, string> = {};
  for (const [id, version] of entries) {
    if (typeof version !== 'string' || id.length > 64 || version.length > 200) {
      throw new ProtocolViolation('broadcast versions must be strings');
    }
    result[id] = version;
  }
  return result;
}

export function isChannelId(value: unknown): value is string {
  return typeof value === 'string' && CHANNEL_ID.test(value);
}

function requireChannelId(value: unknown): string {
  if (!isChannelId(value)) throw new ProtocolViolation('channelID must be a lowercase hyphenated UUID');
  return value;
}

function requireVersion(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) {
    throw new ProtocolViolation('version must be a non-empty string');
  }
  return value;
}

function optionalCode(value: unknown): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new ProtocolViolation('code must be an integer');
  return value;
}
