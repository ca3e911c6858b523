/**
 * Membership of a group — a room's members, a document's collaborators — with
 * owner / admin / member roles: who may add, remove and change whom (the rules
 * are roles.ts's), stored first, then a revoke published on the group's channel
 * so every relay drops a removed user's live subscriptions at once. Rooms
 * (rooms.ts) and documents (documents.ts) say only how their kind is named,
 * found and capped; the memberships table holds both (shared/member-groups.ts).
 */
import { encodeEnvelope, ENVELOPE_VERSION } from '../../protocol/index.js';
import { withTimeout } from '../../shared/with-timeout.js';
import { conflict, forbidden, notFound } from './errors.js';
import type { Membership, Publisher, Role, RoomStore } from './ports.js';
import { addRefusal, removeDecision, roleChange, roleOf, type AddableRole, type GroupNoun } from './roles.js';

/**
 * Revoke publishing: attempts, each bounded, with a pause between. The worst
 * case (3 × 1 s + 0.1 s + 0.3 s = 3.4 s) stays well inside the function's 10 s.
 */
export const REVOKE_ATTEMPTS = 3;
export const REVOKE_ATTEMPT_TIMEOUT_MS = 1000;
export const REVOKE_RETRY_DELAYS_MS = [100, 300] as const;

/** One group, as the membership rules see it. */
export interface Group {
  /** How messages name it. */
  noun: GroupNoun;
  /** Its public id (room id, document id). */
  id: string;
  /** Its key in the memberships table (the room id; `#document:{docId}`). */
  groupId: string;
  /** Where its revokes go (`room:{roomId}`, `document:{docId}`). */
  channel: string;
  /** Its creator (the owner of memberships stored without a role), or null when it does not exist. */
  load(): Promise<{ createdBy: string } | null>;
  /** Throws `limit_exceeded` when `userId` may join no more groups of this kind (`byOther`: someone else adds them). */
  requireSpace(userId: string, byOther: boolean): Promise<void>;
}

export interface MemberDeps {
  /** The memberships (any group id). */
  rooms: Pick<RoomStore, 'getMembership' | 'hasOtherMembers' | 'addMember' | 'setRole' | 'removeMember'>;
  now?: () => Date;
}

export interface RevokeDeps {
  /** A publisher whose failures reject (they are retried here). */
  publisher: Publisher;
  /** Told when a revoke could not be published after every attempt (the membership is removed regardless). */
  onRevokeFailed?: (error: unknown, revoke: { channel: string; userId: string; attempts: number }) => void;
  /** @default REVOKE_ATTEMPT_TIMEOUT_MS */
  revokeAttemptTimeoutMs?: number;
  /** Pauses before the 2nd, 3rd… attempt; their count + 1 is the number of attempts. @default REVOKE_RETRY_DELAYS_MS */
  revokeRetryDelaysMs?: readonly number[];
  /** When the answer is due (epoch ms): no revoke attempt runs past it (the removal is stored; the re-check is the backstop). */
  deadline?: number;
}

export type MemberView = Membership & { role: Role };

const view = (membership: Membership, group: { createdBy: string }): MemberView => ({ ...membership, role: roleOf(membership, group) });

const notMember = (group: Group) =>
  group.noun === 'room' ? `You are not a member of room ${group.id}` : `You are not a collaborator on document ${group.id}`;
const targetNotMember = (group: Group, userId: string) =>
  group.noun === 'room' ? `User ${userId} is not a member of room ${group.id}` : `User ${userId} is not a collaborator on document ${group.id}`;
const missing = (group: Group) => `${group.noun === 'room' ? 'Room' : 'Document'} ${group.id} does not exist`;

/** The group, the actor's membership and the target's (null when not a member), read together. */
async function readParties(deps: MemberDeps, group: Group, actorId: string, targetId: string) {
  const [found, actor, target] = await Promise.all([
    group.load(),
    deps.rooms.getMembership(group.groupId, actorId),
    actorId === targetId ? null : deps.rooms.getMembership(group.groupId, targetId),
  ]);
  if (!found) throw notFound(missing(group));
  if (!actor) throw forbidden(notMember(group));
  return { found, actor, actorRole: roleOf(actor, found), target: actorId === targetId ? actor : target };
}

/**
 * Adds `userId` as `role` (default member). Owner and admins may add; only the
 * owner may add an admin. Adding someone who already is a member changes
 * nothing and returns their membership (`created: false`).
 */
export async function addMember(
  deps: MemberDeps,
  group: Group,
  actorId: string,
  userId: string,
  role: AddableRole = 'member',
): Promise<{ membership: MemberView; created: boolean }> {
  const { found, actorRole, target } = await readParties(deps, group, actorId, userId);
  const refusal = addRefusal(actorRole, role, group.noun);
  if (refusal) throw forbidden(refusal);
  if (target) return { membership: view(target, found), created: false };
  await group.requireSpace(userId, true);
  const membership: Membership = { roomId: group.groupId, userId, addedBy: actorId, joinedAt: (deps.now?.() ?? new Date()).toISOString(), role };
  if (await deps.rooms.addMember(membership)) return { membership: view(membership, found), created: true };
  // Added meanwhile by someone else: theirs stands.
  const existing = await deps.rooms.getMembership(group.groupId, userId);
  return { membership: view(existing ?? membership, found), created: false };
}

