/** The relay's pre-encoded text frames, decoded by ws's own frame parser. */
import * as ws from 'ws';
import { describe, expect, it } from 'vitest';
import { encodeTextFrame } from '../../socket-relay/wire.js';

type ReceiverCtor = new (options: { isServer: boolean }) => NodeJS.WritableStream & {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
};
// ws exports its frame parser at run time; its type definitions leave it out.
const { Receiver } = ws as unknown as { Receiver: ReceiverCtor };

function decode(wire: Buffer): Promise<{ text: string; isBinary: boolean }> {
  return new Promise((resolve) => {
    const receiver = new Receiver({ isServer: false });
    receiver.on('message', (data, isBinary) => resolve({ text: data.toString(), isBinary }));
    receiver.write(wire);
  });
}

describe('encodeTextFrame', () => {
  it.each([
    ['empty', ''],
    ['short', '{"type":"pong"}'],
    ['125 bytes (largest 7-bit length)', 'x'.repeat(125)],
    ['126 bytes (16-bit length)', 'x'.repeat(126)],
    ['multi-byte UTF-8', 'héllo → 世界 🎉'.repeat(300)],
    ['65,535 bytes (largest 16-bit length)', 'y'.repeat(65_535)],
    ['65,536 bytes (64-bit length)', 'z'.repeat(65_536)],
  ])('round-trips a %s payload through ws', async (_name, text) => {
    const wire = encodeTextFrame(text);
    expect(wire[0]).toBe(0x81); // FIN, text
    expect(wire[1]! & 0x80).toBe(0); // unmasked
    expect(await decode(wire)).toEqual({ text, isBinary: false });
  });
});
