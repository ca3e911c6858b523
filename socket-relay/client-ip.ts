/**
 * The client address a connection counts against. Behind proxies that append
 * to X-Forwarded-For (an ALB appends the address it saw; CloudFront appends
 * the viewer's), the client is the entry `hops` places from the right: what a
 * client writes in the header itself sits further left and is never trusted.
 */
import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';

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

/**
 * The key an address is counted under: an IPv4 address as is, an IPv6 address
 * by its /64 (one subscriber usually holds a whole /64, so counting each /128
 * would not cap anyone). IPv4-mapped IPv6 (`::ffff:a.b.c.d`) counts as IPv4.
 */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.split('%')[0]!.toLowerCase().split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = ip.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = ip.includes('::') ? [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups] : headGroups;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
