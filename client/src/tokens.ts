/**
 * The app's tokens: fetched with its `getToken()`, kept while valid, fetched
 * again when the SDK is told one expired. Concurrent needs share one call.
 */

/** A cached token closer than this to its `exp` is not used for a new request. */
const EXPIRY_MARGIN_MS = 15_000;

export class TokenStore {
  private token: string | null = null;
  private expiresAt: number | null = null;
  private pending: Promise<string> | null = null;

  constructor(private readonly getToken: () => Promise<string>) {}

  /** A token that is not about to expire, from the cache when possible. */
  get(): Promise<string> {
    if (this.token && (this.expiresAt === null || this.expiresAt - Date.now() > EXPIRY_MARGIN_MS)) return Promise.resolve(this.token);
    return this.fresh();
  }

  /** A new token from the app (the cached one expired or was refused). */
  fresh(): Promise<string> {
    if (this.pending) return this.pending;
    const pending = (async () => {
      try {
        const token = await this.getToken();
        if (typeof token !== 'string' || token.length === 0) throw new Error('getToken() did not return a token');
        this.token = token;
        this.expiresAt = tokenExpiry(token);
        return token;
      } finally {
        this.pending = null;
      }
    })();
    this.pending = pending;
    return pending;
  }

  /** Forget the cached token (it was refused). */
  invalidate(token?: string): void {
    if (token === undefined || token === this.token) {
      this.token = null;
      this.expiresAt = null;
    }
  }
}

/** The `exp` of a JWT in epoch ms, or null when it cannot be read (opaque tokens are fine). */
export function tokenExpiry(token: string): number | null {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const atob = (globalThis as { atob?: (data: string) => string }).atob;
    if (!atob) return null;
    const json = JSON.parse(atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4))) as { exp?: unknown };
    return typeof json.exp === 'number' ? json.exp * 1000 : null;
  } catch {
    return null;
  }
}
