import path from 'node:path';
import { parseArgs } from 'node:util';
import { PushDevice } from '../client/device.js';
import { StateFileError } from '../client/state.js';
import { UsageError } from './usage-error.js';

/**
 * `herald listen`: a push device in the terminal. stdout carries the subscription JSON (one line,
 * for scripts to capture), then one line per message; everything else goes to stderr.
 */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(() =>
    parseArgs({
      args: argv,
      options: {
        server: { type: 'string', default: 'ws://127.0.0.1:8080/' },
        state: { type: 'string', default: './herald-device.json' },
        key: { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    }),
  );
  if (positionals.length > 0) throw new UsageError(`listen takes no arguments (got "${positionals.join(' ')}")`);
  if (!/^wss?:\/\//i.test(values.server)) throw new UsageError('--server must be a ws:// or wss:// URL');
  const senderKey = values.key;

  let device: PushDevice;
  try {
    device = new PushDevice({ serverUrl: values.server, stateFile: path.resolve(values.state) });
  } catch (error) {
    // A damaged state file is reported, never overwritten: it holds the only copy of the channel keys.
    if (error instanceof StateFileError) throw new UsageError(`cannot use the state file: ${error.message}`);
    throw error;
  }
  const out = (line: string) => process.stdout.write(line + '\n');
  const note = (line: string) => process.stderr.write(`herald listen: ${line}\n`);

  device.on('notification', (message) => {
    out(message.payload === null ? '' : oneLine(message.payload.toString('utf8')));
  });
  device.on('error', (error) => note(error.message));
  device.on('reset', (event) => note(`the server dropped this device (${event.reason}); registering again`));
  device.on('disconnected', (event) => {
    if (event.reconnectInMs !== null) note(`disconnected (${event.code}); reconnecting in ${event.reconnectInMs} ms`);
  });

  // After every hello (the first, a reconnect, a reset) make sure a channel exists for this key,
  // and print a subscription line whenever it is new.
  let printed: string | null = null;
  const ensureSubscription = async () => {
    const existing = device.channels().find((channel) => channel.senderKey === (senderKey ?? null));
    const subscription = existing ? existing.subscription : await device.register(senderKey !== undefined ? { senderKey } : {});
    const line = JSON.stringify(subscription);
    if (line !== printed) {
      printed = line;
      out(line);
    }
  };
  device.on('connected', ({ uaid }) => {
    if (printed === null) return; // the first connection is handled below, where failures end the command
    note(`reconnected as ${uaid}`);
    ensureSubscription().catch((error: unknown) => note(`register failed: ${error instanceof Error ? error.message : String(error)}`));
  });

  try {
    const { uaid } = await device.connect();
    await ensureSubscription();
    note(`connected as ${uaid}; waiting for messages (Ctrl-C to stop)`);
  } catch (error) {
    await device.close();
    note(`cannot listen on ${values.server}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }

  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await device.close();
  return 0;
}

/** One message, one line: line breaks and backslashes are escaped as in JSON. */
function oneLine(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\r/g, '\\r').replace(/\n/g, '\\n');
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
