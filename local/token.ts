/**
 * Mints a dev token for the local stack:
 *   npm run -s token -- <userId> [--scope notify] [--ttl 3600]  (an expired one: --ttl=-60)
 * Prints only the token, so `TOKEN=$(npm run -s token -- alice)` works.
 */
import { parseArgs } from 'node:util';
import { USER_ID_PATTERN } from '../protocol/index.js';
import { loadDevIssuer } from './dev-keys.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { scope: { type: 'string', multiple: true }, ttl: { type: 'string', default: '3600' } },
});
const [userId] = positionals;
if (!userId || !USER_ID_PATTERN.test(userId)) {
  console.error('usage: npm run -s token -- <userId> [--scope notify] [--ttl seconds]');
  process.exit(2);
}
const ttlSeconds = Number(values.ttl);
if (!Number.isInteger(ttlSeconds)) {
  console.error('--ttl must be a whole number of seconds');
  process.exit(2);
}
const issuer = await loadDevIssuer();
console.log(await issuer.mint(userId, { scopes: values.scope ?? [], ttlSeconds }));
