/**
 * Redis payloads for the relay's envelope decoder: arbitrary text and JSON,
 * hostile fragments, and valid envelopes (message, signal, revoke, presence) with
 * mutated members, as recipes rendered to the published text.
 */
import fc from 'fast-check';
import { ENVELOPE_VERSION } from '../../../protocol/index.js';
import { fragmentArb, jsonFragmentArb, renderFragment, type Fragment } from './arbitraries.js';

/** A member's value: a JSON value, a hostile fragment, or removed. */
export type Member = { json: unknown } | { fragment: Fragment } | { removed: true };

export type Payload =
  | { p: 'text'; s: string }
  | { p: 'fragment'; x: Fragment }
  | { p: 'envelope'; kind: EnvelopeKind; members: Array<[string, Member]>; mutated: boolean };

type EnvelopeKind = 'message' | 'signal' | 'revoke' | 'presence';

/** Users named in revokes: never a watcher or bystander of the tests. */
const REVOKED_USERS = ['alice', 'fz4-nobody', 'x'];

const plainData = fc.jsonValue({ maxDepth: 3 });
/** Users named in forged presence events (never a watcher: their own join/leave would look forged). */
const PRESENCE_USERS = ['fz4-ghost', 'auth0|123', 'a.b@example.com'];

/** A valid envelope of each kind, as members in a plain object. */
function validMembers(channel: string): fc.Arbitrary<{ kind: EnvelopeKind; members: Array<[string, Member]> }> {
  const m = (v: unknown): Member => ({ json: v });
  return fc.oneof(
    fc
      .record({
        seq: fc.integer({ min: 1, max: 2 ** 31 }),
        id: fc.stringMatching(/^[A-Za-z0-9_-]{1,30}$/),
        event: fc.constantFrom('message.created', 'x', 'doc.update'),
        data: plainData,
        ts: fc.integer({ min: 0, max: 2 ** 42 }),
      })
      .map(({ seq, id, event, data, ts }) => ({
        kind: 'message' as const,
        members: [['v', m(ENVELOPE_VERSION)], ['kind', m('message')], ['channel', m(channel)], ['seq', m(seq)], ['id', m(id)], ['event', m(event)], ['data', m(data)], ['ts', m(ts)]] as Array<[string, Member]>,
      })),
    fc
      .record({ event: fc.constantFrom('typing', 'cursor'), userId: fc.constantFrom('fz4-sender', 'auth0|123'), data: plainData, origin: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }) })
      .map(({ event, userId, data, origin }) => ({
        kind: 'signal' as const,
        members: [
          ['v', m(ENVELOPE_VERSION)],
          ['kind', m('signal')],
          ['channel', m(channel)],
          ['event', m(event)],
          ['userId', m(userId)],
          ['data', m(data)],
          ...(origin === undefined ? [] : [['origin', m(origin)]]),
        ] as Array<[string, Member]>,
      })),
    fc.constantFrom(...REVOKED_USERS).map((userId) => ({
      kind: 'revoke' as const,
      members: [['v', m(ENVELOPE_VERSION)], ['kind', m('revoke')], ['channel', m(channel)], ['userId', m(userId)]] as Array<[string, Member]>,
    })),
    fc.record({ event: fc.constantFrom('join', 'leave', 'reset'), userId: fc.constantFrom(...PRESENCE_USERS) }).map(({ event, userId }) => ({
      kind: 'presence' as const,
      members: [['v', m(ENVELOPE_VERSION)], ['kind', m('presence')], ['channel', m(channel)], ['event', m(event)], ['userId', m(userId)]] as Array<[string, Member]>,
    })),
  );
}

/** A member value to swap in: wrong types, edge numbers, other channels and kinds, hostile fragments. */
const mutationArb: fc.Arbitrary<Member> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((json): Member => ({ json })) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom<unknown>(0, -1, 1.5, 2, 2 ** 53, -0, '', '1', 'message', 'signal', 'revoke', 'presence', 'join', 'leave', 'reset', 'room:other', null, [], {}, true, 'x'.repeat(65), 'x'.repeat(200))
      .map((json): Member => ({ json })),
  },
  { weight: 3, arbitrary: fragmentArb.map((fragment): Member => ({ fragment })) },
  { weight: 1, arbitrary: fc.constant<Member>({ removed: true }) },
);

const KEYS = ['v', 'kind', 'channel', 'seq', 'id', 'event', 'data', 'ts', 'userId', 'origin', '__proto__', 'extra'];

/** A valid envelope of any kind for `channel`, unmutated. */
export const validEnvelopeArb = (channel: string): fc.Arbitrary<Payload> =>
  validMembers(channel).map(({ kind, members }): Payload => ({ p: 'envelope', kind, members, mutated: false }));

/** Payloads for `channel`: a third valid envelopes (mostly mutated), the rest junk of every kind. */
export function payloadArb(channel: string): fc.Arbitrary<Payload> {
  const envelope = fc
    .tuple(validMembers(channel), fc.array(fc.tuple(fc.constantFrom(...KEYS), mutationArb), { maxLength: 3 }))
    .map(([valid, mutations]): Payload => {
      const members = valid.members.map(([k, v]): [string, Member] => [k, v]);
      for (const [key, value] of mutations) {
        const at = members.findIndex(([k]) => k === key);
        if (at >= 0) members[at] = [key, value];
        else members.push([key, value]);
      }
      return { p: 'envelope', kind: valid.kind, members, mutated: mutations.length > 0 };
    });
  // A valid message or signal whose `data` is deep, big or wide: what once killed every receiving relay.
  const hostileData = fc
    .tuple(validMembers(channel).filter((v) => v.kind === 'message' || v.kind === 'signal'), jsonFragmentArb)
    .map(([valid, fragment]): Payload => ({
      p: 'envelope',
      kind: valid.kind,
      members: valid.members.map(([k, v]): [string, Member] => [k, k === 'data' ? { fragment } : v]),
      mutated: true,
    }));
  return fc.oneof(
    { weight: 2, arbitrary: fc.record({ p: fc.constant('text' as const), s: fc.string({ unit: 'binary', maxLength: 300 }) }) },
    { weight: 2, arbitrary: fc.record({ p: fc.constant('fragment' as const), x: fragmentArb }) },
    { weight: 4, arbitrary: envelope },
    { weight: 2, arbitrary: hostileData },
  );
}

export function renderPayload(payload: Payload): string {
  switch (payload.p) {
    case 'text':
      return payload.s;
    case 'fragment':
      return renderFragment(payload.x);
    case 'envelope': {
      const parts: string[] = [];
      for (const [key, member] of payload.members) {
        if ('removed' in member) continue;
        parts.push(`${JSON.stringify(key)}:${'json' in member ? (JSON.stringify(member.json) ?? 'null') : renderFragment(member.fragment)}`);
      }
      return `{${parts.join(',')}}`;
    }
  }
}
