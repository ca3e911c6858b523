/**
 * How every Lambda handler is bundled, as plain data: the CDK functions and
 * scripts/bundle-size.ts both read it, so the size report measures exactly
 * what gets deployed.
 */

/** The Lambda runtime's Node.js major; keep in step with `Runtime.NODEJS_22_X`. */
export const LAMBDA_NODE_TARGET = 'node22';

/**
 * The runtime ships AWS SDK v3, so bundling it would only add size and cold
 * start time.
 */
export const LAMBDA_EXTERNAL_MODULES = ['@aws-sdk/*'];

/**
 * ESM output has no `require`; CommonJS dependencies bundled into it (ioredis
 * and friends) still call it for Node built-ins, so give them one.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __townsquareCreateRequire } from 'node:module'; const require = __townsquareCreateRequire(import.meta.url);";

/** Prefer packages' ESM builds so tree shaking works. */
export const LAMBDA_MAIN_FIELDS = ['module', 'main'];

/** Which Redis client a publishing function talks through. */
export type PublisherDriver = 'redis' | 'upstash';

/**
 * Fixes the publisher at build time (functions/lib/publisher.ts reads
 * `process.env.TOWNSQUARE_PUBLISHER`), so esbuild drops the unused client:
 * ioredis is about 150 KB minified, @upstash/redis about 80 KB.
 */
export const publisherDefine = (driver: PublisherDriver): Record<string, string> => ({
  'process.env.TOWNSQUARE_PUBLISHER': JSON.stringify(driver),
});
