/**
 * The client address a connection counts against. Behind proxies that append
 * to X-Forwarded-For (an ALB appends the address it saw; CloudFront appends
 * the viewer's), the client is the entry `hops` places from the right: what a
 * client writes in the header itself sits further left and is never trusted.
 */
import type { IncomingMessage } from 'node:http';

/** Longest address kept (IPv6 with a zone fits); anything longer is not an address. */
const MAX_ADDRESS_LENGTH = 64;

export function clientIp(req: IncomingMessage, trustProxyHops: number): string {
  const peer = req.socket.remoteAddress ?? '';
  if (trustProxyHops === 0) return peer;
  const header = req.headers['x-forwarded-for'];
  const value = Array.isArray(header) ? header.join(',') : header;
  if (!value) return peer;
  const entries = value.split(',');
  const entry = entries[entries.length - trustProxyHops]?.trim();
  return entry && entry.length <= MAX_ADDRESS_LENGTH ? entry : peer;
}
