/**
 * The one argument helper every command uses: a command declares its flags once (type, placeholder,
 * one line of help) and gets parsing (node:util parseArgs, strict), `--help` / `-h`, argument
 * counts, and one-line UsageErrors from the same declaration, so the help can never list a flag
 * the parser does not know. Groups (`keys`, `admin`, `admin nodes`) dispatch to subcommands the same
 * way. A CLI framework would add a dependency for what fits in this file.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage-error.js';

/** node:util's option settings (type, short, multiple, default); its type is not exported by name. */
type ParseArgsOption = NonNullable<ParseArgsConfig['options']>[string];

export type FlagSpec = ParseArgsOption & {
  /** What the value is, in the help: `--config FILE`. None for a boolean flag. */
  value?: string;
  help: string;
};

export type Flags = Record<string, FlagSpec>;

export interface CommandSpec<F extends Flags> {
  /** As typed after `herald`: "keys rotate". */
  name: string;
  /** The arguments after the name in the usage line: "<ring>". */
  args?: string;
  /** How many positional arguments the command takes; default none. */
  count?: { min: number; max: number };
  summary: string;
  flags: F;
  /** Lines after the flags: examples, where the data comes from. */
  notes?: string[];
}

type ParseConfig<F extends Flags> = { args: string[]; options: F; allowPositionals: true; strict: true };
export type Parsed<F extends Flags> = ReturnType<typeof parseArgs<ParseConfig<F>>>;

/** Where a command writes its answer: stdout, or a test's collector. */
export type Out = (text: string) => void;

export const stdout: Out = (text) => {
  process.stdout.write(text);
};

/** Declares a command; the identity function keeps the flags' literal types for parseCommand. */
export function defineCommand<F extends Flags>(spec: CommandSpec<F>): CommandSpec<F> {
  return spec;
}

/**
 * Parses argv for the command, or prints its help and returns null when asked (`--help`, `-h`
 * anywhere before a `--`). Unknown flags, missing values and wrong argument counts throw UsageError.
 */
export function parseCommand<F extends Flags>(spec: CommandSpec<F>, argv: string[], out: Out = stdout): Parsed<F> | null {
  if (wantsHelp(argv)) {
    out(commandHelp(spec));
    return null;
  }
  let parsed: Parsed<F>;
  try {
    parsed = parseArgs<ParseConfig<F>>({ args: argv, options: spec.flags, allowPositionals: true, strict: true });
  } catch (error) {
    throw toUsageError(error, spec.name);
  }
  const { min, max } = spec.count ?? { min: 0, max: 0 };
  const given = parsed.positionals;
  if (given.length > max) {
    const extra = given.slice(max).join(' ');
    throw new UsageError(
      max === 0 ? `takes no arguments (got "${extra}")` : `takes ${describeCount(min, max)}, got "${extra}" too: quote text that has spaces`,
      spec.name,
    );
  }
  if (given.length < min) throw new UsageError(`needs ${spec.args ?? describeCount(min, max)}`, spec.name);
  return parsed;
}

function describeCount(min: number, max: number): string {
  const noun = (n: number) => `${n} argument${n === 1 ? '' : 's'}`;
  return min === max ? noun(max) : `${min} to ${noun(max)}`;
}

/** `--help` or `-h` among the flags (not after `--`, where it would be text). */
export function wantsHelp(argv: string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

/** node:util reports a bad flag as a TypeError with an ERR_PARSE_ARGS_* code; say it in one line. */
function toUsageError(error: unknown, command: string): unknown {
  if (!(error instanceof TypeError) || !('code' in error) || typeof error.code !== 'string' || !error.code.startsWith('ERR_PARSE_ARGS')) {
    return error;
  }
  const flag = /'(-[^' ]*)/.exec(error.message)?.[1];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`unknown option ${flag ?? error.message}`, command);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      // "Option '--port <value>' argument missing" or "Option '--json' does not take an argument".
      return new UsageError(/missing/.test(error.message) ? `${flag ?? 'an option'} needs a value` : `${flag ?? 'an option'} takes no value`, command);
    default:
      return new UsageError(error.message, command);
  }
}

export function commandHelp<F extends Flags>(spec: CommandSpec<F>): string {
  const rows = Object.entries(spec.flags).map(([name, flag]) => {
    const short = flag.short ? `-${flag.short}, ` : '';
    const value = flag.value ? ` ${flag.value}` : '';
    const repeat = flag.multiple ? ' (repeatable)' : '';
    return [`${short}--${name}${value}`, flag.help + repeat] as const;
  });
  rows.push(['-h, --help', 'show this help']);
  const lines = [`herald ${spec.name}${spec.args ? ` ${spec.args}` : ''}`, '', `  ${spec.summary}`, '', ...table(rows)];
  if (spec.notes?.length) lines.push('', ...spec.notes.map((note) => `  ${note}`));
  return lines.join('\n') + '\n';
}

function table(rows: ReadonlyArray<readonly [string, string]>): string[] {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}   ${right}`);
}

export interface Subcommand {
  /** The usage after the group's name: "rotate <ring>". */
  usage: string;
  summary: string;
  run(argv: string[], out: Out): Promise<number>;
}

export interface GroupSpec {
  /** "admin", "admin nodes". */
  name: string;
  summary: string;
  subcommands: Record<string, Subcommand>;
  /** What the group does with no subcommand (`herald keys` makes a key pair); without it, a usage error. */
  bare?: Subcommand;
}

/** Runs the subcommand argv names, or prints the group's help. */
export async function runGroup(group: GroupSpec, argv: string[], out: Out = stdout): Promise<number> {
  const [first, ...rest] = argv;
  if (first === 'help' || ((first === undefined || first.startsWith('-')) && wantsHelp(argv))) {
    out(groupHelp(group));
    return 0;
  }
  if (first === undefined || first.startsWith('-')) {
    const bare = group.bare;
    if (bare) return withCommand(group.name, () => bare.run(argv, out));
    throw new UsageError(`needs a subcommand: ${Object.keys(group.subcommands).join(', ')}`, group.name);
  }
  const subcommand = Object.hasOwn(group.subcommands, first) ? group.subcommands[first] : undefined;
  if (!subcommand) throw new UsageError(`unknown subcommand "${first}"; expected ${Object.keys(group.subcommands).join(', ')}`, group.name);
  return withCommand(`${group.name} ${first}`, () => subcommand.run(rest, out));
}

/** Names the command in a UsageError thrown without one, so its message can point at the right --help. */
export async function withCommand(command: string, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof UsageError) error.command ??= command;
    throw error;
  }
}

export function groupHelp(group: GroupSpec): string {
  const entries = [...(group.bare ? [group.bare] : []), ...Object.values(group.subcommands)];
  const rows = entries.map((entry) => [`herald ${group.name}${entry.usage ? ` ${entry.usage}` : ''}`, entry.summary] as const);
  const lines = [`herald ${group.name}`, '', `  ${group.summary}`, '', ...table(rows), '', `  \`herald ${group.name} <subcommand> --help\` shows a subcommand's flags.`];
  return lines.join('\n') + '\n';
}
