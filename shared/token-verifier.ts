/**
 * Token verification with jose, the way API Gateway's JWT authorizer does it
 * (signature against the issuer's JWKS, `iss`, `aud` when configured, `exp`
 * required, `nbf`), and stricter where a long-lived connection needs it: an
 * algorithm allow-list, a maximum lifetime and no `iat` in the future. Used by
 * the relay for the first frame and by the local API server.
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { USER_ID_PATTERN } from '../protocol/index.js';

export interface VerifiedToken {
  userId: string;
  scopes: string[];
  /** Epoch milliseconds when the token stops being valid (`exp` is required). */
  expiresAt: number;
  claims: Record<string, unknown>;
}

export interface TokenVerifierOptions {
  /** The issuer's JWKS URL, or a key-set resolver (tests, local stack). */
  jwks: string | JWTVerifyGetKey;
  issuer: string;
  audience?: string;
  /** Seconds of clock skew tolerated on `exp` / `nbf` / `iat`. @default 5 */
  clockToleranceSec?: number;
  /** JWS algorithms accepted. @default ['RS256', 'ES256'] (Cognito, Auth0 and most IdPs sign with these) */
  algorithms?: string[];
  /** Longest lifetime accepted, in seconds: `exp` - `iat`, and `exp` - now. @default 86400 */
  maxLifetimeSec?: number;
}

export const DEFAULT_TOKEN_ALGORITHMS = ['RS256', 'ES256'];
export const DEFAULT_MAX_TOKEN_LIFETIME_SEC = 24 * 60 * 60;

export class TokenError extends Error {
  override readonly name = 'TokenError';
  /** True when the token was not judged at all (the issuer's keys could not be fetched): retry later. */
  readonly retryable: boolean;
  /** True when the token is not valid yet (`nbf` or `iat` ahead, usually an issuer's clock): a new token later works. */
  readonly notYetValid: boolean;
  constructor(message: string, options?: { cause?: unknown; retryable?: boolean; notYetValid?: boolean }) {
    super(message, options);
    this.retryable = options?.retryable ?? false;
    this.notYetValid = options?.notYetValid ?? false;
  }
}

export type TokenVerifier = (token: string) => Promise<VerifiedToken>;

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  // createRemoteJWKSet caches keys and refetches on an unknown `kid`, with a cooldown.
  const keys = typeof options.jwks === 'string' ? createRemoteJWKSet(new URL(options.jwks)) : options.jwks;
  const tolerance = options.clockToleranceSec ?? 5;
  const maxLifetime = options.maxLifetimeSec ?? DEFAULT_MAX_TOKEN_LIFETIME_SEC;
  const verifyOptions = {
    issuer: options.issuer,
    clockTolerance: tolerance,
    algorithms: options.algorithms ?? DEFAULT_TOKEN_ALGORITHMS,
    requiredClaims: ['exp'],
  };
  return async (token) => {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, keys, verifyOptions));
    } catch (err) {
      // An unknown key id is retryable only while jose holds back a refetch (its 30 s cooldown):
      // then a key rotated in moments ago is not known yet. Otherwise the set was just
      // fetched and does not have the key: the token is not the issuer's.
      const unknownKeyWhileCooling = err instanceof errors.JWKSNoMatchingKey && (keys as { coolingDown?: boolean }).coolingDown === true;
      const retryable = unknownKeyWhileCooling || keysUnavailable(err);
      throw new TokenError(retryable ? 'token issuer keys unavailable; retry shortly' : describe(err), { cause: err, retryable, notYetValid: notYetValid(err) });
    }
    // jose has checked that `exp` is a number and not past, and that `iat`, if present, is a number.
    const exp = payload.exp!;
    const now = Math.floor(Date.now() / 1000);
    if (payload.iat !== undefined && payload.iat > now + tolerance) throw new TokenError('token claim iat is invalid', { notYetValid: true });
    // The lifetime from issue (or, without `iat`, from now) to expiry; skew tolerated as on every time claim.
    if (exp - Math.min(payload.iat ?? now, now) > maxLifetime + tolerance) throw new TokenError(`token lifetime exceeds ${maxLifetime} s`);
    // Like API Gateway's JWT authorizer: `aud` must contain the audience, or, for tokens
    // without `aud` (Cognito access tokens), `client_id` must equal it.
    if (options.audience !== undefined && !audienceMatches(payload, options.audience)) {
      throw new TokenError('token claim aud is invalid');
    }
    if (typeof payload.sub !== 'string' || !USER_ID_PATTERN.test(payload.sub)) {
      throw new TokenError('token has no usable sub claim');
    }
    const scope = typeof payload.scope === 'string' ? payload.scope : '';
    return {
      userId: payload.sub,
      scopes: scope.split(' ').filter(Boolean),
      expiresAt: exp * 1000,
      claims: payload,
    };
  };
}

function audienceMatches(payload: { aud?: string | string[]; client_id?: unknown }, audience: string): boolean {
  if (payload.aud !== undefined) return (Array.isArray(payload.aud) ? payload.aud : [payload.aud]).includes(audience);
  return payload.client_id === audience;
}

/**
 * The issuer's JWKS could not be fetched or read: a fault on the way, not a bad token.
 * (jose is pinned: the 200-check below reads its message.)
 */
function keysUnavailable(err: unknown): boolean {
  if (err instanceof errors.JWKSNoMatchingKey) return false;
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) return true;
  if (err instanceof errors.JOSEError) return /Expected 200 OK/.test(err.message);
  return true; // network errors from fetch (TypeError) and the like
}

/** `nbf` in the future: the token becomes valid later (an issuer's clock ahead of ours). */
function notYetValid(err: unknown): boolean {
  return err instanceof errors.JWTClaimValidationFailed && err.claim === 'nbf';
}

/** Claims a refusal may name: fixed words, never text taken from the token. */
const NAMED_CLAIMS = new Set(['iss', 'aud', 'exp', 'nbf', 'iat', 'sub']);

/** A fixed description for a close reason: never the library's internal codes or the token's content. */
function describe(err: unknown): string {
  if (keysUnavailable(err)) return 'token issuer keys unavailable; retry shortly';
  if (err instanceof errors.JWTExpired) return 'token expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    return NAMED_CLAIMS.has(err.claim) ? `token claim ${err.claim} is invalid` : 'token claims are invalid';
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'token signature is invalid';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'token algorithm is not allowed';
  return 'token is malformed or not verifiable';
}
