/**
 * Token recipes for the fuzz targets: fine tokens, tokens signed with the real
 * key but odd claims (no `exp`, a lifetime of years, an `iat` in the future, a
 * bad `sub`), algorithm confusion, another key under the real `kid`, forged
 * and tampered JWTs, and plain junk. A recipe is small data (so a failing
 * input prints readably); `TokenFactory.render` turns it into the token.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { CompactSign, generateKeyPair, importJWK, type JWK } from 'jose';
import { LOCAL_AUDIENCE, LOCAL_ISSUER, type DevIssuer } from '../../../local/dev-keys.js';

/** Claims of a token signed by the test; times are seconds relative to now. */
export interface ClaimsRecipe {
  sub?: unknown;
  expIn?: unknown;
  iatIn?: unknown;
  nbfIn?: unknown;
  aud?: unknown;
  iss?: unknown;
  scope?: unknown;
}

export type TokenRecipe =
  | { t: 'valid'; sub: string }
  | { t: 'expired'; sub: string }
  | { t: 'claims'; claims: ClaimsRecipe; kid: 'real' | 'unknown' | 'missing'; alg: 'ES256' | 'ES384' }
  | { t: 'hs256-confusion'; claims: ClaimsRecipe }
  | { t: 'other-key'; claims: ClaimsRecipe }
  | { t: 'forged'; header: unknown; payload: unknown; signature: string }
  | { t: 'tampered'; sub: string; at: number; char: string }
  | { t: 'text'; s: string }
  | { t: 'long'; n: number };

type SigningKey = Parameters<CompactSign['sign']>[0];

/** Signs any claims as they are (jose's SignJWT would refuse a non-numeric `exp`; a verifier must not rely on that). */
const sign = (claims: Record<string, unknown>, header: { alg: string; kid?: string }, key: SigningKey) =>
  new CompactSign(new TextEncoder().encode(JSON.stringify(claims))).setProtectedHeader(header).sign(key);

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value) ?? 'null').toString('base64url');

export class TokenFactory {
  private constructor(
    private readonly issuer: DevIssuer,
    private readonly kid: string,
    private readonly key: SigningKey,
    private readonly publicJwk: JWK,
    private readonly otherKey: SigningKey,
    private readonly otherKey384: SigningKey,
  ) {}

  static async create(issuer: DevIssuer, keyFile: string): Promise<TokenFactory> {
    const stored = JSON.parse(readFileSync(keyFile, 'utf8')) as { kid: string; privateJwk: JWK; publicJwk: JWK };
    const key = await importJWK(stored.privateJwk, 'ES256');
    const other = await generateKeyPair('ES256', { extractable: true });
    const other384 = await generateKeyPair('ES384', { extractable: true });
    return new TokenFactory(issuer, stored.kid, key, stored.publicJwk, other.privateKey, other384.privateKey);
  }

  private claimsOf(recipe: ClaimsRecipe): Record<string, unknown> {
    const now = Math.floor(Date.now() / 1000);
    const at = (offset: unknown) => (typeof offset === 'number' ? now + offset : offset);
    const claims: Record<string, unknown> = {};
    const set = (name: string, value: unknown) => {
      if (value !== undefined) claims[name] = value;
    };
    set('sub', recipe.sub);
    set('exp', at(recipe.expIn));
    set('iat', at(recipe.iatIn));
    set('nbf', at(recipe.nbfIn));
    set('aud', recipe.aud);
    set('iss', recipe.iss);
    set('scope', recipe.scope);
    return claims;
  }

