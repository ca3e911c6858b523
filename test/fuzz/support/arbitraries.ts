/**
 * Hostile JSON for the fuzz targets, as small recipes rendered to text on use:
 * a value nested 10,000 deep is a `{ f: 'nest', depth: 10000 }` until it is
 * sent (built with `repeat`, never by recursion), so a failing input prints in
 * one line and the test process never walks it.
 */
import fc from 'fast-check';
import { type TokenFactory, type TokenRecipe, tokenArb } from './tokens.js';

/** A piece of JSON (or almost-JSON) text. */
export type Fragment =
  | { f: 'json'; v: unknown }
  | { f: 'nest'; shape: 'array' | 'object' | 'mixed'; depth: number; closed: boolean }
  | { f: 'string'; ch: string; n: number }
  | { f: 'keys'; n: number; dup: boolean }
  | { f: 'wide'; n: number }
  | { f: 'raw'; s: string };

/** Depths from trivial to far past any stack: most weight where relays used to die (3,000-8,000). */
export const depthArb = fc.oneof(
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 40, max: 3_000 }) },
  { weight: 3, arbitrary: fc.integer({ min: 3_000, max: 8_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 8_000, max: 10_000 }) },
);

/** Counts: mostly up to `usual`, sometimes up to `max` (which may pass the relay's frame size limit). */
const sizeArb = (usual: number, max: number) =>
  fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: usual }) }, { weight: 1, arbitrary: fc.integer({ min: usual, max }) });

/** Texts that are not quite JSON, or JSON that parsers disagree on. */
const rawArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constantFrom(
    '',
    ' ',
    '{',
    '[',
    '"',
    '{"type":',
    '{"type":"auth"',
    '{"type":"auth","token":"a"}x',
    '{"__proto__":{"type":"auth","token":"a"}}',
    '{"constructor":{"prototype":{"type":"ping"}}}',
    '{"type":"auth","token":"t","type":"ping"}',
    '{"type":"ping"}\u0000',
    '\uFEFF{"type":"ping"}',
    '1e999',
    '-0',
    '123456789012345678901234567890',
    'NaN',
    'Infinity',
    'undefined',
    '{"a":1e309}',
    '"\\ud800"',
    '"\\u0000"',
    '{"type":"\\u0070ing"}',
  ),
);

export const fragmentArb: fc.Arbitrary<Fragment> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ f: fc.constant('json' as const), v: fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' }) }) },
  {
    weight: 4,
    arbitrary: fc.record({ f: fc.constant('nest' as const), shape: fc.constantFrom('array' as const, 'object' as const, 'mixed' as const), depth: depthArb, closed: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ f: fc.constant('string' as const), ch: fc.constantFrom('x', 'é', '😀', '\u0000', '\\', '"', '\u202E'), n: sizeArb(2_000, 70_000) }),
  },
  { weight: 1, arbitrary: fc.record({ f: fc.constant('keys' as const), n: sizeArb(500, 8_000), dup: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ f: fc.constant('wide' as const), n: sizeArb(2_000, 20_000) }) },
  { weight: 2, arbitrary: fc.record({ f: fc.constant('raw' as const), s: rawArb }) },
);

/** A fragment that is valid JSON (for `data` that must reach a receiver); `closed` is forced. */
export const jsonFragmentArb: fc.Arbitrary<Fragment> = fragmentArb
  .filter((x) => x.f !== 'raw')
  .map((x) => (x.f === 'nest' ? { ...x, closed: true } : x));

export function renderFragment(x: Fragment): string {
  switch (x.f) {
    case 'json':
      return JSON.stringify(x.v) ?? 'null';
    case 'nest': {
      const [open, leaf, close] =
        x.shape === 'array' ? ['[', '', ']'] : x.shape === 'object' ? ['{"a":', 'null', '}'] : ['[{"a":', 'null', '}]'];
      const times = x.shape === 'mixed' ? Math.ceil(x.depth / 2) : x.depth;
      return open.repeat(times) + leaf + (x.closed ? close.repeat(times) : '');
    }
    case 'string':
      return JSON.stringify(x.ch.repeat(x.n));
    case 'keys': {
      const parts: string[] = [];
      for (let i = 0; i < x.n; i++) parts.push(`"${x.dup ? 'k' : `k${i}`}":${i}`);
      return `{${parts.join(',')}}`;
    }
    case 'wide':
      return `[${'0,'.repeat(x.n - 1)}0]`;
    case 'raw':
      return x.s;
  }
}

