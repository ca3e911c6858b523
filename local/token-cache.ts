/**
 * Remembers successful token verifications until the token expires, for the
 * local API Gateway stand-in: verifying an ES256 signature on every request
 * cost the stand-in about a twentieth of its CPU per message sent, work that
 * in AWS API Gateway does outside our functions. Failures are never cached,
 * and a token is re-verified once its `exp` has passed (so it is refused).
 */
import type { TokenVerifier, VerifiedToken } from '../shared/token-verifier.js';

/** Distinct tokens remembered; the oldest is forgotten first. */
const MAX_TOKENS = 10_000;
/** Tokens without `exp` are re-verified this often. */
const NO_EXPIRY_TTL_MS = 60_000;

export function cachingVerifier(verify: TokenVerifier, now: () => number = Date.now): TokenVerifier {
  const verified = new Map<string, { token: VerifiedToken; until: number }>();
  return async (raw) => {
    const hit = verified.get(raw);
    if (hit && now() < hit.until) return hit.token;
    verified.delete(raw);
    const token = await verify(raw);
    verified.set(raw, { token, until: token.expiresAt ?? now() + NO_EXPIRY_TTL_MS });
    if (verified.size > MAX_TOKENS) verified.delete(verified.keys().next().value!);
    return token;
  };
}
