/**
 * The `herald` command as a person or an operator runs it: a one-off command whose output is
 * read when it exits, or `herald serve` as its own process, known to be up once it logs where it
 * listens. Every wait on a process has a deadline.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

export const REPO = path.resolve(import.meta.dirname, '../..');

/** `herald <args>` from this checkout, stdout and stderr piped. */
export function heraldCommand(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs `herald <args>` to its end. */
export async function runHerald(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = heraldCommand(args);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', (exitCode) => resolve(exitCode)));
  return { code, stdout, stderr };
}

/** A running command's stdout, line by line, and its stderr as text. */
export class OutputLines {
  private readonly lines: string[] = [];
  private readonly waiters = new Set<() => void>();
  private ended = false;
  stderr = '';

  constructor(child: ChildProcess) {
    assert.ok(child.stdout, 'stdout is piped');
    createInterface({ input: child.stdout }).on('line', (line) => {
      this.lines.push(line);
      this.wake();
    });
    child.stdout.once('end', () => {
      this.ended = true;
      this.wake();
    });
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  /** Takes the next line not taken yet. */
  async next(timeoutMs = 15_000): Promise<string> {
    await this.until(() => this.lines.length > 0, timeoutMs, 'an output line');
    return this.lines.shift() as string;
  }

  /** The first line (taken or not) that `match` accepts; waits for it. */
  async find(match: (line: string) => boolean, timeoutMs: number, what: string): Promise<string> {
    let found: string | undefined;
    await this.until(() => (found = this.lines.find(match)) !== undefined, timeoutMs, what);
    return found as string;
  }

  private async until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0 || this.ended) {
        throw new Error(`${this.ended ? 'output ended' : `timed out after ${timeoutMs} ms`} waiting for ${what}; stderr: ${this.stderr}`);
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  private wake(): void {
    for (const wake of [...this.waiters]) wake();
  }
}

export interface LogEntry {
  level?: number;
  msg?: string;
  devices?: string;
  publicOrigin?: string;
}

/** `herald serve <args>` in its own process (pino's JSON lines on stdout). */
export class ServingHerald {
  readonly exited: Promise<number | null>;

  private constructor(
    readonly process: ChildProcess,
    private readonly output: OutputLines,
    /** ws://… devices connect to. */
    readonly wsUrl: string,
    readonly origin: string,
  ) {
    this.exited = new Promise((resolve) => {
      if (process.exitCode !== null || process.signalCode !== null) resolve(process.exitCode);
      else process.once('exit', (code) => resolve(code));
    });
  }

  /**
   * Starts it and waits until it logs where it listens. With `name`, its warnings and errors are
   * echoed to stderr (what a failing run needs to be understood).
   */
  static async start(args: string[], options: { name?: string; timeoutMs?: number } = {}): Promise<ServingHerald> {
    const child = heraldCommand(['serve', ...args]);
    const output = new OutputLines(child);
    if (options.name) echoWarnings(child, options.name);
    const timeoutMs = options.timeoutMs ?? 20_000;
    const what = options.name ? `herald ${options.name} to listen` : 'herald to listen';
    const listening = await output.find((line) => Boolean(parse(line)?.devices), timeoutMs, what).catch((error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    });
    const entry = parse(listening) as LogEntry;
    return new ServingHerald(child, output, entry.devices as string, entry.publicOrigin as string);
  }

  /** The first log entry `match` accepts, waiting up to `timeoutMs` for it. */
  async logged(match: (entry: LogEntry) => boolean, timeoutMs = 20_000, what = 'a log entry'): Promise<LogEntry> {
    const line = await this.output.find((candidate) => {
      const entry = parse(candidate);
      return entry !== null && match(entry);
    }, timeoutMs, what);
    return parse(line) as LogEntry;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.kill(signal);
    await this.exited;
  }
}

function echoWarnings(child: ChildProcess, name: string): void {
  assert.ok(child.stdout);
  createInterface({ input: child.stdout }).on('line', (line) => {
    if ((parse(line)?.level ?? 0) >= 40) console.error(`# herald ${name}: ${line}`);
  });
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
}

function parse(line: string): LogEntry | null {
  try {
    const entry: unknown = JSON.parse(line);
    return typeof entry === 'object' && entry !== null ? (entry as LogEntry) : null;
  } catch {
    return null;
  }
}