/** Who the frame is sent as, and the channels that mean something to them. */
export interface FrameContext {
  userId: string;
  /** Rooms the user belongs to. */
  rooms: readonly string[];
  /** A room the user does not belong to (the bystanders'). */
  foreignRoom: string;
  tokens: TokenFactory;
}

export type ChannelRecipe =
  | { c: 'own-user' }
  | { c: 'room'; i: number }
  | { c: 'foreign-room' }
  | { c: 'other-user'; id: string }
  | { c: 'named'; kind: string; id: string }
  | { c: 'text'; s: string };

export const channelArb: fc.Arbitrary<ChannelRecipe> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ c: 'own-user' as const }) },
  { weight: 4, arbitrary: fc.record({ c: fc.constant('room' as const), i: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.constant({ c: 'foreign-room' as const }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('other-user' as const), id: fc.constantFrom('alice', 'bystander-0', 'fz-admin') }) },
  {
    weight: 2,
    arbitrary: fc.record({
      c: fc.constant('named' as const),
      kind: fc.constantFrom('room', 'user', 'document', 'ROOM', 'room ', '', '__proto__', 'channel'),
      id: fc.oneof(fc.string({ unit: 'binary', maxLength: 150 }), fc.stringMatching(/^[A-Za-z0-9_-]{1,70}$/), fc.constantFrom('', '*', 'r_doesnotexist', '..', 'a:b')),
    }),
  },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('text' as const), s: fc.string({ unit: 'binary', maxLength: 200 }) }) },
);

export function renderChannel(x: ChannelRecipe, ctx: FrameContext): string {
  switch (x.c) {
    case 'own-user':
      return `user:${ctx.userId}`;
    case 'room':
      return ctx.rooms.length > 0 ? `room:${ctx.rooms[x.i % ctx.rooms.length]}` : `room:r_none`;
    case 'foreign-room':
      return `room:${ctx.foreignRoom}`;
    case 'other-user':
      return `user:${x.id}`;
    case 'named':
      return `${x.kind}:${x.id}`;
    case 'text':
      return x.s;
  }
}

/** One member of a frame object: a hostile fragment, or a value that means something in place. */
export type Field =
  | { v: 'fragment'; x: Fragment }
  | { v: 'channel'; x: ChannelRecipe }
  | { v: 'token'; x: TokenRecipe }
  | { v: 'literal'; x: unknown };

export type FrameRecipe = { k: 'object'; fields: Array<[string, Field]> } | { k: 'value'; x: Fragment };

const fragmentField = fragmentArb.map((x): Field => ({ v: 'fragment', x }));
const literal = <T>(arb: fc.Arbitrary<T>) => arb.map((x): Field => ({ v: 'literal', x }));
/** A member that is usually of the right kind, sometimes anything at all. */
const mostly = (arb: fc.Arbitrary<Field>) => fc.oneof({ weight: 5, arbitrary: arb }, { weight: 1, arbitrary: fragmentField });

export const eventArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('typing', 'cursor', 'cursor.move', 'awareness:update', 'x') },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,70}$/) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 100 }) },
);

export const refArb = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(-0, 2 ** 53, -(2 ** 60), 'x'.repeat(64), 'x'.repeat(65)),
);

/**
 * A client command: a known `type` (from the protocol's list, so new commands are
 * covered) or a near miss, with members of the right kinds mostly and junk sometimes.
 */