/**
 * Sets a member's role. Only the owner changes roles. Setting another
 * member's role to `owner` transfers ownership: the target becomes owner
 * first, then the previous owner becomes admin, so a crash between the two
 * writes leaves two owners (either can finish the job), never none.
 */
export async function changeRole(deps: MemberDeps, group: Group, actorId: string, userId: string, role: Role): Promise<MemberView> {
  const { found, actor, actorRole, target } = await readParties(deps, group, actorId, userId);
  if (!target) throw notFound(targetNotMember(group, userId));
  const change = roleChange(actorRole, role, actorId === userId, group.noun);
  switch (change.kind) {
    case 'refused':
      throw change.code === 'forbidden' ? forbidden(change.reason) : conflict(change.reason);
    case 'none':
      return view(target, found);
    case 'set':
    case 'transfer':
      // Each write holds only while the role it was decided on still holds, so two
      // owners' requests racing cannot leave the group with none.
      if (!(await deps.rooms.setRole(group.groupId, userId, role, target.role ?? null))) await roleChangedMeanwhile(deps, group, userId);
      if (change.kind === 'transfer' && !(await deps.rooms.setRole(group.groupId, actorId, 'admin', actor.role ?? null))) {
        // Our own role changed meanwhile (another transfer): the target is an owner now; we stay what we became.
        throw conflict('Your role changed while ownership was being transferred; both of you may be owners now. Check the members and retry');
      }
      return { ...target, role };
  }
}

/** After a conditional write on a membership failed: 409 if it is still there (its role changed), else 404. */
async function roleChangedMeanwhile(deps: MemberDeps, group: Group, userId: string): Promise<never> {
  if (await deps.rooms.getMembership(group.groupId, userId)) throw conflict(`The role of ${userId} changed meanwhile; retry the request`);
  throw notFound(targetNotMember(group, userId));
}

/**
 * Removes `userId`. Anyone may leave, except the owner while others remain
 * (`conflict`: transfer ownership first); the owner may remove anyone; an
 * admin may remove members. Stored first, then a revoke is published.
 */
export async function removeMember(deps: MemberDeps & RevokeDeps, group: Group, actorId: string, userId: string): Promise<void> {
  const { found, actorRole, target } = await readParties(deps, group, actorId, userId);
  if (!target) throw notFound(targetNotMember(group, userId));
  const decision = removeDecision(actorRole, roleOf(target, found), actorId === userId, group.noun);
  if (decision.allowed === false) throw forbidden(decision.reason);
  if (decision.allowed === 'if-alone' && (await deps.rooms.hasOtherMembers(group.groupId, userId))) {
    throw conflict(`The owner cannot leave while other ${group.noun === 'room' ? 'members' : 'collaborators'} remain; transfer ownership first (PATCH a member’s role to owner)`);
  }
  // Only if the role the decision was made on still holds: a member being promoted
  // (to owner by a transfer, say) meanwhile is not removed on the strength of the old role.
  if (!(await deps.rooms.removeMember(group.groupId, userId, target.role ?? null))) await roleChangedMeanwhile(deps, group, userId);
  // Persisted first; now tell the relays to cut live delivery to that user. The removal
  // stands either way: a revoke that never arrives is caught by the relays' re-check.
  await publishRevoke(deps, group.channel, userId);
}

/** Publishes the revoke, retrying a failed or slow attempt; reports (never throws) a final failure. */
export async function publishRevoke(deps: RevokeDeps, channel: string, userId: string): Promise<void> {
  const payload = encodeEnvelope({ v: ENVELOPE_VERSION, kind: 'revoke', channel, userId });
  const delays = deps.revokeRetryDelaysMs ?? REVOKE_RETRY_DELAYS_MS;
  const timeoutMs = deps.revokeAttemptTimeoutMs ?? REVOKE_ATTEMPT_TIMEOUT_MS;
  let lastError: unknown;
  let attempts = 0;
  for (let attempt = 0; attempt <= delays.length; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, delays[attempt - 1]));
    const budget = Math.min(timeoutMs, (deps.deadline ?? Infinity) - Date.now() - 300);
    if (budget <= 0) break;
    attempts++;
    try {
      await withTimeout(deps.publisher.publish(channel, payload), budget, `revoke publish to ${channel} took longer than ${budget} ms`);
      return;
    } catch (err) {
      lastError = err;
    }
  }
  deps.onRevokeFailed?.(lastError ?? new Error('no time left to publish the revoke'), { channel, userId, attempts });
}
