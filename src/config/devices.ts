/**
 * The `[devices]` section (docs/devices.md): enrollment of devices into Herald's CA over the
 * device listener, and the attestation gate. Both off unless configured.
 */
import { z } from 'zod';

const attestationSchema = z
  .object({
    /** Listeners whose every hello and enrollment call must carry an attestation JWT; empty: the gate is off. */
    listeners: z.array(z.enum(['devices'])).default([]),
    /**
     * "jwks": a generic issuer, keys from `jwksUrl`; "firebase-app-check": Firebase App Check
     * (issuer, audience and JWKS follow from `projectNumber`); "secret": HS256 with `secret`.
     */
    verifier: z.enum(['jwks', 'firebase-app-check', 'secret']).default('jwks'),
    /** The issuer's JWKS (https://…); for firebase-app-check, defaults to Google's. */
    jwksUrl: z.url().nullable().default(null),
    /** How long fetched keys are kept before asking the JWKS URL again. */
    jwksCacheSeconds: z.number().int().min(10).max(86_400).default(600),
    /** verifier = "secret": the HS256 key shared with the attestation service (≥ 32 characters). */
    secret: z.string().min(32).nullable().default(null),
    /** The `iss` every token must carry (firebase-app-check: https://firebaseappcheck.googleapis.com/<projectNumber>). */
    issuer: z.string().min(1).nullable().default(null),
    /** The `aud` every token must name (firebase-app-check: projects/<projectNumber>). */
    audience: z.string().min(1).nullable().default(null),
    /** firebase-app-check: the Firebase project number. */
    projectNumber: z.string().regex(/^[0-9]{1,20}$/).nullable().default(null),
    /** The claim that names the app (Firebase App Check: `sub`, the Firebase app id). */
    appClaim: z.string().min(1).default('sub'),
    /** The app ids allowed in `appClaim`; empty: any app of that issuer. */
    appIds: z.array(z.string().min(1)).default([]),
    /** A token whose lifetime (exp - iat) is longer than this is refused: attestations are short lived. */
    maxLifetimeSeconds: z.number().int().min(1).max(86_400).default(3600),
  })
  .strict();

export const devicesSchema = z
  .object({
    /**
     * POST /v1/devices/enroll (a one-time code and a CSR for a certificate) and
     * /v1/devices/renew (the current certificate and a CSR) on the device listener. Needs Herald's
     * CA, TLS, and tls.clientCertificates.devices = "request" (or tls.clientCertHeader).
     */
    enrollment: z.boolean().default(false),
    /** Lifetime of a certificate enrollment or renewal issues. */
    certificateDays: z.number().int().min(1).max(397).default(30),
    attestation: attestationSchema.prefault({}),
  })
  .strict();

export type DevicesConfig = z.output<typeof devicesSchema>;
export type AttestationConfig = DevicesConfig['attestation'];
