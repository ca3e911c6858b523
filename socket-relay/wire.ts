/**
 * The wire encoding of a WebSocket text frame (RFC 6455 §5.2): FIN + opcode 1,
 * then the payload length in 7, 7+16 or 7+64 bits. Frames from a server are
 * never masked, so one encoding serves every socket a message goes to.
 */
export function encodeTextFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const wire = Buffer.allocUnsafe(headerLength + length);
  wire[0] = 0x81;
  if (length < 126) {
    wire[1] = length;
  } else if (length < 65_536) {
    wire[1] = 126;
    wire.writeUInt16BE(length, 2);
  } else {
    wire[1] = 127;
    wire.writeBigUInt64BE(BigInt(length), 2);
  }
  wire.write(text, headerLength, 'utf8');
  return wire;
}
