/** Room names: the normalization and refusals that docs/http-api.md lists. */
import { describe, expect, it } from 'vitest';
import { checkDisplayName } from '../../functions/domain/display-name.js';
import { DomainError } from '../../functions/domain/errors.js';
import { roomName } from '../../functions/domain/rooms.js';

const check = (raw: string) => checkDisplayName(raw, 100);
const problemOf = (raw: string) => {
  const result = check(raw);
  if (result.ok) throw new Error(`expected ${JSON.stringify(raw)} to be refused`);
  return result.problem;
};

describe('checkDisplayName', () => {
  it('normalizes to NFC and trims white space at the ends', () => {
    // "é" as e + COMBINING ACUTE ACCENT becomes the one precomposed code point.
    expect(check('  Cafe\u0301 crew \u3000')).toEqual({ ok: true, value: 'Caf\u00e9 crew' });
    expect(check('\uFEFFgeneral')).toEqual({ ok: true, value: 'general' });
    // Inner spaces and ordinary punctuation stay as they are.
    expect(check('a  b – c')).toEqual({ ok: true, value: 'a  b – c' });
  });

  it('keeps joiners and variation selectors inside a visible name (emoji, Persian)', () => {
    const family = '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}';
    expect(check(`${family} home \u2764\uFE0F`)).toEqual({ ok: true, value: `${family} home \u2764\uFE0F` });
    expect(check('\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645')).toMatchObject({ ok: true });
  });

  it.each([
    ['line feed', 'general\nchat', 'U+000A'],
    ['trailing line feed (not trimmed away)', 'general\n', 'U+000A'],
    ['tab', '\tgeneral', 'U+0009'],
    ['NUL', 'gen\u0000eral', 'U+0000'],
    ['DEL', 'gen\u007Feral', 'U+007F'],
    ['C1 control', 'gen\u0085eral', 'U+0085'],
    ['C1 control CSI', 'gen\u009Beral', 'U+009B'],
    ['line separator', 'gen\u2028eral', 'U+2028'],
    ['paragraph separator', 'gen\u2029eral', 'U+2029'],
  ])('refuses a control character or line break: %s', (_label, raw, named) => {
    const problem = problemOf(raw);
    expect(problem).toContain('control character');
    expect(problem).toContain(named);
  });

  it.each([
    ['RIGHT-TO-LEFT OVERRIDE', 'invoice\u202Efdp.exe', 'U+202E'],
    ['LEFT-TO-RIGHT EMBEDDING', '\u202Aabc', 'U+202A'],
    ['POP DIRECTIONAL FORMATTING', 'abc\u202C', 'U+202C'],
    ['LEFT-TO-RIGHT ISOLATE', 'a\u2066b', 'U+2066'],
    ['POP DIRECTIONAL ISOLATE', 'a\u2069b', 'U+2069'],
    ['LEFT-TO-RIGHT MARK', 'a\u200Eb', 'U+200E'],
    ['RIGHT-TO-LEFT MARK', 'a\u200Fb', 'U+200F'],
    ['ARABIC LETTER MARK', 'a\u061Cb', 'U+061C'],
  ])('refuses a bidirectional formatting character: %s', (_label, raw, named) => {
    const problem = problemOf(raw);
    expect(problem).toContain('bidirectional');
    expect(problem).toContain(named);
  });

  it.each([
    ['empty', ''],
    ['spaces', '   '],
    ['ideographic space', '\u3000'],
    ['no-break space', '\u00A0\u00A0'],
    ['zero width space', '\u200B'],
    ['word joiner', '\u2060\u2060'],
    ['zero width no-break space (BOM)', '\uFEFF'],
    ['soft hyphen', '\u00AD'],
    ['zero width joiner and non-joiner', '\u200D\u200C'],
    ['Hangul filler', '\u3164'],
    ['Hangul choseong and jungseong fillers', '\u115F\u1160'],
    ['halfwidth Hangul filler', '\uFFA0'],
    ['combining grapheme joiner', '\u034F'],
    ['variation selector', '\uFE0F'],
    ['tag characters', '\u{E0041}\u{E0042}'],
    ['braille pattern blank', '\u2800\u2800'],
    ['mixed invisibles between spaces', ' \u200B \u3164 \u2060 '],
  ])('refuses a name with nothing visible: %s', (_label, raw) => {
    expect(problemOf(raw)).toBe('is empty or has only white space or invisible characters');
  });

  it('refuses an unpaired surrogate but accepts a paired one', () => {
    expect(problemOf('abc\uD800')).toContain('U+D800');
    expect(problemOf('\uDC00abc')).toContain('U+DC00');
    expect(check('\u{1F600}')).toEqual({ ok: true, value: '\u{1F600}' });
  });

  it('bounds the length after normalization and trimming', () => {
    expect(check(`  ${'x'.repeat(100)}  `)).toMatchObject({ ok: true });
    expect(problemOf('x'.repeat(101))).toContain('longer than 100');
    // 100 decomposed "é" (200 code units) compose to 100: accepted.
    expect(check('e\u0301'.repeat(100))).toEqual({ ok: true, value: '\u00e9'.repeat(100) });
  });
});

describe('roomName', () => {
  it('returns the normalized name or throws bad_request naming the field and the problem', () => {
    expect(roomName(' Cafe\u0301 ')).toBe('Caf\u00e9');
    const err = (() => {
      try {
        roomName('a\u202Eb');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ code: 'bad_request' });
    expect((err as Error).message).toMatch(/^body\.name: the room name contains a bidirectional formatting character \(U\+202E\)/);
  });
});
