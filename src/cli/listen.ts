import path from 'node:path';
import { PushDevice } from '../client/device.js';
import { StateFileError } from '../client/state.js';
import { defineCommand, parseCommand, stdout, type Out } from './command-line.js';
import { UsageError } from './usage-error.js';

/**
 * `herald listen`: a push device in the terminal. stdout carries the subscription JSON (one line,
 * for scripts to capture), then one line per message; everything else goes to stderr.
 */
export const LISTEN = defineCommand({
  name: 'listen',
  summary: 'Acts as a push device: prints a subscription (JSON, the first line on stdout), then one line per message it receives.',
  flags: {
    server: { type: 'string', default: 'ws://127.0.0.1:8080/', value: 'URL', help: "Herald's device WebSocket, default ws://127.0.0.1:8080/" },
    state: { type: 'string', default: './herald-device.json', value: 'FILE', help: 'keeps the device id and channel keys (0600), default ./herald-device.json' },
    key: { type: 'string', value: 'VAPID_PUBLIC_KEY', help: 'bind the subscription to this sender key (the publicKey of `herald keys`)' },
  },
  notes: [
    'herald listen --key "$(node -p \'require("./vapid.json").publicKey\')" | tee listen.out',
    'head -n 1 listen.out > subscription.json   # the subscription, always the first line',
    'Messages are printed on one line each (line breaks as \\n) and acked; Ctrl-C stops.',
  ],
});

export async function run(argv: string[], out: Out = stdout): Promise<number> {
  const parsed = parseCommand(LISTEN, argv, out);
  if (!parsed) return 0;
  const { values } = parsed;
  if (!/^wss?:\/\//i.test(values.server)) throw new UsageError('--server must be a ws:// or wss:// URL');
  const senderKey = values.key;

  const device = openDevice(values.server, values.state);
  const note = (line: string) => process.stderr.write(`herald listen: ${line}\n`);
  const firstSubscription = printEvents(device, new SubscriptionFirst(out), senderKey, note);

  try {
    const { uaid } = await device.connect();
    await firstSubscription();
    note(`connected as ${uaid}; waiting for messages (Ctrl-C to stop)`);
  } catch (error) {
    await device.close();
    note(`cannot listen on ${values.server}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }

  await untilStopped();
  await device.close();
  return 0;
}

function openDevice(server: string, stateFile: string): PushDevice {
  try {
    return new PushDevice({ serverUrl: server, stateFile: path.resolve(stateFile) });
  } catch (error) {
    // A damaged state file is reported, never overwritten: it holds the only copy of the channel keys.
    if (error instanceof StateFileError) throw new UsageError(`cannot use the state file: ${error.message}`);
    throw error;
  }
}

/**
 * Prints the device's subscription, then its messages, one per line, and notes its events on
 * stderr. Returns the first connection's subscribe step, whose failure ends the command.
 */
function printEvents(device: PushDevice, lines: SubscriptionFirst, senderKey: string | undefined, note: (line: string) => void): () => Promise<void> | undefined {
  device.on('notification', (message) => {
    lines.message(message.payload === null ? '' : oneLine(message.payload.toString('utf8')));
  });
  device.on('error', (error) => note(error.message));
  device.on('reset', (event) => note(`the server dropped this device (${event.reason}); registering again`));
  device.on('disconnected', (event) => {
    if (event.reconnectInMs !== null) note(`disconnected (${event.code}); reconnecting in ${event.reconnectInMs} ms`);
  });
  let first: Promise<void> | undefined;
  device.on('connected', ({ uaid }) => {
    if (first === undefined) {
      first = subscribe(device, lines, senderKey);
      return;
    }
    note(`reconnected as ${uaid}`);
    subscribe(device, lines, senderKey).catch((error: unknown) => note(`register failed: ${error instanceof Error ? error.message : String(error)}`));
  });
  return () => first;
}

/**
 * Makes sure a channel exists for the key and prints its subscription when it is new. Called from
 * the 'connected' event, which the device emits before it handles the frames after hello (the
 * drain of stored messages): a known subscription is printed at once, and while a new one is
 * registered the messages wait, so the subscription is always the first line.
 */
function subscribe(device: PushDevice, lines: SubscriptionFirst, senderKey: string | undefined): Promise<void> {
  const existing = device.channels().find((channel) => channel.senderKey === (senderKey ?? null));
  if (existing) {
    lines.subscription(JSON.stringify(existing.subscription));
    return Promise.resolve();
  }
  lines.hold();
  return device.register(senderKey !== undefined ? { senderKey } : {}).then(
    (subscription) => lines.subscription(JSON.stringify(subscription)),
    (error: unknown) => {
      lines.release();
      throw error;
    },
  );
}

/** Ctrl-C, SIGTERM, or the reader of stdout going away (`herald listen | head -n 1`). */
function untilStopped(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.stdout.off('error', onOutputError);
      resolve();
    };
    const onOutputError = (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      stop();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    process.stdout.on('error', onOutputError);
  });
}

/**
 * listen's stdout: each new subscription line once, and message lines after the first one. While
 * a subscription is being registered, messages are held and printed right after it (or, should
 * the register fail, before the command ends: the device has acked them, so they must not vanish).
 */
class SubscriptionFirst {
  private held: string[] | null = null;
  private printed: string | null = null;

  constructor(private readonly out: Out) {}

  hold(): void {
    this.held ??= [];
  }

  message(line: string): void {
    if (this.held) this.held.push(line);
    else this.out(line + '\n');
  }

  subscription(line: string): void {
    if (line !== this.printed) {
      this.printed = line;
      this.out(line + '\n');
    }
    this.release();
  }

  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const line of held) this.out(line + '\n');
  }
}

/** One message, one line: line breaks and backslashes are escaped as in JSON. */
function oneLine(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}
