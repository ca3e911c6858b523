/**
 * The memberships table holds two kinds of group: rooms, keyed by their room
 * id, and documents, whose collaborators are keyed by `#document:{docId}`.
 * Room ids are made of ID_PATTERN's characters, the lowest of which is `-`
 * (0x2D); `#` (0x23) sorts below it. So on the `byUser` index a user's rooms
 * are exactly the keys `>= "-"` and their documents the keys that begin with
 * `#document:`: each listing and each cap reads only its own kind, and the
 * relay's membership read (shared/membership-reader.ts) serves both.
 */

/** The group id under which a document's collaborators are stored. */
export const documentGroupId = (docId: string): string => `${DOCUMENT_GROUP_PREFIX}${docId}`;
export const DOCUMENT_GROUP_PREFIX = '#document:';
/** Every room id sorts at or above this; every document group id below it. */
export const ROOM_GROUP_FLOOR = '-';

/** The document id of a document group id, or null for a room id. */
export const docIdOfGroup = (groupId: string): string | null =>
  groupId.startsWith(DOCUMENT_GROUP_PREFIX) ? groupId.slice(DOCUMENT_GROUP_PREFIX.length) : null;
