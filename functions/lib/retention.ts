/**
 * Message retention from the environment, read once per container:
 * `MESSAGE_RETENTION_DAYS` (a positive integer; unset or empty: keep messages
 * forever, the default). The CDK app sets it from the `messageRetentionDays`
 * context on the functions that append to or read the channel log.
 */
const DAY_MS = 24 * 60 * 60 * 1000;

/** Whole days: at least the 24 h an idempotency claim lives, so a replayed message has not expired. */
export function retentionFromEnv(env: NodeJS.ProcessEnv = process.env): { retentionMs?: number } {
  const raw = env.MESSAGE_RETENTION_DAYS;
  if (raw === undefined || raw.trim() === '') return {};
  const days = Number(raw);
  if (!Number.isSafeInteger(days) || days < 1 || days > 36_500) {
    throw new Error(`MESSAGE_RETENTION_DAYS must be a whole number of days from 1 to 36500 (got "${raw.slice(0, 20)}"); unset it to keep messages forever`);
  }
  return { retentionMs: days * DAY_MS };
}
