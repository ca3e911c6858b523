/**
 * The local stack's token issuer: an ES256 key pair kept in `.local/` so the
 * stack and `npm run token` agree, a JWKS for the relays, and token minting.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';

export const LOCAL_ISSUER = 'townsquare-local';
export const LOCAL_AUDIENCE = 'townsquare';
export const DEFAULT_KEY_FILE = resolve('.local/dev-keys.json');

interface StoredKeys {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

export interface DevIssuer {
  jwks: { keys: JWK[] };
  mint(sub: string, options?: { scopes?: string[]; ttlSeconds?: number; claims?: Record<string, unknown> }): Promise<string>;
}

export async function loadDevIssuer(keyFile = DEFAULT_KEY_FILE): Promise<DevIssuer> {
  const stored = existsSync(keyFile) ? (JSON.parse(readFileSync(keyFile, 'utf8')) as StoredKeys) : await createKeys(keyFile);
  const privateKey = await importJWK(stored.privateJwk, 'ES256');
  return {
    jwks: { keys: [{ ...stored.publicJwk, kid: stored.kid, alg: 'ES256', use: 'sig' }] },
    async mint(sub, { scopes = [], ttlSeconds = 3600, claims = {} } = {}) {
      const jwt = new SignJWT({ ...claims, ...(scopes.length > 0 && { scope: scopes.join(' ') }) })
        .setProtectedHeader({ alg: 'ES256', kid: stored.kid })
        .setSubject(sub)
        .setIssuer(LOCAL_ISSUER)
        .setAudience(LOCAL_AUDIENCE)
        .setIssuedAt();
      // A negative ttl mints an already expired token (useful to test expiry).
      jwt.setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds);
      return jwt.sign(privateKey);
    },
  };
}

async function createKeys(keyFile: string): Promise<StoredKeys> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const stored: StoredKeys = {
    kid: `dev-${Date.now().toString(36)}`,
    privateJwk: await exportJWK(privateKey),
    publicJwk: await exportJWK(publicKey),
  };
  mkdirSync(dirname(keyFile), { recursive: true });
  writeFileSync(keyFile, JSON.stringify(stored, null, 2), { mode: 0o600 });
  return stored;
}
