/**
 * The project's one zod entry point: import it as `import * as z from
 * '…/protocol/zod.js'`. `zod/mini` keeps each Lambda bundle small (about
 * 20 KB, against about 450 KB for classic `zod`), and re-exporting with
 * `export *` keeps it tree-shakable.
 *
 * Importing protocol/ changes nothing global (an SDK's host app may configure
 * zod its own way): where issue messages reach a person, pass
 * `READABLE_ERRORS` to that one parse, `schema.safeParse(value, READABLE_ERRORS)`.
 */
import type { ParseContext, $ZodIssue } from 'zod/v4/core';
import en from 'zod/v4/locales/en.js';

export * from 'zod/mini';

/**
 * Parse options giving issues zod's English messages ("Too big: expected string to have <=64 characters").
 * Built at import like any constant, but marked pure: a bundle that never uses it (the client SDK)
 * leaves the English locale out (about 1 KB gzipped).
 */
export const READABLE_ERRORS: ParseContext<$ZodIssue> = /* @__PURE__ */ readableErrors();

function readableErrors(): ParseContext<$ZodIssue> {
  return { error: en().localeError };
}