  async render(recipe: TokenRecipe): Promise<string> {
    switch (recipe.t) {
      case 'valid':
        return this.issuer.mint(recipe.sub, { ttlSeconds: 600 });
      case 'expired':
        return this.issuer.mint(recipe.sub, { ttlSeconds: -120 });
      case 'claims': {
        const header = { alg: recipe.alg, ...(recipe.kid === 'real' ? { kid: this.kid } : recipe.kid === 'unknown' ? { kid: 'no-such-key' } : {}) };
        return sign(this.claimsOf(recipe.claims), header, recipe.alg === 'ES384' ? this.otherKey384 : this.key);
      }
      case 'hs256-confusion': {
        // The classic: HMAC keyed with the issuer's public key, hoping the verifier takes `alg` from the token.
        const signing = `${b64({ alg: 'HS256', kid: this.kid })}.${b64(this.claimsOf(recipe.claims))}`;
        const secret = JSON.stringify(this.publicJwk);
        return `${signing}.${createHmac('sha256', secret).update(signing).digest('base64url')}`;
      }
      case 'other-key':
        return sign(this.claimsOf(recipe.claims), { alg: 'ES256', kid: this.kid }, this.otherKey);
      case 'forged':
        return `${b64(recipe.header)}.${b64(recipe.payload)}.${recipe.signature}`;
      case 'tampered': {
        const token = await this.issuer.mint(recipe.sub, { ttlSeconds: 600 });
        const at = recipe.at % token.length;
        const replaced = token[at] === recipe.char ? (recipe.char === 'A' ? 'B' : 'A') : recipe.char;
        return token.slice(0, at) + replaced + token.slice(at + 1);
      }
      case 'text':
        return recipe.s;
      case 'long':
        return 'eyJ'.padEnd(recipe.n, 'A');
    }
  }
}

/** User ids the local issuer could really issue, plus ids no validator should take. */
export const subArb = (users: readonly string[]): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...users) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 140 }) },
    { weight: 1, arbitrary: fc.constantFrom('', ' ', 'a b', 'x'.repeat(129), 'user:alice', '../..', 'alice\u0000', 'alice\n', '\u202Eecila') },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  );

/** A time claim: relative seconds (past, near, years ahead), or not a number at all. */
const timeArb = fc.option(
  fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: -400_000_000, max: 400_000_000 }) },
    { weight: 2, arbitrary: fc.constantFrom(-60, 0, 59, 600, 3600, 86_400, 86_401, 10 * 365 * 86_400) },
    { weight: 1, arbitrary: fc.oneof(fc.double(), fc.string({ maxLength: 12 }), fc.constant(null), fc.constant([1])) },
  ),
  { nil: undefined, freq: 4 },
);

export const claimsArb = (users: readonly string[]): fc.Arbitrary<ClaimsRecipe> =>
  fc.record(
    {
      sub: subArb(users),
      expIn: timeArb,
      iatIn: timeArb,
      nbfIn: timeArb,
      aud: fc.oneof(fc.constant(LOCAL_AUDIENCE), fc.constant([LOCAL_AUDIENCE, 'other']), fc.constant('other'), fc.jsonValue({ maxDepth: 1 })),
      iss: fc.oneof({ weight: 4, arbitrary: fc.constant(LOCAL_ISSUER) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) }),
      scope: fc.oneof(fc.constant('notify'), fc.string({ maxLength: 40 }), fc.jsonValue({ maxDepth: 1 })),
    },
    { requiredKeys: ['sub'] },
  );

export const tokenArb = (users: readonly string[]): fc.Arbitrary<TokenRecipe> =>
  fc.oneof(
    { weight: 2, arbitrary: fc.record({ t: fc.constant('valid' as const), sub: fc.constantFrom(...users) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('expired' as const), sub: fc.constantFrom(...users) }) },
    {
      weight: 4,
      arbitrary: fc.record({
        t: fc.constant('claims' as const),
        claims: claimsArb(users),
        kid: fc.constantFrom('real' as const, 'real' as const, 'unknown' as const, 'missing' as const),
        alg: fc.constantFrom('ES256' as const, 'ES256' as const, 'ES384' as const),
      }),
    },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('hs256-confusion' as const), claims: claimsArb(users) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('other-key' as const), claims: claimsArb(users) }) },
    {
      weight: 2,
      arbitrary: fc.record({
        t: fc.constant('forged' as const),
        header: fc.oneof(
          fc.constant({ alg: 'none' }),
          fc.record({ alg: fc.constantFrom('none', 'HS256', 'ES256', 'RS256', 'EdDSA', ''), kid: fc.oneof(fc.string(), fc.jsonValue({ maxDepth: 1 })) }),
          fc.jsonValue({ maxDepth: 2 }),
        ),
        payload: fc.jsonValue({ maxDepth: 2 }),
        signature: fc.oneof(fc.constant(''), fc.base64String({ maxLength: 100 }), fc.string({ maxLength: 20 })),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ t: fc.constant('tampered' as const), sub: fc.constantFrom(...users), at: fc.nat(), char: fc.constantFrom('A', '_', '-', '.', '=', '%') }),
    },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('text' as const), s: fc.string({ unit: 'binary', maxLength: 300 }) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('long' as const), n: fc.integer({ min: 8_000, max: 20_000 }) }) },
  );
