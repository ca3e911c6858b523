// Covers the shared protocol: channel parsing, envelope decoding, frames both ways, close-code ranges, no global side effects.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as zodMini from 'zod/mini';
import {
  checkJsonShape,
  CLIENT_FRAME_TYPES,
  CloseCode,
  decodeEnvelope,
  encodeEnvelope,
  ENVELOPE_VERSION,
  ErrorCode,
  MAX_CHANNEL_LENGTH,
  parseChannel,
  roomChannel,
  ServerFrame,
  shouldReconnect,
  userChannel,
  documentChannel,
} from '../../protocol/index.js';
import { parseClientFrame } from '../../socket-relay/commands.js';

describe('parseChannel', () => {
  it.each([
    ['room:r_abc-DEF_123', { kind: 'room', id: 'r_abc-DEF_123' }],
    ['document:doc1', { kind: 'document', id: 'doc1' }],
    ['user:alice', { kind: 'user', id: 'alice' }],
    ['user:auth0|123', { kind: 'user', id: 'auth0|123' }],
    ['user:alice@example.com', { kind: 'user', id: 'alice@example.com' }],
    [`room:${'a'.repeat(64)}`, { kind: 'room', id: 'a'.repeat(64) }],
    [`user:${'u'.repeat(128)}`, { kind: 'user', id: 'u'.repeat(128) }],
  ])('accepts %s', (name, expected) => {
    expect(parseChannel(name)).toEqual(expected);
  });

  it('round-trips the builders', () => {
    expect(parseChannel(roomChannel('r1'))).toEqual({ kind: 'room', id: 'r1' });
    expect(parseChannel(userChannel('u|1'))).toEqual({ kind: 'user', id: 'u|1' });
    expect(parseChannel(documentChannel('d1'))).toEqual({ kind: 'document', id: 'd1' });
  });

  it.each([
    ['missing colon', 'roomabc'],
    ['empty string', ''],
    ['empty id', 'room:'],
    ['unknown kind', 'team:abc'],
    ['kind is case sensitive', 'Room:abc'],
    ['empty kind', ':abc'],
    ['room id with a colon', 'room:a:b'],
    ['room id with a space', 'room:a b'],
    ['room id with a slash', 'room:a/b'],
    ['room id with a pipe (only user ids allow it)', 'room:auth0|1'],
    ['room id over 64 chars', `room:${'a'.repeat(65)}`],
    ['document id over 64 chars', `document:${'a'.repeat(65)}`],
    ['user id over 128 chars', `user:${'u'.repeat(129)}`],
    ['user id with a space', 'user:a b'],
    ['non-ascii id', 'room:café'],
    ['longer than MAX_CHANNEL_LENGTH', `user:${'u'.repeat(MAX_CHANNEL_LENGTH)}`],
  ])('rejects %s', (_what, name) => {
    expect(parseChannel(name)).toBeNull();
  });
});

