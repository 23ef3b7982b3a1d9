/**
 * POST /v1/keys/revoke on the sender endpoint listener (format in src/crypto/revocation.ts and
 * docs/security.md). Idempotent: revoking a revoked key answers the same 200. Nothing undoes a
 * revocation over HTTP; only the operator can (`herald keys unblock`).
 */
import type { FastifyInstance } from 'fastify';
import type { SenderGuard } from '../../guard/endpoint-guard.js';
import { toBase64Url } from '../../crypto/base64.js';
import { senderErrors } from '../../http/sender-errors.js';
import type { SenderBlocklist } from './blocklist.js';
import { checkRevocationRequest } from '../../crypto/revocation.js';

export interface RevokeRouteDeps {
  blocklist: SenderBlocklist;
  /** The endpoint origin; the JWT's aud must equal it. */
  audience(): string;
  clockSkewSeconds: number;
  now(): number;
  /** An audit line for the operator: the key hash (public information) and whether it was new. */
  revoked?(keyHash: string, newlyBlocked: boolean): void;
}

/**
 * `guard`: anyone can generate keys and revoke them, filling the blocklist every node loads, so
 * revocations have their own low per-source limit (`guard.revocationsPerSource`), counted before
 * the signature check so a flood of bad ones costs no ECDSA either.
 */
export function registerRevokeRoute(scope: FastifyInstance, deps: RevokeRouteDeps, guard?: SenderGuard): void {
  scope.post('/v1/keys/revoke', async (request, reply) => {
    await guard?.admit(request);
    await guard?.limitRequests(request, 'revocations');
    const now = deps.now();
    const checked = checkRevocationRequest(request.headers.authorization, single(request.headers['crypto-key']), {
      audience: deps.audience(),
      nowSeconds: Math.floor(now / 1000),
      clockSkewSeconds: deps.clockSkewSeconds,
    });
    if (!checked.ok) throw senderErrors.error('unauthorized', { detail: checked.reason });
    let added: boolean;
    try {
      added = await deps.blocklist.block({ keyHash: checked.keyHash, source: 'holder', reason: 'revoked by its holder', blockedAt: now });
    } catch (error) {
      throw senderErrors.error('storageUnavailable', { cause: error });
    }
    const hash = toBase64Url(checked.keyHash);
    deps.revoked?.(hash, added);
    reply.code(200).send({ status: 'revoked', key: hash });
  });
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}
