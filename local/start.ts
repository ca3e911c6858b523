/**
 * `npm start`: the local stack in the foreground. Ctrl-C stops everything.
 * Environment: REDIS_URL (use this Redis), API_PORT (3000), RELAY_PORTS
 * (8081,8082), DEMO_PORT (5173), TOWNSQUARE_MEMORY=1 (force the in-process broker).
 */
import { startLocalStack } from './stack.js';

const relayPorts = (process.env.RELAY_PORTS ?? '8081,8082').split(',').map(Number);
const stack = await startLocalStack({
  redisUrl: process.env.REDIS_URL,
  memory: process.env.TOWNSQUARE_MEMORY === '1',
  apiPort: Number(process.env.API_PORT ?? 3000),
  relayPorts,
  relays: relayPorts.length,
  demo: { port: Number(process.env.DEMO_PORT ?? 5173) },
  log: (line) => process.stderr.write(line),
});

const lines = [
  '',
  'Townsquare local stack is running',
  `  Demo         ${stack.demoUrl}   (open it; add ?relay=2 to pick a relay)`,
  '',
  `  HTTP API     ${stack.apiUrl}`,
  ...stack.relayUrls.map((url, i) => `  relay ${i + 1}      ${url}`),
  `  DynamoDB     ${stack.dynamoEndpoint} (dynalite, in memory)`,
  stack.mode === 'redis'
    ? `  Redis        ${stack.redisUrl}${stack.redis ? ' (started for this stack)' : ''}`
    : '  Redis        none: using the in-process broker with ONE relay (install redis-server or set REDIS_URL for two)',
  '',
  '  Dev token:   TOKEN=$(npm run -s token -- alice)     (add --scope notify for server-to-server)',
  `  The demo's ${stack.demoUrl}/dev/token mints a token for any user: it exists only in this local stack.`,
  '  Ctrl-C to stop.',
  '',
];
console.log(lines.join('\n'));

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping…');
    void stack.stop().then(() => process.exit(0));
  });
}
