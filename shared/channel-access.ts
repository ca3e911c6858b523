/**
 * Who may read a channel (subscribe to it on a relay, read its history from
 * the HTTP API): one policy per channel kind, used by the relay and the
 * functions alike, so the two can never disagree.
 *
 * A policy is `(userId, channel, readers) => decision`. Readers are the
 * lookups a policy may make; each caller passes what it has (the relay a
 * memberships reader, the functions their room store, which can also tell an
 * unknown room from one the caller is not in).
 */
import { ErrorCode, parseChannel, type ChannelKind, type ParsedChannel } from '../protocol/index.js';
import { documentGroupId } from './member-groups.js';
import type { MembershipReader } from './membership-reader.js';

export interface AccessReaders {
  memberships: MembershipReader;
  /** When given, a refusal of an unknown room says `not_found` instead of `forbidden`. */
  rooms?: { getRoom(roomId: string): Promise<object | null> };
  /** The same for an unknown document. */
  documents?: { getDocument(docId: string): Promise<object | null> };
}

export type AccessRefusalCode = typeof ErrorCode.InvalidChannel | typeof ErrorCode.Forbidden | typeof ErrorCode.NotFound;
export type AccessDecision = { allowed: true } | { allowed: false; code: AccessRefusalCode; message: string };

export type ChannelPolicy = (userId: string, channel: ParsedChannel, readers: AccessReaders) => Promise<AccessDecision>;

const ALLOWED: AccessDecision = { allowed: true };
const refuse = (code: AccessRefusalCode, message: string): AccessDecision => ({ allowed: false, code, message });

/** `room:{roomId}`: the room's members. */
export const roomMembers: ChannelPolicy = async (userId, { id }, readers) => {
  if (await readers.memberships.getMembership(id, userId)) return ALLOWED;
  // Only a refusal pays for telling "no such room" from "not yours".
  if (readers.rooms && !(await readers.rooms.getRoom(id))) return refuse(ErrorCode.NotFound, `Room ${id} does not exist`);
  return refuse(ErrorCode.Forbidden, `You are not a member of room ${id}`);
};

/** `user:{userId}`: that user only. */
export const ownUser: ChannelPolicy = async (userId, { id }) =>
  id === userId ? ALLOWED : refuse(ErrorCode.Forbidden, 'A user channel is open to its own user only');

/**
 * `document:{docId}`: the document's collaborators, whatever their role. They
 * are memberships under the document's group id (shared/member-groups.ts), so
 * the relay's one membership reader serves rooms and documents alike.
 */
export const documentCollaborators: ChannelPolicy = async (userId, { id }, readers) => {
  if (await readers.memberships.getMembership(documentGroupId(id), userId)) return ALLOWED;
  if (readers.documents && !(await readers.documents.getDocument(id))) return refuse(ErrorCode.NotFound, `Document ${id} does not exist`);
  return refuse(ErrorCode.Forbidden, `You are not a collaborator on document ${id}`);
};

/** The registry: exactly one policy per channel kind (the type makes a new kind add one). */
export const channelPolicies: Readonly<Record<ChannelKind, ChannelPolicy>> = {
  room: roomMembers,
  user: ownUser,
  document: documentCollaborators,
};

/** Decides for a parsed channel. */
export function decideAccess(userId: string, channel: ParsedChannel, readers: AccessReaders): Promise<AccessDecision> {
  return channelPolicies[channel.kind](userId, channel, readers);
}

/** What the relay holds: access checks by channel name, over its readers. */
export interface ChannelAccess {
  check(userId: string, channel: string): Promise<AccessDecision>;
}

export function channelAccess(readers: AccessReaders): ChannelAccess {
  return {
    async check(userId, channel) {
      const parsed = parseChannel(channel);
      if (!parsed) {
        return refuse(
          ErrorCode.InvalidChannel,
          `Unknown or malformed channel "${channel.slice(0, 80)}"; expected room:{roomId}, user:{userId} or document:{docId}`,
        );
      }
      return decideAccess(userId, parsed, readers);
    },
  };
}
