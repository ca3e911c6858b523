/**
 * Fuzz target 4a (pure): the relay's envelope decoder from protocol/. For any
 * payload it never throws, and returns null or an envelope that the schema
 * accepts and that serializes (the relay serializes what it accepts);
 * a valid envelope survives encode → decode unchanged.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, Envelope } from '../../protocol/index.js';
import { payloadArb, renderPayload, validEnvelopeArb } from './support/envelopes.js';
import { fuzzPlan } from './support/plan.js';

const CHANNEL = 'room:r_fuzz';
// Pure and fast: the CI share is larger than for the live targets.
const plan = fuzzPlan(0x5eed_0004, { ciInputs: 1000 });

describe('decodeEnvelope', () => {
  it(`returns null or a valid, serializable envelope for any payload (${plan.label})`, () => {
    const payload = fc.oneof(
      payloadArb(CHANNEL).map(renderPayload),
      fc.string({ unit: 'binary' }),
      fc.json({ maxDepth: 6 }),
    );
    fc.assert(
      fc.property(payload, (raw) => {
        const decoded = decodeEnvelope(raw); // throwing fails the property
        if (decoded === null) return;
        expect(Envelope.safeParse(decoded).success).toBe(true);
        expect(typeof encodeEnvelope(decoded)).toBe('string');
      }),
      plan.pure,
    );
  });

  it(`decodes every valid envelope it is given back unchanged (${plan.label})`, () => {
    const valid = validEnvelopeArb(CHANNEL);
    fc.assert(
      fc.property(valid, (payload) => {
        const raw = renderPayload(payload);
        const decoded = decodeEnvelope(raw);
        expect(decoded).not.toBeNull();
        expect(JSON.parse(encodeEnvelope(decoded!))).toEqual(JSON.parse(raw));
      }),
      plan.pure,
    );
  });
});
