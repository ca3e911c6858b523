/** Token verification: what the relay (and the local API) accept, mirroring API Gateway's JWT authorizer. */
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { cachingVerifier } from '../../local/token-cache.js';
import { createTokenVerifier, TokenError, type TokenVerifier } from '../../shared/token-verifier.js';

let privateKey: CryptoKey;
let otherKey: CryptoKey;
let verify: TokenVerifier;

const sign = (claims: Record<string, unknown>, key = privateKey, exp: number | null = Math.floor(Date.now() / 1000) + 60) => {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer('https://issuer.test');
  if (exp !== null) jwt.setExpirationTime(exp);
  return jwt.sign(key);
};

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  privateKey = pair.privateKey;
  otherKey = (await generateKeyPair('ES256')).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' };
  verify = createTokenVerifier({ jwks: createLocalJWKSet({ keys: [jwk] }), issuer: 'https://issuer.test', audience: 'app' });
});

describe('createTokenVerifier', () => {
  it('returns the user, scopes and expiry of a valid token', async () => {
    const exp = Math.floor(Date.now() / 1000) + 60;
    const result = await verify(await sign({ sub: 'alice', aud: 'app', scope: 'notify read' }, privateKey, exp));
    expect(result).toMatchObject({ userId: 'alice', scopes: ['notify', 'read'], expiresAt: exp * 1000 });
  });

  it('accepts a Cognito access token: no aud, client_id equal to the audience', async () => {
    expect((await verify(await sign({ sub: 'bob', client_id: 'app', token_use: 'access' }))).userId).toBe('bob');
  });

  it.each([
    ['an expired token', () => sign({ sub: 'a', aud: 'app' }, privateKey, Math.floor(Date.now() / 1000) - 60), 'token expired'],
    ['another audience', () => sign({ sub: 'a', aud: 'other' }), 'aud'],
    ['no aud and a foreign client_id', () => sign({ sub: 'a', client_id: 'other' }), 'aud'],
    ['a foreign signing key', () => sign({ sub: 'a', aud: 'app' }, otherKey), 'token'],
    ['no sub', () => sign({ aud: 'app' }), 'sub'],
    ['a malformed sub', () => sign({ sub: 'a b/c', aud: 'app' }), 'sub'],
  ])('rejects %s', async (_name, make, message) => {
    const token = await make();
    await expect(verify(token)).rejects.toThrow(TokenError);
    await expect(verify(token)).rejects.toThrow(message);
  });

  it.each([
    ['no exp', () => sign({ sub: 'a', aud: 'app' }, privateKey, null), 'token claim exp is invalid'],
    ['a lifetime over 24 h', () => sign({ sub: 'a', aud: 'app' }, privateKey, Math.floor(Date.now() / 1000) + 25 * 3600), 'token lifetime exceeds 86400 s'],
    [
      'exp - iat over 24 h (issued earlier, still valid)',
      () => sign({ sub: 'a', aud: 'app', iat: Math.floor(Date.now() / 1000) - 24 * 3600 }, privateKey, Math.floor(Date.now() / 1000) + 3600),
      'token lifetime exceeds 86400 s',
    ],
    ['an iat in the future', () => sign({ sub: 'a', aud: 'app', iat: Math.floor(Date.now() / 1000) + 600 }), 'token claim iat is invalid'],
  ])('rejects %s', async (_name, make, message) => {
    const err = await verify(await make()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenError);
    expect((err as TokenError).message).toBe(message);
  });

  it('accepts only the allowed algorithms, and never names the library\'s error codes', async () => {
    const rsa = await generateKeyPair('PS256', { extractable: true });
    const jwk = { ...(await exportJWK(rsa.publicKey)), kid: 'r1', alg: 'PS256' };
    const strict = createTokenVerifier({ jwks: createLocalJWKSet({ keys: [jwk] }), issuer: 'https://issuer.test', audience: 'app' });
    const token = await new SignJWT({ sub: 'a', aud: 'app' })
      .setProtectedHeader({ alg: 'PS256', kid: 'r1' })
      .setIssuer('https://issuer.test')
      .setExpirationTime('5m')
      .sign(rsa.privateKey);
    await expect(strict(token)).rejects.toThrow('token algorithm is not allowed');
    const relaxed = createTokenVerifier({ jwks: createLocalJWKSet({ keys: [jwk] }), issuer: 'https://issuer.test', audience: 'app', algorithms: ['PS256'] });
    expect((await relaxed(token)).userId).toBe('a');
    for (const junk of ['garbage', 'a.b.c', `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.e30.sig`]) {
      const err = (await verify(junk).catch((e: unknown) => e)) as TokenError;
      expect(err.message).not.toMatch(/ERR_|JWS|JWT|JOSE/);
    }
  });

  it('rejects an unsigned token (alg none) and garbage', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ sub: 'alice', aud: 'app', iss: 'https://issuer.test' })).toString('base64url');
    await expect(verify(`${header}.${payload}.`)).rejects.toThrow(TokenError);
    await expect(verify('garbage')).rejects.toThrow(TokenError);
  });
});

describe('issuer keys that cannot be fetched', () => {
  it('fail as retryable, not as a bad token', async () => {
    const pair = await generateKeyPair('ES256');
    const token = await new SignJWT({ sub: 'alice', aud: 'app' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer('https://issuer.test')
      .setExpirationTime('1m')
      .sign(pair.privateKey);
    // Nothing listens on port 9 (discard): the JWKS fetch fails at the network.
    const unreachable = createTokenVerifier({ jwks: 'http://127.0.0.1:9/jwks.json', issuer: 'https://issuer.test', audience: 'app' });
    const err = await unreachable(token).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenError);
    expect((err as TokenError).retryable).toBe(true);
    // A real verdict stays terminal.
    const bad = await verify(token).catch((e: unknown) => e);
    expect((bad as TokenError).retryable).toBe(false);
  });
});

describe('cachingVerifier (local API Gateway stand-in)', () => {
  const counting = () => {
    const calls: string[] = [];
    const counted: TokenVerifier = (token) => {
      calls.push(token);
      return verify(token);
    };
    return { calls, counted };
  };

  it('verifies a token once while it is valid', async () => {
    const { calls, counted } = counting();
    const cached = cachingVerifier(counted);
    const token = await sign({ sub: 'alice', aud: 'app' });
    expect((await cached(token)).userId).toBe('alice');
    expect((await cached(token)).userId).toBe('alice');
    expect(calls).toHaveLength(1);
  });

  it('never caches a refusal', async () => {
    const { calls, counted } = counting();
    const cached = cachingVerifier(counted);
    const forged = await sign({ sub: 'alice', aud: 'app' }, otherKey);
    await expect(cached(forged)).rejects.toBeInstanceOf(TokenError);
    await expect(cached(forged)).rejects.toBeInstanceOf(TokenError);
    expect(calls).toHaveLength(2);
  });

  it('asks the verifier again once the token has expired (which then refuses it)', async () => {
    const { calls, counted } = counting();
    let clock = Date.now();
    const cached = cachingVerifier(counted, () => clock);
    const exp = Math.floor(Date.now() / 1000) + 60;
    const token = await sign({ sub: 'alice', aud: 'app' }, privateKey, exp);
    await cached(token);
    clock = exp * 1000; // the cache's clock passes exp; the verifier's own clock still accepts it
    await cached(token);
    expect(calls).toHaveLength(2);
  });
});
