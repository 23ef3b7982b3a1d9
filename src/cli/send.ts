import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { sendNotification, type ContentEncoding, type SendOptions, type VapidDetails } from '../client/sender.js';
import { isHttpUrl, parseSubscription, SubscriptionError, type SubscriptionInput } from '../client/subscription.js';
import { UsageError } from './usage-error.js';

const URGENCIES = ['very-low', 'low', 'normal', 'high'];
const ENCODINGS: readonly ContentEncoding[] = ['aes128gcm', 'aesgcm'];

/**
 * `herald send <subscription.json|endpoint> <text>`: one push message. Prints `201 <Location>` on
 * success, or the status and the error body on stderr (exit code 1).
 */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(() =>
    parseArgs({
      args: argv,
      options: {
        vapid: { type: 'string' },
        ttl: { type: 'string' },
        topic: { type: 'string' },
        urgency: { type: 'string' },
        encoding: { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    }),
  );
  const [target, text, ...extra] = positionals;
  if (target === undefined || text === undefined) throw new UsageError('send needs <subscription.json|endpoint> <text>');
  if (extra.length > 0) throw new UsageError(`send takes two arguments; quote the text (extra: "${extra.join(' ')}")`);

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
    process.stdout.write(`${result.status}${result.location ? ` ${result.location}` : ''}\n`);
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

/** node:util reports unknown or malformed options as TypeErrors; they are command-line mistakes. */
function parseCommandLine<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) throw new UsageError(error.message);
    throw error;
  }
}
