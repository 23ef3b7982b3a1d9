/**
 * The web console part (docs/console.md): the built pages (src/console/ui/, built to dist/console/
 * by `npm run build`) served as they are at /console/, GET / redirecting there, and the JSON API at
 * /console/api/…, every answer in Herald's envelope (errors.ts). Signed in with the accounts'
 * store, password checks and login budgets; CSRF-protected without server state (csrf.ts).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { HttpListeners, Part } from '../server/part.js';
import { handleErrors } from '../http/errors.js';
import { checkSessionAndToken, type ConsoleDeps } from './context.js';
import { consoleErrors } from './errors.js';
import { addSecurityHeaders, checkJsonBody, checkRequestOrigin } from './request-checks.js';
import { registerAppRoutes } from './routes-apps.js';
import { registerOperatorRoutes } from './routes-operator.js';
import { registerSessionRoutes } from './routes-session.js';
import { registerStatsRoutes } from './routes-stats.js';
import { registerToolRoutes } from './routes-tools.js';

export interface ConsolePartOptions {
  /** Built lazily: the accounts store and the push blocklist exist only once their parts started. */
  deps: () => ConsoleDeps;
  vapidClockSkewSeconds: number;
  /** The built pages; default: dist/console of this checkout or package. */
  assetsDir?: string;
}

/** Every console body is a few short fields; a test push carries at most ~4 KB of text. */
const BODY_LIMIT_BYTES = 16 * 1024;

export class ConsolePart implements Part {
  readonly name = 'console';

  constructor(private readonly options: ConsolePartOptions) {}

  async register(http: HttpListeners): Promise<void> {
    const deps = this.options.deps();
    const app = http.devices;
    app.get('/', async (_request, reply) => {
      addSecurityHeaders(reply);
      reply.redirect('/console/', 302);
    });
    await app.register(async (scope) => registerApi(scope, deps, this.options.vapidClockSkewSeconds), { prefix: '/console/api' });
    await app.register(async (scope) => registerPages(scope, this.options.assetsDir ?? builtAssetsDir()));
  }
}

async function registerApi(scope: FastifyInstance, deps: ConsoleDeps, clockSkewSeconds: number): Promise<void> {
  handleErrors(scope, consoleErrors, {
    requestError: (error) =>
      error.statusCode === 413
        ? consoleErrors.error('bodyTooLarge')
        : error.statusCode === 415
          ? consoleErrors.error('notJson')
          : consoleErrors.error('invalidRequest', { detail: 'the body is not valid JSON' }),
    internalError: (thrown) => consoleErrors.error('internal', { cause: thrown }),
    notFound: () => consoleErrors.error('notFound'),
    failed: (failure, _request, thrown) => {
      if (consoleErrors.is(failure, 'internal', 'endpointUnreachable')) deps.onError?.(thrown);
    },
  });
  // Before the body is read: a cross-site or non-JSON unsafe request never reaches a parser.
  scope.addHook('onRequest', async (request, reply) => {
    addSecurityHeaders(reply);
    reply.header('cache-control', 'no-store');
    checkRequestOrigin(request, deps.origin());
    checkJsonBody(request);
  });
  scope.addHook('preHandler', async (request) => checkSessionAndToken(deps, request));
  const limited = { bodyLimit: BODY_LIMIT_BYTES };
  await scope.register(
    async (routes) => {
      registerSessionRoutes(routes, deps);
      registerAppRoutes(routes, deps);
      registerStatsRoutes(routes, deps);
      registerToolRoutes(routes, deps, clockSkewSeconds);
      registerOperatorRoutes(routes, deps);
    },
    limited,
  );
}

/**
 * The static files, each as its own route (`wildcard: false`: the list is read once at start), so
 * nothing but the built files answers there. Hashed asset names are cached for good; index.html
 * is revalidated, so a new build is picked up.
 */
async function registerPages(scope: FastifyInstance, root: string): Promise<void> {
  scope.addHook('onRequest', async (_request, reply) => {
    addSecurityHeaders(reply);
  });
  if (!existsSync(path.join(root, 'index.html'))) {
    scope.get('/console/', async (_request, reply) => consoleErrors.send(reply, consoleErrors.error('notBuilt')));
    return;
  }
  // Loaded only when the console is on and built: @fastify/static and its file-serving stack
  // are ~30 ms of a cold start.
  const { default: fastifyStatic } = await import('@fastify/static');
  await scope.register(fastifyStatic, {
    root,
    prefix: '/console/',
    wildcard: false,
    decorateReply: false,
    index: ['index.html'],
    redirect: true,
    setHeaders: (response, file) => {
      response.setHeader('cache-control', file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
}

/** dist/console beside the compiled code (dist/src/console → dist/console) or the sources (src/console → dist/console). */
export function builtAssetsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../../console'), path.resolve(here, '../../dist/console')];
  return candidates.find((dir) => existsSync(path.join(dir, 'index.html'))) ?? (candidates[1] as string);
}