describe('checkJsonShape', () => {
  const limits = { maxDepth: 3, maxElements: 5 };
  const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

  it('accepts text within both bounds, and counts members and items exactly', () => {
    expect(checkJsonShape('{"a":[1,2],"b":{"c":"d"}}', limits)).toBeNull(); // a, b, 1, 2, c: 5
    expect(checkJsonShape('{"a":[1,2],"b":{"c":"d","e":1}}', limits)).toEqual({ bound: 'elements', limit: 5 });
    expect(checkJsonShape('[[], {}, ""]', limits)).toBeNull();
    expect(checkJsonShape('"just a string"', limits)).toBeNull();
  });

  it('refuses nesting past the depth bound, however deep, without recursing', () => {
    expect(checkJsonShape(nested(3), limits)).toBeNull();
    expect(checkJsonShape(nested(4), limits)).toEqual({ bound: 'depth', limit: 3 });
    expect(checkJsonShape(nested(1_000_000), limits)).toEqual({ bound: 'depth', limit: 3 });
    expect(checkJsonShape(`{"a":{"b":{"c":{"d":1}}}}`, limits)).toEqual({ bound: 'depth', limit: 3 });
  });

  it('agrees with the parsed value on depth and member count, for any JSON (fast-check, seeded)', () => {
    /** Depth and members+items of a parsed value, the slow way. */
    const measure = (value: unknown, level = 0): { depth: number; elements: number } => {
      if (value === null || typeof value !== 'object') return { depth: level, elements: 0 };
      const children = Array.isArray(value) ? value : Object.values(value);
      let depth = level + 1;
      let elements = children.length;
      for (const child of children) {
        const m = measure(child, level + 1);
        depth = Math.max(depth, m.depth);
        elements += m.elements;
      }
      return { depth, elements };
    };
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.boolean(), (value, pretty) => {
        const text = JSON.stringify(value, null, pretty ? 2 : undefined);
        const { depth, elements } = measure(value);
        expect(checkJsonShape(text, { maxDepth: depth, maxElements: elements })).toBeNull();
        if (depth > 0) expect(checkJsonShape(text, { maxDepth: depth - 1, maxElements: elements })).toMatchObject({ bound: 'depth' });
        if (elements > 0) expect(checkJsonShape(text, { maxDepth: depth, maxElements: elements - 1 })).toMatchObject({ bound: 'elements' });
      }),
      { seed: 20261201, numRuns: 2000 },
    );
  });

  it('ignores brackets, braces and commas inside strings, including escaped quotes', () => {
    expect(checkJsonShape(JSON.stringify({ a: '[[[[[,,,,,,]]]]]{{{{' }), limits)).toBeNull();
    expect(checkJsonShape(JSON.stringify({ a: 'say \"[[[[[[\" ,,,,,,,' }), limits)).toBeNull();
  });
});

describe('decodeEnvelope', () => {
  const message = {
    v: ENVELOPE_VERSION,
    kind: 'message',
    channel: 'room:r1',
    seq: 3,
    id: 'm-3',
    event: 'message.created',
    data: { text: 'hi' },
    ts: 1_700_000_000_000,
  } as const;
  const signal = { v: 1, kind: 'signal', channel: 'room:r1', event: 'typing', userId: 'alice', data: null, origin: 'c1' } as const;
  const revoke = { v: 1, kind: 'revoke', channel: 'room:r1', userId: 'bob' } as const;

  it.each([
    ['message', message],
    ['signal', signal],
    ['signal without origin', { ...signal, origin: undefined }],
    ['revoke', revoke],
  ])('decodes a valid %s envelope', (_kind, envelope) => {
    const decoded = decodeEnvelope(JSON.stringify(envelope));
    expect(decoded).not.toBeNull();
    expect(decoded).toEqual(JSON.parse(JSON.stringify(envelope)));
  });

  it('decodes what encodeEnvelope produced', () => {
    expect(decodeEnvelope(encodeEnvelope(message))).toEqual(message);
  });

  it.each([
    ['invalid JSON', '{"v":1,'],
    ['empty string', ''],
    ['JSON null', 'null'],
    ['JSON number', '42'],
    ['JSON string', '"message"'],
    ['JSON array', '[]'],
    ['wrong version', JSON.stringify({ ...message, v: 2 })],
    ['version as string', JSON.stringify({ ...message, v: '1' })],
    ['unknown kind', JSON.stringify({ ...message, kind: 'presence' })],
    ['missing kind', JSON.stringify({ ...message, kind: undefined })],
    ['message without seq', JSON.stringify({ ...message, seq: undefined })],
    ['message with seq 0', JSON.stringify({ ...message, seq: 0 })],
    ['message with fractional seq', JSON.stringify({ ...message, seq: 1.5 })],
    ['message without id', JSON.stringify({ ...message, id: undefined })],
    ['message with empty id', JSON.stringify({ ...message, id: '' })],
    ['message without ts', JSON.stringify({ ...message, ts: undefined })],
    ['message with an event over 64 chars', JSON.stringify({ ...message, event: 'e'.repeat(65) })],
    ['missing channel', JSON.stringify({ ...message, channel: undefined })],
    ['empty channel', JSON.stringify({ ...message, channel: '' })],
    ['channel too long', JSON.stringify({ ...message, channel: 'c'.repeat(MAX_CHANNEL_LENGTH + 1) })],
    ['signal without userId', JSON.stringify({ ...signal, userId: undefined })],
    ['signal without event', JSON.stringify({ ...signal, event: undefined })],
    ['revoke without userId', JSON.stringify({ ...revoke, userId: undefined })],
  ])('returns null (never throws) for %s', (_what, raw) => {
    expect(() => decodeEnvelope(raw)).not.toThrow();
    expect(decodeEnvelope(raw)).toBeNull();
  });
});

