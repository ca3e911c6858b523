export function requireEnv(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`Environment variable ${name} is not set; the deployment must provide it`);
  return value;
}

/** A boolean flag read the way the relay's config reads it (`true`/`1`), so both sides agree on a mode. */
export function envFlag(env: NodeJS.ProcessEnv, name: string): boolean {
  const value = env[name];
  return value === 'true' || value === '1';
}
