import { readFileSync } from 'node:fs';

const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };

export const VERSION_INFO = {
  name: packageJson.name,
  version: packageJson.version,
  source: 'https://github.com/herald-push/herald',
  commit: process.env.SOURCE_COMMIT ?? 'unknown',
} as const;
