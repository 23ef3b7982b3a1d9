/**
 * `GET /1.0/:service/:version`: exchanges an identity assertion and a client state for a service
 * token on the node assigned to the user. Every check that can refuse runs before the one write
 * (IdentityStore.resolveUser), and the client-state rules run inside it (client-state.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { verifyAssertion } from '../accounts/assertions.js';
import type { SigningKeyRing } from '../accounts/signing-keys.js';
import type { IdentityStore } from '../accounts/store.js';
import type { RingKey } from '../crypto/keyring.js';
import type { RequestGate } from '../guard/request-gate.js';
import { handleErrors } from '../http/errors.js';
import { decideUser } from './client-state.js';
import { tokenError, tokenErrors, type TokenError } from './errors.js';
import { parseAuthorization, parseClientState, parseKeyId } from './headers.js';
import { hashedUid, makeToken } from '../crypto/service-token.js';

/** Told when a client-state change retired a user record, so its service can drop that data. */
export interface RetiredUser {
  service: string;
  /** The uid whose data is now unreadable (e.g. the push device record and its messages). */
  retiredUid: number;
  newUid: number;
  node: string;
}

export interface TokenServerDeps {
  store: IdentityStore;
  /** The accounts server's signing keys: assertions are verified in-process against them. */
  signingKeys: SigningKeyRing;
  /** The shared secret services verify tokens with (first key signs). */
  secrets: readonly RingKey[];
  /** Read per request: they default to the public origin, known once the server listens. */
  issuer: () => string;
  audience: () => string;
  clockToleranceSeconds: number;
  tokenDurationSeconds: number;
  nodeType: string;
  now: () => number;
  onUserRetired?: (event: RetiredUser) => void | Promise<void>;
  /** Bans and the per-source limit (`guard.tokenRequestsPerSource`), before any check costs work. */
  gate?: RequestGate;
  /** Server errors (5xx) and hook failures only; never called with request data. */
  onError?: (error: unknown) => void;
}

const SERVICE = /^[a-z][a-z0-9-]{0,31}$/;
const VERSION = /^[0-9]{1,4}(\.[0-9]{1,4}){0,2}$/;

export async function registerTokenServerRoutes(app: FastifyInstance, deps: TokenServerDeps): Promise<void> {
  await app.register(async (scope) => {
    handleErrors(scope, tokenErrors, {
      requestError: () => tokenError('notFound', 'url', ''),
      internalError: () => tokenError('internal', 'body', ''),
      failed: (failure, _request, thrown) => {
        if (tokenErrors.is(failure, 'internal')) deps.onError?.(thrown);
      },
    });

    scope.get<{ Params: { service: string; version: string } }>('/1.0/:service/:version', (request, reply) => exchange(deps, request, reply));
  });
}

async function exchange(deps: TokenServerDeps, request: FastifyRequest<{ Params: { service: string; version: string } }>, reply: FastifyReply): Promise<void> {
  const refusal = await deps.gate?.(request);
  if (refusal) throw tokenErrors.error('rateLimited', { at: { location: 'header', name: '' }, detail: refusal.detail, retryAfterSeconds: refusal.retryAfterSeconds });
  const { service, version } = request.params;
  if (!SERVICE.test(service) || !VERSION.test(version)) throw tokenError('unknownService', 'url', 'service', 'unknown service or version');

  const { assertion, keyId, clientState, stateHeader } = readCredentials(request);

  if (!(await deps.store.hasService(service))) throw tokenError('unknownService', 'url', 'service', 'unknown service or version');

  const now = deps.now();
  const claims = await checkAssertion(deps, assertion, keyId, now);

  const outcome = await deps.store.resolveUser(
    service,
    claims.sub,
    (current, seen) => decideUser({ generation: claims.generation, keysChangedAt: claims.keysChangedAt, clientState }, current, seen),
    now,
  );
  if (outcome.kind === 'noNode') throw tokenError('noNode', 'body', 'node', 'no node of this service has free capacity');
  if (outcome.kind === 'refused') {
    const code = outcome.reason === 'invalid-generation' ? 'invalidGeneration' : outcome.reason === 'invalid-keysChangedAt' ? 'invalidKeysChangedAt' : 'invalidClientState';
    const field = code === 'invalidClientState' ? stateHeader : 'Authorization';
    throw tokenError(code, 'header', field, outcome.detail);
  }

  if (outcome.retired && deps.onUserRetired) {
    try {
      await deps.onUserRetired({ service, retiredUid: outcome.retired.uid, newUid: outcome.user.uid, node: outcome.node.url });
    } catch (error) {
      deps.onError?.(error);
    }
  }

  const hashed = hashedUid(deps.secrets, claims.sub);
  const duration = deps.tokenDurationSeconds;
  const token = makeToken(deps.secrets, { uid: outcome.user.uid, node: outcome.node.url, expires: Math.floor(now / 1000) + duration, hashed_uid: hashed });
  reply.header('cache-control', 'no-store').send({
    id: token.id,
    key: token.key,
    uid: outcome.user.uid,
    api_endpoint: outcome.node.url,
    duration,
    hashed_uid: hashed,
    hashalg: 'sha256',
    node_type: deps.nodeType,
  });
}

/** The assertion and the client state, from Authorization and X-KeyID / X-Client-State (which must agree). */
function readCredentials(request: FastifyRequest) {
  const assertion = orThrow(parseAuthorization(request.headers.authorization));
  const keyId = orThrow(parseKeyId(request.headers['x-keyid']));
  const headerState = orThrow(parseClientState(request.headers['x-client-state']));
  const stateHeader = keyId ? 'X-KeyID' : 'X-Client-State';
  if (keyId && request.headers['x-client-state'] !== undefined && headerState !== keyId.clientState) {
    throw tokenError('invalidClientState', 'header', 'X-Client-State', 'X-Client-State disagrees with X-KeyID');
  }
  return { assertion, keyId, clientState: keyId ? keyId.clientState : headerState, stateHeader } as const;
}

/** Verifies the assertion against the accounts server's keys and checks its key generation claims. */
async function checkAssertion(deps: TokenServerDeps, assertion: string, keyId: ReturnType<typeof readCredentials>['keyId'], now: number) {
  const claims = await verifyAssertion(
    deps.signingKeys,
    { issuer: deps.issuer(), audience: deps.audience(), clockToleranceSeconds: deps.clockToleranceSeconds },
    assertion,
    now,
  );
  if (typeof claims === 'string') {
    throw tokenError('invalidCredentials', 'header', 'Authorization', claims === 'expired' ? 'the assertion has expired' : 'the assertion is not valid');
  }
  if (claims.keysChangedAt > claims.generation) {
    throw tokenError('invalidKeysChangedAt', 'header', 'Authorization', 'keys_changed_at is later than generation');
  }
  if (keyId && keyId.keysChangedAt !== claims.keysChangedAt) {
    throw tokenError('invalidCredentials', 'header', 'X-KeyID', 'X-KeyID keys_changed_at disagrees with the assertion');
  }
  return claims;
}

function orThrow<T>(value: T | TokenError): T {
  if (tokenErrors.is(value)) throw value;
  return value;
}
