/**
 * The package as shipped: the build writes ESM bundles and declarations, the
 * bundle runs in Node, the declarations do not drag zod in, the minified +
 * gzipped browser bundle stays within budget, and the public types match the
 * protocol's schemas.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import ts from 'typescript';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { bundleOptions, SIZE_BUDGET_BYTES } from '../../client/bundle-options.mjs';
import type * as Sdk from '../../client/src/index.js';
import type { ServerFrame } from '../../protocol/frames.js';
import type * as Http from '../../protocol/http.js';
import { NodeWebSocket } from '../helpers/sdk-harness.js';

const dist = resolve('client/dist');

describe('@townsquare/client package', () => {
  it('builds ESM bundles and declarations that need no zod', () => {
    const result = spawnSync(process.execPath, ['client/build.mjs'], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    const pkg = JSON.parse(readFileSync('client/package.json', 'utf8')) as { exports: Record<string, { types: string; import: string }> };
    for (const entry of Object.values(pkg.exports)) {
      expect(existsSync(resolve('client', entry.import)), entry.import).toBe(true);
      expect(existsSync(resolve('client', entry.types)), entry.types).toBe(true);
    }
    // The public declarations stand alone: an app does not need zod's types.
    for (const file of ['index.d.ts', 'types.d.ts', 'townsquare.d.ts', 'subscription.d.ts', 'react.d.ts']) {
      expect(readFileSync(resolve(dist, 'types/client/src', file), 'utf8')).not.toMatch(/(import|from)\s*\(?['"][^'"]*(zod|protocol)/);
    }
    expect(readFileSync(resolve(dist, 'react.js'), 'utf8')).toMatch(/from"react"/);
  }, 120_000);

  it('runs from the bundle in Node', async () => {
    const mod = (await import(pathToFileURL(resolve(dist, 'index.js')).href)) as typeof Sdk;
    const ts = new mod.Townsquare({ relayUrls: 'ws://127.0.0.1:1/ws', apiUrl: 'http://127.0.0.1:1', getToken: async () => 't', WebSocket: NodeWebSocket, browserEvents: false });
    expect(ts.state).toBe('disconnected');
    expect(ts.subscribe('room:abc').state).toBe('subscribing');
    ts.close();
    expect(ts.state).toBe('closed');
    expect(() => new mod.Townsquare({ relayUrls: [], apiUrl: 'http://x', getToken: async () => 't', WebSocket: NodeWebSocket })).toThrow(/at least one relay/);
  });

  it(`keeps the minified + gzipped browser bundle within ${SIZE_BUDGET_BYTES / 1024} KB`, async () => {
    const out = await build({ ...bundleOptions, entryPoints: ['client/src/index.ts'], write: false, platform: 'browser' });
    const code = out.outputFiles[0]!.contents;
    const gzipped = gzipSync(code, { level: 9 }).length;
    console.log(`SDK_BUNDLE_SIZE ${JSON.stringify({ minifiedBytes: code.length, gzippedBytes: gzipped, budgetBytes: SIZE_BUDGET_BYTES })}`);
    expect(gzipped).toBeLessThanOrEqual(SIZE_BUDGET_BYTES);
    // zod and protocol/ are in it (the package has no runtime dependency).
    expect(Buffer.from(code).toString()).toContain('RelayRestarting:1012');
    expect(Buffer.from(code).toString()).toContain('$ZodError');
  });

  it("accepts the browser's own WebSocket (lib.dom) and `ws` as the WebSocket option, without a cast", () => {
    const dir = mkdtempSync(join(tmpdir(), 'ts-websocket-'));
    try {
      const file = join(dir, 'app.ts');
      writeFileSync(
        file,
        [
          "import WS from 'ws';",
          `import { Townsquare } from ${JSON.stringify(resolve('client/src/index.ts'))};`,
          "const base = { relayUrls: 'ws://x/ws', apiUrl: 'http://x', getToken: async () => 't' };",
          'new Townsquare({ ...base, WebSocket });',
          'new Townsquare({ ...base, WebSocket: WS });',
        ].join('\n'),
      );
      const program = ts.createProgram([file], {
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
        allowImportingTsExtensions: true,
        lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
        types: [],
        typeRoots: [resolve('node_modules/@types')],
        paths: { ws: [resolve('node_modules/@types/ws')] },
      });
      const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      expect(problems).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('has public types that match the protocol schemas', () => {
    type Wire = Extract<ServerFrame, { type: 'message' }>;
    expectTypeOf<Omit<Wire, 'type'>>().toEqualTypeOf<Sdk.Message>();
    expectTypeOf<Sdk.ChatMessage>().toEqualTypeOf<Http.ChatMessage>();
    expectTypeOf<Sdk.Room>().toEqualTypeOf<Http.Room>();
    expectTypeOf<Sdk.RoomSummary>().toEqualTypeOf<Http.RoomSummary>();
    expectTypeOf<Sdk.RoomsPage>().toEqualTypeOf<Http.RoomsPage>();
    expectTypeOf<Sdk.Membership>().toEqualTypeOf<Http.Membership>();
    expectTypeOf<Sdk.Notification>().toEqualTypeOf<Http.Notification>();
    expectTypeOf<Http.NotificationsPage>().toExtend<Sdk.NotificationsPage>();
  });
});
