/** An info-level pino logger that keeps what it writes in memory, for tests that grep the log. */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface CapturedLog {
  logger: Logger;
  /** Everything logged so far (JSON lines). */
  text(): string;
}

export function captureLog(level: pino.Level = 'info'): CapturedLog {
  let logged = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged += chunk.toString();
      done();
    },
  });
  return { logger: pino({ level }, sink), text: () => logged };
}
