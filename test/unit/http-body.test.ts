/** parseBody: bytes that are not UTF-8 and escapes that are not Unicode are refused, never replaced. */
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../functions/domain/errors.js';
import { MAX_BODY_BYTES, parseBody, type HttpEvent } from '../../functions/lib/http.js';
import * as z from '../../protocol/zod.js';

const Body = z.object({ text: z.string() });
const event = (body: string | undefined, isBase64Encoded = false) => ({ body, isBase64Encoded }) as HttpEvent;
const base64 = (bytes: Buffer | string) => event(Buffer.from(bytes).toString('base64'), true);

function refusal(run: () => unknown): DomainError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(DomainError);
    return err as DomainError;
  }
  throw new Error('expected a refusal');
}

describe('parseBody', () => {
  it('decodes a base64 body of valid UTF-8, multi-byte characters intact', () => {
    expect(parseBody(base64('{"text":"héllo 👋 世界"}'), Body)).toEqual({ text: 'héllo 👋 世界' });
    expect(parseBody(event('{"text":"héllo"}'), Body)).toEqual({ text: 'héllo' });
  });

  it.each([
    ['0xff 0xfe', Buffer.from([0x7b, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
    ['a truncated sequence', Buffer.concat([Buffer.from('{"text":"'), Buffer.from([0xe4, 0xb8]), Buffer.from('"}')])],
    ['an overlong encoding of "/"', Buffer.concat([Buffer.from('{"text":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')])],
    ['an encoded surrogate (CESU-8)', Buffer.concat([Buffer.from('{"text":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')])],
  ])('refuses a base64 body that is not UTF-8: %s', (_label, bytes) => {
    const err = refusal(() => parseBody(base64(bytes), Body));
    expect(err.code).toBe('invalid_json');
    expect(err.message).toContain('UTF-8');
  });

  it('refuses an escaped unpaired surrogate in a value or a key, and accepts an escaped pair', () => {
    for (const raw of [String.raw`{"text":"a\ud800"}`, String.raw`{"text":"\uDC00"}`, String.raw`{"text":"x","\ud83d":1}`]) {
      const err = refusal(() => parseBody(event(raw), Body));
      expect(err.code).toBe('invalid_json');
      expect(err.message).toContain('surrogate');
    }
    expect(parseBody(event(String.raw`{"text":"\ud83d\ude00"}`), Body)).toEqual({ text: '😀' });
    // An escaped backslash followed by "ud800" is plain text.
    expect(parseBody(event(String.raw`{"text":"\\ud800"}`), Body)).toEqual({ text: '\\ud800' });
  });

  it('answers oversize bodies with 413 in either encoding, before decoding a huge base64 body', () => {
    const big = `{"text":"${'x'.repeat(MAX_BODY_BYTES)}"}`;
    expect(refusal(() => parseBody(event(big), Body)).code).toBe('payload_too_large');
    expect(refusal(() => parseBody(base64(big), Body)).code).toBe('payload_too_large');
    expect(refusal(() => parseBody(event('A'.repeat(10 * 1024 * 1024), true), Body)).code).toBe('payload_too_large');
  });

  it('still answers malformed JSON and wrong shapes as before', () => {
    expect(refusal(() => parseBody(event('{"text": '), Body)).code).toBe('invalid_json');
    expect(refusal(() => parseBody(event(undefined), Body)).code).toBe('invalid_json');
    expect(refusal(() => parseBody(event('{"text": 1}'), Body))).toMatchObject({ code: 'bad_request' });
  });
});