describe('parseClientFrame', () => {
  it.each([
    [{ type: 'auth', token: 't' }],
    [{ type: 'refresh', token: 't', ref: 'r1' }],
    [{ type: 'subscribe', channel: 'room:r1', ref: 'a' }],
    [{ type: 'unsubscribe', channel: 'room:r1', ref: 7 }],
    [{ type: 'signal', channel: 'room:r1', event: 'typing', data: { x: 1 } }],
    [{ type: 'presence', channel: 'room:r1' }],
    [{ type: 'ping' }],
  ])('accepts %j', (frame) => {
    expect(parseClientFrame(JSON.stringify(frame))).toEqual({ ok: true, frame });
  });

  it('knows every client frame type', () => {
    expect([...CLIENT_FRAME_TYPES].sort()).toEqual(['auth', 'ping', 'presence', 'refresh', 'signal', 'subscribe', 'unsubscribe']);
  });

  it.each(['{not json', '', '{"type":"ping"'])('reports invalid_json for %j', (raw) => {
    expect(parseClientFrame(raw)).toMatchObject({ ok: false, code: ErrorCode.InvalidJson, ref: undefined });
  });

  it('reports unknown_type and echoes the ref', () => {
    const result = parseClientFrame(JSON.stringify({ type: 'publish', channel: 'room:r1', ref: 'r-42' }));
    expect(result).toMatchObject({ ok: false, code: ErrorCode.UnknownType, ref: 'r-42' });
    if (result.ok) throw new Error('unreachable');
    // Errors describe; they do not repeat what the client sent.
    expect(result.message).not.toContain('publish');
    expect(result.message).toContain('subscribe');
  });

  it.each([
    ['no type', { ref: 1 }, 1],
    ['numeric type', { type: 5, ref: 'x' }, 'x'],
    ['JSON array', [1, 2], undefined],
    ['JSON null', null, undefined],
  ])('reports unknown_type for %s', (_what, value, ref) => {
    expect(parseClientFrame(JSON.stringify(value))).toMatchObject({ ok: false, code: ErrorCode.UnknownType, ref });
  });

  it('truncates an echoed string ref to 64 characters', () => {
    const result = parseClientFrame(JSON.stringify({ type: 'nope', ref: 'r'.repeat(100) }));
    expect(result).toMatchObject({ ok: false, ref: 'r'.repeat(64) });
  });

  it('reports bad_request with the field path and echoes the ref', () => {
    const result = parseClientFrame(JSON.stringify({ type: 'subscribe', ref: 9 }));
    expect(result).toMatchObject({ ok: false, code: ErrorCode.BadRequest, ref: 9 });
    if (result.ok) throw new Error('unreachable');
    expect(result.message).toMatch(/^Invalid subscribe frame: channel: /);
    // Readable without zod's global config: the English messages are passed per parse.
    expect(result.message).toContain('expected string');
  });

  it('bounds the refresh token like the auth token', () => {
    expect(parseClientFrame(JSON.stringify({ type: 'refresh', token: 't'.repeat(8193), ref: 2 }))).toMatchObject({ ok: false, code: ErrorCode.BadRequest, ref: 2 });
    expect(parseClientFrame(JSON.stringify({ type: 'refresh', token: '' }))).toMatchObject({ ok: false, code: ErrorCode.BadRequest });
  });

  it('names every failing field in bad_request', () => {
    const result = parseClientFrame(JSON.stringify({ type: 'signal', channel: '', event: 'e'.repeat(65), ref: 'a' }));
    expect(result).toMatchObject({ ok: false, code: ErrorCode.BadRequest, ref: 'a' });
    if (result.ok) throw new Error('unreachable');
    expect(result.message).toContain('channel: ');
    expect(result.message).toContain('event: ');
  });

  it('rejects a channel longer than the protocol maximum', () => {
    const result = parseClientFrame(JSON.stringify({ type: 'subscribe', channel: `room:${'a'.repeat(MAX_CHANNEL_LENGTH)}` }));
    expect(result).toMatchObject({ ok: false, code: ErrorCode.BadRequest });
  });
});

