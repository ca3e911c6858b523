/**
 * Who the tab is signed in as. The demo has no sign-in: the local stack's
 * demo server mints a token for the picked dev user (POST /dev/token, which
 * exists only there). A real app's `getToken` asks its own auth backend.
 */
const USER_KEY = 'townsquare.demo.user';

export const DEV_USERS = [
  { id: 'alice', role: 'Product' },
  { id: 'bob', role: 'Engineering' },
  { id: 'carol', role: 'Design' },
  { id: 'dave', role: 'Support' },
  { id: 'erin', role: 'Marketing' },
] as const;

export function savedUser(): string | null {
  return sessionStorage.getItem(USER_KEY);
}

export function saveUser(userId: string | null): void {
  if (userId) sessionStorage.setItem(USER_KEY, userId);
  else sessionStorage.removeItem(USER_KEY);
}

export async function fetchDevToken(userId: string): Promise<string> {
  const res = await fetch('/dev/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId }),
  });
  const body = (await res.json().catch(() => null)) as { token?: string; error?: { message?: string } } | null;
  if (!res.ok || !body?.token) throw new Error(body?.error?.message ?? `dev token: HTTP ${res.status}`);
  return body.token;
}
