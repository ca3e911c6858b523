/**
 * Bounds on the shape of JSON text, checked on the raw string before it is
 * parsed. `JSON.stringify` and most code that walks a value recurse once per
 * level, so a value nested a few thousand deep overflows the stack wherever
 * it is next serialized; refusing it up front means no such value ever exists
 * in the relay. One pass over the characters, no allocation.
 */

export interface JsonShapeLimits {
  /** Deepest nesting of objects and arrays; the outermost container is level 1. */
  maxDepth: number;
  /** Most object members plus array items, counted over the whole text. */
  maxElements: number;
}

export type JsonShapeProblem = { bound: 'depth'; limit: number } | { bound: 'elements'; limit: number };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/**
 * Returns the first bound `text` exceeds, or null. Text that is not JSON is
 * not judged here (JSON.parse refuses it next); the count is exact for text
 * that is.
 */
export function checkJsonShape(text: string, limits: JsonShapeLimits): JsonShapeProblem | null {
  let depth = 0;
  let elements = 0;
  /** Whether the innermost open container has anything in it yet (an empty one counts no element). */
  let pendingFirst = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x20 || c === COLON) continue;
    // The first member or item of a container begins here (later ones follow a comma).
    if (pendingFirst && c !== CLOSE_BRACE && c !== CLOSE_BRACKET) {
      pendingFirst = false;
      if (++elements > limits.maxElements) return { bound: 'elements', limit: limits.maxElements };
    }
    switch (c) {
      case QUOTE:
        i = stringEnd(text, i);
        break;
      case OPEN_BRACE:
      case OPEN_BRACKET:
        if (++depth > limits.maxDepth) return { bound: 'depth', limit: limits.maxDepth };
        pendingFirst = true;
        break;
      case CLOSE_BRACE:
      case CLOSE_BRACKET:
        depth--;
        pendingFirst = false;
        break;
      case COMMA:
        if (++elements > limits.maxElements) return { bound: 'elements', limit: limits.maxElements };
        break;
    }
  }
  return null;
}

/**
 * The index of the quote closing the string that opens at `start` (or the end
 * of the text). Strings are most of a typical payload: indexOf skips them natively.
 */
function stringEnd(text: string, start: number): number {
  let quote = start;
  for (;;) {
    quote = text.indexOf('"', quote + 1);
    if (quote < 0) return text.length;
    // Escaped when preceded by an odd number of backslashes.
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
  }
}

/** Describes a problem without repeating any of the text. */
export function describeJsonShapeProblem(problem: JsonShapeProblem, what: string): string {
  return problem.bound === 'depth'
    ? `${what} nests deeper than ${problem.limit} levels`
    : `${what} has more than ${problem.limit} members and items`;
}
