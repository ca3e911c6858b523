/**
 * The project's one zod entry point: import it as `import * as z from
 * '…/protocol/zod.js'`. `zod/mini` keeps each Lambda bundle small (about
 * 20 KB, against about 450 KB for classic `zod`), and re-exporting with
 * `export *` keeps it tree-shakable; the English locale gives issues readable
 * messages.
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';
