// Runs the relay bundle under the V8 CPU profiler (`--cpu-prof` is not allowed
// in NODE_OPTIONS, and the bench does not change how relays are spawned): the
// profile is written to $RELAY_PROFILE_DIR when the relay exits after SIGTERM.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join, resolve } from 'node:path';

const dir = process.env.RELAY_PROFILE_DIR ?? '.';
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.start');

const exit = process.exit.bind(process);
process.exit = (code) => {
  session
    .post('Profiler.stop')
    .then(({ profile }) => writeFileSync(join(dir, `relay-${process.pid}.cpuprofile`), JSON.stringify(profile)))
    .finally(() => exit(code));
};

await import(resolve('dist/relay/main.mjs'));