export function commandArb(types: readonly string[], users: readonly string[]): fc.Arbitrary<FrameRecipe> {
  const type = fc.oneof(
    { weight: 8, arbitrary: literal(fc.constantFrom(...types)) },
    { weight: 1, arbitrary: literal(fc.constantFrom('', 'AUTH', 'Ping', 'subscribe ', 'toString', '__proto__', 'constructor', 'message', 'welcome')) },
    { weight: 1, arbitrary: fragmentField },
  );
  /** Present with probability 1 - 1/freq (fast-check's `freq` is the odds of the nil value). */
  const optional = (arb: fc.Arbitrary<Field>, freq: number) => fc.option(arb, { nil: undefined, freq });
  return fc
    .record({
      type: fc.option(type, { nil: undefined, freq: 20 }),
      channel: optional(mostly(fc.oneof(channelArb.map((x): Field => ({ v: 'channel', x })), literal(fc.string({ maxLength: 20 })))), 6),
      event: optional(mostly(literal(eventArb)), 3),
      data: optional(fragmentField, 3),
      ref: optional(mostly(literal(refArb)), 2),
      token: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: mostly(tokenArb(users).map((x): Field => ({ v: 'token', x }))) }),
      extra: fc.array(fc.tuple(fc.string({ maxLength: 12 }), fragmentField), { maxLength: 2 }),
    })
    .map(({ extra, ...named }) => ({
      k: 'object' as const,
      fields: [...Object.entries(named).filter((e): e is [string, Field] => e[1] !== undefined), ...extra.map(([k, x]): [string, Field] => [k, x])],
    }));
}

/**
 * A well-formed command for the channels a session subscribed to, with at most one
 * member swapped for junk: reaches the relay's logic past the schema.
 */
export function nearValidCommandArb(types: readonly string[]): fc.Arbitrary<FrameRecipe> {
  const channel: fc.Arbitrary<Field> = fc.oneof(
    fc.constant<Field>({ v: 'channel', x: { c: 'own-user' } }),
    fc.constantFrom(0, 1).map((i): Field => ({ v: 'channel', x: { c: 'room', i } })),
  );
  return fc
    .record({
      type: literal(fc.constantFrom(...types, 'signal', 'signal', 'presence')),
      channel,
      event: literal(fc.constantFrom('typing', 'cursor', 'awareness:update')),
      data: fc.oneof(literal(fc.jsonValue({ maxDepth: 3 })), fragmentField),
      ref: literal(fc.string({ maxLength: 10 })),
      mutate: fc.option(fc.tuple(fc.constantFrom('type', 'channel', 'event', 'data', 'ref'), fragmentField), { nil: undefined }),
    })
    .map(({ mutate, ...named }) => {
      const fields = Object.entries(named) as Array<[string, Field]>;
      if (mutate) for (const f of fields) if (f[0] === mutate[0]) f[1] = mutate[1];
      return { k: 'object' as const, fields };
    });
}

/** Anything as a frame: a command (usually) or a bare fragment (a string, an array, deep junk). */
export function frameArb(types: readonly string[], users: readonly string[]): fc.Arbitrary<FrameRecipe> {
  return fc.oneof(
    { weight: 3, arbitrary: commandArb(types, users) },
    { weight: 2, arbitrary: nearValidCommandArb(types) },
    { weight: 1, arbitrary: fragmentArb.map((x): FrameRecipe => ({ k: 'value', x })) },
  );
}

export async function renderField(field: Field, ctx: FrameContext): Promise<string> {
  switch (field.v) {
    case 'fragment':
      return renderFragment(field.x);
    case 'channel':
      return JSON.stringify(renderChannel(field.x, ctx));
    case 'token':
      return JSON.stringify(await ctx.tokens.render(field.x));
    case 'literal':
      return JSON.stringify(field.x) ?? 'null';
  }
}

export async function renderFrame(frame: FrameRecipe, ctx: FrameContext): Promise<string> {
  if (frame.k === 'value') return renderFragment(frame.x);
  const members: string[] = [];
  for (const [key, field] of frame.fields) members.push(`${JSON.stringify(key)}:${await renderField(field, ctx)}`);
  return `{${members.join(',')}}`;
}

/** A short description of a recipe for failure messages. */
export function describe(value: unknown, max = 400): string {
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString('hex')}`;
    return typeof v === 'string' && v.length > 60 ? `${v.slice(0, 60)}…(${v.length})` : v;
  });
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
