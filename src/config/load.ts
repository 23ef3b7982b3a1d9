import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { configSchema, type HeraldConfig } from './schema.js';

/** A configuration problem; its message names the offending option. Stops the start. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Tree = { [key: string]: unknown };

export interface ConfigSources {
  /** Path of a TOML file; absent: no file. */
  file?: string | undefined;
  /** Environment; HERALD_<SECTION>_<OPTION> in SCREAMING_SNAKE_CASE, e.g. HERALD_PUSH_MSG_LIMIT. */
  env?: NodeJS.ProcessEnv;
  /** Dotted-path overrides from command-line flags, e.g. { 'server.port': '9000' }. Applied last. */
  overrides?: Record<string, string>;
  /**
   * Told about HERALD_* variables Herald does not know. They never stop the start: Kubernetes sets
   * HERALD_PORT, HERALD_SERVICE_HOST, … in every pod of a namespace with a Service named herald, and
   * wrappers export their own HERALD_* names. Default: a line on stderr.
   */
  onWarning?: (message: string) => void;
}

/** Precedence: defaults < file < HERALD_* environment < command-line flags. */
export function loadConfig(sources: ConfigSources = {}): HeraldConfig {
  const merged: Tree = {};
  if (sources.file) mergeInto(merged, readConfigFile(sources.file));
  const warn = sources.onWarning ?? ((message: string) => process.stderr.write(`herald: warning: ${message}\n`));
  for (const [dotted, raw] of envOverrides(sources.env ?? {}, warn)) setPath(merged, dotted, raw);
  for (const [dotted, raw] of Object.entries(sources.overrides ?? {})) setPath(merged, dotted, coerce(dotted, raw));
  return validateConfig(merged);
}

export function validateConfig(input: unknown): HeraldConfig {
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const where = issue.path.join('.') || '(top level)';
      return `  ${where}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

function readConfigFile(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as Error).message}`);
  }
  try {
    return parseToml(text) as Tree;
  } catch (error) {
    throw new ConfigError(`config file ${file} is not valid TOML: ${(error as Error).message}`);
  }
}

/** Every dotted option path the schema knows, derived from a fully defaulted config. */
export function knownOptionPaths(): string[] {
  const defaults = configSchema.parse({}) as Tree;
  const paths: string[] = [];
  const walk = (tree: Tree, prefix: string) => {
    for (const [key, value] of Object.entries(tree)) {
      const dotted = prefix ? `${prefix}.${key}` : key;
      if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
        walk(value as Tree, dotted);
      } else {
        paths.push(dotted);
      }
    }
  };
  walk(defaults, '');
  return paths;
}

export function envNameFor(dotted: string): string {
  return (
    'HERALD_' +
    dotted
      .split('.')
      .map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
      .join('_')
  );
}

function envOverrides(env: NodeJS.ProcessEnv, warn: (message: string) => void): Array<[string, unknown]> {
  const found: Array<[string, unknown]> = [];
  const known = new Map(knownOptionPaths().map((dotted) => [envNameFor(dotted), dotted]));
  const unknown: string[] = [];
  const kubernetes: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('HERALD_') || value === undefined) continue;
    // HERALD_CONFIG names the file; HERALD_TEST_* belong to the test suite, not to Herald.
    if (name === 'HERALD_CONFIG' || name.startsWith('HERALD_TEST_')) continue;
    const dotted = known.get(name);
    if (dotted) found.push([dotted, coerce(dotted, value)]);
    else if (KUBERNETES_SERVICE_VARIABLE.test(name)) kubernetes.push(name);
    else unknown.push(name);
  }
  for (const name of unknown.sort()) {
    const near = nearestName(name, [...known.keys()]);
    warn(`ignoring unknown environment variable ${name}${near ? ` (did you mean ${near}?)` : ''}; herald.sample.toml lists the options`);
  }
  if (kubernetes.length > 0) warn(`ignoring ${kubernetes.sort().join(', ')}: Kubernetes service variables, not Herald options`);
  return found;
}

