/** esbuild options shared by the package build (build.mjs) and the size check (test/client/size.test.ts). */
export const bundleOptions = {
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2020',
  minify: true,
  legalComments: 'none',
  mainFields: ['module', 'main'],
  logLevel: 'warning',
};

/** The budget for the minified + gzipped browser bundle (src/index.ts, zod and protocol/ included). */
export const SIZE_BUDGET_BYTES = 20 * 1024;

/** Peer dependencies of the `documents` entry: the app's own Yjs (one copy per page, or documents break). */
export const DOCUMENT_PEERS = ['yjs', 'y-protocols', 'y-protocols/*', 'lib0', 'lib0/*'];