describe('parseClientFrame bounds', () => {
  const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

  it('refuses a frame nested past the bound before parsing it, without repeating it', () => {
    const result = parseClientFrame(`{"type":${nested(5000)}}`);
    expect(result).toEqual({ ok: false, ref: undefined, code: ErrorCode.FrameTooComplex, message: 'Frame nests deeper than 16 levels' });
    expect(parseClientFrame(`{"type":"signal","channel":"user:a","event":"e","data":${nested(15)}}`).ok).toBe(true);
    expect(parseClientFrame(`{"type":"signal","channel":"user:a","event":"e","data":${nested(16)}}`)).toMatchObject({ code: ErrorCode.FrameTooComplex });
  });

  it('refuses a frame with more than 1,000 members and items', () => {
    const data = JSON.stringify(Array.from({ length: 1000 }, (_, i) => i));
    expect(parseClientFrame(`{"type":"signal","channel":"user:a","event":"e","data":${data}}`)).toMatchObject({ code: ErrorCode.FrameTooComplex });
    const fits = JSON.stringify(Array.from({ length: 990 }, (_, i) => i));
    expect(parseClientFrame(`{"type":"signal","channel":"user:a","event":"e","data":${fits}}`).ok).toBe(true);
  });

  it.each(['', 'has space', 'a'.repeat(65), 'new\nline', 'émoji', '<script>'])('refuses the event name %j', (event) => {
    expect(parseClientFrame(JSON.stringify({ type: 'signal', channel: 'user:a', event }))).toMatchObject({ ok: false, code: ErrorCode.BadRequest });
  });

  it('keeps error messages short whatever the frame holds', () => {
    const result = parseClientFrame(JSON.stringify({ type: 'subscribe', channel: 'x'.repeat(60_000), ref: 'y'.repeat(5000) }));
    expect(result.ok).toBe(false);
    if (result.ok) throw new Error('unreachable');
    expect(result.message.length).toBeLessThanOrEqual(240);
    expect(String(result.ref).length).toBeLessThanOrEqual(64);
  });
});

describe('decodeEnvelope bounds', () => {
  it('drops an envelope nested deeper than 32 levels or larger than 1 MB, without throwing', () => {
    const deep = `{"v":1,"kind":"signal","channel":"room:r1","event":"e","userId":"u","data":${'['.repeat(40_000)}${']'.repeat(40_000)}}`;
    expect(decodeEnvelope(deep)).toBeNull();
    const big = JSON.stringify({ v: 1, kind: 'signal', channel: 'room:r1', event: 'e', userId: 'u', data: 'x'.repeat(1024 * 1024) });
    expect(decodeEnvelope(big)).toBeNull();
    const fine = JSON.stringify({ v: 1, kind: 'signal', channel: 'room:r1', event: 'e', userId: 'u', data: JSON.parse('['.repeat(20) + ']'.repeat(20)) });
    expect(decodeEnvelope(fine)).not.toBeNull();
  });
});

