import { readFileSync } from 'node:fs';
import { sendNotification, type ContentEncoding, type SendOptions, type VapidDetails } from '../client/sender.js';
import { isHttpUrl, parseSubscription, SubscriptionError, type SubscriptionInput } from '../client/subscription.js';
import { defineCommand, parseCommand, stdout, type Out } from './command-line.js';
import { UsageError } from './usage-error.js';

const URGENCIES = ['very-low', 'low', 'normal', 'high'];
const ENCODINGS: readonly ContentEncoding[] = ['aes128gcm', 'aesgcm'];
/**
 * RFC 8291 §4: push services must accept a 4096-byte body, one record. aes128gcm spends 86 bytes
 * of it on the header, 16 on the tag and 1 on the padding delimiter (3993 left, as web-push
 * allows); aesgcm carries salt and key in headers and spends 16 on the tag and 2 on padding.
 */
const MAX_TEXT_BYTES: Record<ContentEncoding, number> = { aes128gcm: 4096 - 86 - 16 - 1, aesgcm: 4096 - 16 - 2 };

export const SEND = defineCommand({
  name: 'send',
  args: '<subscription.json|endpoint> <text>',
  count: { min: 2, max: 2 },
  summary: 'Sends one push message: encrypts <text> to the subscription (RFC 8291), signs VAPID (RFC 8292), POSTs it.',
  flags: {
    vapid: { type: 'string', value: 'FILE', help: 'the key pair `herald keys` printed: signs the request (key-bound endpoints need it)' },
    ttl: { type: 'string', value: 'SECONDS', help: 'how long Herald keeps it for an absent device, default 4 weeks' },
    topic: { type: 'string', value: 'NAME', help: 'a stored message with the same topic replaces this one' },
    urgency: { type: 'string', value: 'LEVEL', help: URGENCIES.join(', ') },
    encoding: { type: 'string', value: 'NAME', help: `${ENCODINGS.join(' (default), ')} (legacy)` },
  },
  notes: [
    'The target is a subscription JSON file, the JSON itself, or a bare endpoint URL (then <text> must be "").',
    `Prints "201 <message URL>" on success; otherwise the status and Herald's error on stderr, exit code 1.`,
  ],
});

/**
 * `herald send <subscription.json|endpoint> <text>`: one push message. Prints `201 <Location>` on
 * success, or the status and the error body on stderr (exit code 1).
 */
export async function run(argv: string[], out: Out = stdout): Promise<number> {
  const parsed = parseCommand(SEND, argv, out);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const [target, text] = positionals as [string, string];

  const options: SendOptions = {};
  if (values.ttl !== undefined) {
    if (!/^\d+$/.test(values.ttl)) throw new UsageError('--ttl must be a non-negative integer number of seconds');
    options.ttl = Number(values.ttl);
  }
  if (values.topic !== undefined) options.topic = values.topic;
  if (values.urgency !== undefined) {
    if (!URGENCIES.includes(values.urgency)) throw new UsageError(`--urgency must be one of ${URGENCIES.join(', ')}`);
    options.urgency = values.urgency;
  }
  if (values.encoding !== undefined) {
    if (!ENCODINGS.includes(values.encoding as ContentEncoding)) throw new UsageError(`--encoding must be one of ${ENCODINGS.join(', ')}`);
    options.encoding = values.encoding as ContentEncoding;
  }
  if (values.vapid !== undefined) options.vapid = readVapid(values.vapid);
  const encoding = options.encoding ?? 'aes128gcm';
  const size = Buffer.byteLength(text, 'utf8');
  if (size > MAX_TEXT_BYTES[encoding]) {
    throw new UsageError(
      `the text is ${size} bytes, more than one push message carries (${MAX_TEXT_BYTES[encoding]} bytes with ${encoding}): send less, e.g. an id the app uses to fetch the rest`,
    );
  }

  const subscription = readTarget(target);
  let result;
  try {
    result = await sendNotification(subscription, text === '' ? null : text, options);
  } catch (error) {
    // A subscription without keys cannot carry text: that is the caller's mistake, not a crash.
    if (error instanceof SubscriptionError) throw new UsageError(error.message);
    throw error;
  }
  if (result.status >= 200 && result.status < 300) {
    out(`${result.status}${result.location ? ` ${result.location}` : ''}\n`);
    return 0;
  }
  process.stderr.write(`${result.status}${result.body ? ` ${result.body}` : ''}\n`);
  return 1;
}

/** An endpoint URL, a subscription JSON file, or (for scripts) the subscription JSON itself. */
function readTarget(target: string): SubscriptionInput {
  if (isHttpUrl(target)) return { endpoint: target };
  const json = target.trimStart().startsWith('{') ? target : readText(target, 'subscription file');
  try {
    return parseSubscription(parseJson(json, target));
  } catch (error) {
    if (error instanceof SubscriptionError) throw new UsageError(`${target}: ${error.message}`);
    throw error;
  }
}

function readVapid(file: string): VapidDetails {
  const value = parseJson(readText(file, '--vapid file'), file);
  const record = value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  const { publicKey, privateKey, subject } = record;
  if (typeof publicKey !== 'string' || typeof privateKey !== 'string') {
    throw new UsageError(`${file} needs publicKey and privateKey (the JSON \`herald keys\` prints)`);
  }
  if (subject !== undefined && typeof subject !== 'string') throw new UsageError(`${file}: subject must be a mailto: or https: URL`);
  return { publicKey, privateKey, ...(subject !== undefined ? { subject } : {}) };
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UsageError(`${source} is not valid JSON`);
  }
}