/** What Kubernetes injects for a Service named herald: HERALD_PORT, HERALD_PORT_8080_TCP_ADDR, HERALD_SERVICE_HOST, … */
const KUBERNETES_SERVICE_VARIABLE = /^HERALD_(PORT(_\d+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?)?|SERVICE_(HOST|PORT(_[A-Z0-9_]+)?))$/;

/** The known name closest to a typo (at most 2 edits away), or null. */
function nearestName(name: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate, bestDistance);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance, giving up (returning `limit`) once every path is at least `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + cost);
    }
    if (Math.min(...current) >= limit) return limit;
    previous = current;
  }
  return previous[b.length] as number;
}

/**
 * Text from the environment or a flag becomes the type the option's default has, so that the
 * schema can report a wrong value by the option's name instead of "expected number".
 */
function coerce(dotted: string, raw: string): unknown {
  const defaults = configSchema.parse({}) as Tree;
  const current = getPath(defaults, dotted);
  const trimmed = raw.trim();
  if (trimmed === 'null' || trimmed === '') return null;
  if (typeof current === 'number' || (current === null && /^-?\d+(\.\d+)?$/.test(trimmed))) {
    const number = Number(trimmed);
    if (!Number.isFinite(number)) throw new ConfigError(`${dotted}: "${raw}" is not a number`);
    return number;
  }
  if (typeof current === 'boolean') {
    if (trimmed === 'true' || trimmed === '1') return true;
    if (trimmed === 'false' || trimmed === '0') return false;
    throw new ConfigError(`${dotted}: "${raw}" is not true or false`);
  }
  if (current !== null && typeof current === 'object') {
    try {
      return JSON.parse(trimmed) as unknown;
    } catch {
      throw new ConfigError(`${dotted}: expected JSON, got "${raw}"`);
    }
  }
  return raw;
}

function getPath(tree: Tree, dotted: string): unknown {
  let node: unknown = tree;
  for (const part of dotted.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Tree)[part];
  }
  return node;
}

function setPath(tree: Tree, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (next === undefined || next === null || typeof next !== 'object') node[part] = {};
    node = node[part] as Tree;
  }
  node[parts[parts.length - 1] as string] = value;
}

function mergeInto(target: Tree, source: Tree): void {
  for (const [key, value] of Object.entries(source)) {
    const existing = target[key];
    if (value && typeof value === 'object' && !Array.isArray(value) && existing && typeof existing === 'object') {
      mergeInto(existing as Tree, value as Tree);
    } else {
      target[key] = value;
    }
  }
}

/** Where Herald keeps its data, derived once from the validated config, so no part re-derives it differently. */
export interface ResolvedPaths {
  dataDir: string;
  storeUrl: string;
}

export function resolvePaths(config: HeraldConfig, cwd = process.cwd()): ResolvedPaths {
  const dataDir = path.resolve(cwd, config.dataDir);
  let storeUrl = config.store.url ?? `sqlite:${path.join(dataDir, 'herald.db')}`;
  if (storeUrl.startsWith('sqlite:') && storeUrl !== 'sqlite::memory:') {
    const file = storeUrl.slice('sqlite:'.length);
    storeUrl = `sqlite:${path.resolve(dataDir, file)}`;
  }
  return { dataDir, storeUrl };
}

/**
 * The origin push endpoints carry and VAPID aud must equal: server.publicOrigin, else the endpoint
 * listener's own address. A listener bound to every interface needs server.publicOrigin: endpoints
 * would otherwise carry an address senders cannot reach, and VAPID aud would never match.
 */
export function publicOrigin(
  config: HeraldConfig,
  bound: { endpointPort?: number; tls?: boolean } = {},
): string {
  const { host, publicOrigin: configured } = config.server;
  if (configured !== null) return configured;
  if (host === '0.0.0.0' || host === '::') {
    throw new ConfigError('server.publicOrigin: required when server.host binds every interface (set it to the URL senders reach, e.g. https://push.example.com)');
  }
  const port = bound.endpointPort ?? config.server.endpointPort ?? config.server.port;
  return `${bound.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
