/**
 * Names that people read (room names): normalized so that the same text is
 * stored the same way, and refused when they could mislead a reader or render
 * as nothing. Plain functions, no I/O; docs/http-api.md lists the same rules.
 *
 * - Unicode NFC, then leading and trailing white space trimmed
 *   (`String.prototype.trim`: Unicode White_Space plus U+FEFF).
 * - Refused anywhere in the name, also at its ends (before trimming): C0 and C1 control characters (U+0000–U+001F,
 *   U+007F–U+009F, so also line feeds and tabs) and the line and paragraph
 *   separators U+2028, U+2029; bidirectional formatting
 *   characters (embeddings and overrides U+202A–U+202E, isolates
 *   U+2066–U+2069, marks U+200E, U+200F, U+061C), which can make a name
 *   display in a misleading order; unpaired UTF-16 surrogates (not Unicode text).
 * - Refused when nothing visible is left: a name that is empty, or made only of
 *   white space, format characters (general category Cf, e.g. U+200B, U+2060,
 *   U+FEFF), default-ignorable code points (e.g. U+3164, U+115F, U+1160, U+FFA0,
 *   variation selectors) and U+2800 BRAILLE PATTERN BLANK.
 *   Such characters are kept inside a name that also has visible ones (emoji
 *   sequences need U+200D and U+FE0F; Persian needs U+200C).
 * - At most `maxLength` UTF-16 code units after normalization and trimming.
 */

export type NameCheck = { ok: true; value: string } | { ok: false; problem: string };

const CONTROL = /[\u0000-\u001F\u007F-\u009F\u2028\u2029]/u;
const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;
/** With the `u` flag a surrogate class matches only unpaired surrogates. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const NOTHING_VISIBLE = /^[\p{White_Space}\p{Cf}\p{Default_Ignorable_Code_Point}\u2800]*$/u;

/** `U+000A`: how a refused character is named in messages (never echoed raw). */
const codePoint = (match: RegExpExecArray) =>
  `U+${match[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/** Normalizes `raw` and checks it against the rules above; `problem` says what is wrong. */
export function checkDisplayName(raw: string, maxLength: number): NameCheck {
  const surrogate = LONE_SURROGATE.exec(raw);
  if (surrogate) return { ok: false, problem: `contains an unpaired surrogate (${codePoint(surrogate)}), which is not valid Unicode` };
  const normalized = raw.normalize('NFC');
  // Checked before trimming: a trailing line break is refused, not quietly dropped.
  const control = CONTROL.exec(normalized);
  if (control) {
    return { ok: false, problem: `contains a control character or line break (${codePoint(control)}); C0/C1 controls (including tabs and line feeds) and U+2028/U+2029 are not allowed` };
  }
  const bidi = BIDI.exec(normalized);
  if (bidi) {
    return {
      ok: false,
      problem: `contains a bidirectional formatting character (${codePoint(bidi)}), which can make it display in a misleading order`,
    };
  }
  const value = normalized.trim();
  if (NOTHING_VISIBLE.test(value)) return { ok: false, problem: 'is empty or has only white space or invisible characters' };
  if (value.length > maxLength) return { ok: false, problem: `is longer than ${maxLength} characters (UTF-16 code units, after normalization)` };
  return { ok: true, value };
}
