/**
 * Channel names: `room:{roomId}`, `user:{userId}`, `document:{docId}`.
 * The builders and the parser live here so that functions, relay and client
 * never disagree on the spelling.
 */

/** Ids we mint ourselves (rooms, documents): url-safe, bounded. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** User ids come from the identity provider's `sub`; allow the characters real IdPs use (`auth0|123`, emails). */
export const USER_ID_PATTERN = /^[A-Za-z0-9_|@.:+-]{1,128}$/;

export type ChannelKind = 'room' | 'user' | 'document';
export interface ParsedChannel {
  kind: ChannelKind;
  id: string;
}

export const roomChannel = (roomId: string): string => `room:${roomId}`;
export const userChannel = (userId: string): string => `user:${userId}`;
export const documentChannel = (docId: string): string => `document:${docId}`;

/** Longest channel name accepted anywhere (`user:` + a 128-char user id, with room to spare). */
export const MAX_CHANNEL_LENGTH = 140;

/** Parses a channel name; returns `null` for anything that is not a well-formed known channel. */
export function parseChannel(name: string): ParsedChannel | null {
  if (name.length > MAX_CHANNEL_LENGTH) return null;
  const colon = name.indexOf(':');
  if (colon < 0) return null;
  const kind = name.slice(0, colon);
  const id = name.slice(colon + 1);
  switch (kind) {
    case 'room':
    case 'document':
      return ID_PATTERN.test(id) ? { kind, id } : null;
    case 'user':
      return USER_ID_PATTERN.test(id) ? { kind, id } : null;
    default:
      return null;
  }
}
