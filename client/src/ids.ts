/** `clientMessageId`s: random, url-safe, within the API's 1–64 of `A–Z a–z 0–9 _ -`. */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

export function newClientMessageId(): string {
  const bytes = new Uint8Array(21);
  const crypto = (globalThis as { crypto?: { getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto;
  if (crypto?.getRandomValues) crypto.getRandomValues(bytes);
  // React Native without a crypto polyfill: weaker, but 126 bits of Math.random still do not collide in practice.
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  let id = 'c';
  for (const b of bytes) id += ALPHABET[b & 63];
  return id;
}
