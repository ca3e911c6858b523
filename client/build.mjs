// Builds the SDK: ESM bundles for browsers/React Native/Node (protocol/ and
// zod bundled in; react, yjs and y-protocols left to the app), then type
// declarations with tsc. `documents` is its own entry so apps without
// documents load no Yjs.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { bundleOptions, DOCUMENT_PEERS } from './bundle-options.mjs';

const root = dirname(fileURLToPath(import.meta.url));
const dist = resolve(root, 'dist');
rmSync(dist, { recursive: true, force: true });

await build({
  ...bundleOptions,
  entryPoints: { index: resolve(root, 'src/index.ts'), react: resolve(root, 'src/react.ts'), documents: resolve(root, 'src/documents.ts') },
  outdir: dist,
  // Should the React entry ever use runtime code of the main one, it is shared as a chunk, never duplicated.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  external: DOCUMENT_PEERS.concat('react'),
  sourcemap: true,
});

const tsc = spawnSync(process.execPath, [resolve(root, '../node_modules/typescript/bin/tsc'), '-p', resolve(root, 'tsconfig.json')], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
console.log(`client SDK written to ${dist}`);