describe('shouldReconnect', () => {
  it.each([
    // Standard codes reconnect, except those that say the client broke the protocol.
    [CloseCode.Normal, true],
    [1006, true],
    [CloseCode.InternalError, true],
    [CloseCode.RelayRestarting, true],
    [CloseCode.TryAgainLater, true],
    [1002, false],
    [1003, false],
    [1007, false],
    [1008, false],
    // A frame too large would only be sent again.
    [CloseCode.FrameTooLarge, false],
    // Centrifugo's ranges: 3000–3499 and 4000–4499 reconnect, 3500–3999 and 4500–4999 do not.
    [CloseCode.TokenExpired, true],
    [CloseCode.TooSlow, true],
    [CloseCode.AuthTimeout, true],
    [CloseCode.TooManyConnections, true],
    [3000, true],
    [3499, true],
    [4000, true],
    [4499, true],
    [CloseCode.Unauthorized, false],
    [CloseCode.PolicyViolation, false],
    [3500, false],
    [3999, false],
    [4500, false],
    [4999, false],
  ])('close code %i → %s', (code, expected) => {
    expect(shouldReconnect(code)).toBe(expected);
  });

  it('puts every relay close code in the range its meaning needs', () => {
    const reconnect = [
      CloseCode.InternalError,
      CloseCode.RelayRestarting,
      CloseCode.TryAgainLater,
      CloseCode.AuthTimeout,
      CloseCode.TokenExpired,
      CloseCode.TooSlow,
      CloseCode.TooManyConnections,
    ];
    const terminal = [CloseCode.FrameTooLarge, CloseCode.Unauthorized, CloseCode.PolicyViolation];
    expect(reconnect.map(shouldReconnect)).toEqual(reconnect.map(() => true));
    expect(terminal.map(shouldReconnect)).toEqual(terminal.map(() => false));
    expect(new Set(Object.values(CloseCode)).size).toBe(Object.values(CloseCode).length);
  });
});

describe('ServerFrame', () => {
  it.each([
    [{ type: 'welcome', connectionId: 'c.1', userId: 'alice', expiresAt: 1_796_054_400_000, ref: 1 }],
    [{ type: 'refreshed', expiresAt: 1_796_054_400_000, ref: 'r' }],
    [{ type: 'subscribed', channel: 'room:r1' }],
    [{ type: 'unsubscribed', channel: 'room:r1', reason: 'access_revoked' }],
    [{ type: 'message', channel: 'room:r1', seq: 7, id: 'm', event: 'message.created', data: { text: 'hi' }, ts: 1 }],
    [{ type: 'signal', channel: 'room:r1', event: 'typing', userId: 'bob', data: null }],
    [{ type: 'presence', channel: 'room:r1', members: [{ userId: 'bob', connections: 2 }], ref: 3 }],
    [{ type: 'resync', channel: 'room:r1' }],
    [{ type: 'pong' }],
    [{ type: 'error', ref: 'x', code: 'forbidden', message: 'no' }],
  ])('accepts %j', (frame) => {
    expect(ServerFrame.parse(frame)).toEqual(frame);
  });

  it('refuses error codes outside ErrorCode and unknown frame types', () => {
    expect(ServerFrame.safeParse({ type: 'error', code: 'teapot', message: 'no' }).success).toBe(false);
    expect(ServerFrame.safeParse({ type: 'refreshed' }).success).toBe(false);
    expect(ServerFrame.safeParse({ type: 'hello' }).success).toBe(false);
  });
});

describe('importing protocol/', () => {
  it("leaves zod's global configuration untouched", async () => {
    // This file imported protocol/ (and the relay's parser) at the top; a fresh import must not change it either.
    expect(zodMini.config()).toEqual({});
    // A query string makes the module loader evaluate the files again.
    const fresh = (path: string) => import(`${path}?fresh=${Date.now()}`);
    await fresh('../../protocol/zod.js');
    await fresh('../../protocol/index.js');
    expect(zodMini.config()).toEqual({});
    expect(zodMini.string().safeParse(1).error?.issues[0]?.message).toBe('Invalid input');
  });
});
