// Bundles the relay into one ESM file: what the container image runs
// (socket-relay/Dockerfile), the local stack starts, and the tests exercise.
import { build } from 'esbuild';

const outfile = process.argv[2] ?? 'dist/relay/main.mjs';
await build({
  entryPoints: ['socket-relay/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  // Some CommonJS dependencies call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
});
console.log(`relay bundle written to ${outfile}`);
