/**
 * Room roles and who may do what to whom. Pure decisions, no I/O: rooms.ts
 * reads the memberships, asks here, then writes. docs/http-api.md has the
 * same rules as a table.
 *
 * | actor  | add member | add admin | change roles | remove member | remove admin / owner | leave |
 * |--------|------------|-----------|--------------|---------------|----------------------|-------|
 * | owner  | yes        | yes       | yes          | yes           | yes                  | only when no one else is left |
 * | admin  | yes        | no        | no           | yes           | no                   | yes   |
 * | member | no         | no        | no           | no            | no                   | yes   |
 */
import { ADDABLE_ROLES } from '../../protocol/http.js';
import type { Membership, Role, Room } from './ports.js';

// The HTTP contract (protocol/http.ts) owns the role names.
export { ADDABLE_ROLES, ROLES } from '../../protocol/http.js';
/** Roles a member can be added with directly; ownership only moves by transfer. */
export type AddableRole = (typeof ADDABLE_ROLES)[number];

/**
 * The role a membership grants. Memberships written before roles existed
 * carry none: the room's creator reads as its owner, everyone else as a member.
 */
export function roleOf(membership: Membership, room: Pick<Room, 'createdBy'>): Role {
  return membership.role ?? (membership.userId === room.createdBy ? 'owner' : 'member');
}

/** What the rules are about, as messages name it: a room's members, a document's collaborators. */
export type GroupNoun = 'room' | 'document';

/** Why `actor` may not add someone as `role`, or null when it may. */
export function addRefusal(actor: Role, role: AddableRole, noun: GroupNoun = 'room'): string | null {
  if (actor === 'member') return `Only the ${noun}'s owner and admins can add members`;
  if (role === 'admin' && actor !== 'owner') return `Only the ${noun}'s owner can add an admin`;
  return null;
}

export type RemoveDecision =
  | { allowed: true }
  /** The owner is leaving: allowed only when nobody else is left in the room. */
  | { allowed: 'if-alone' }
  | { allowed: false; reason: string };

/** Whether `actor` may remove `target` (`self`: the actor is leaving). */
export function removeDecision(actor: Role, target: Role, self: boolean, noun: GroupNoun = 'room'): RemoveDecision {
  if (self) return actor === 'owner' ? { allowed: 'if-alone' } : { allowed: true };
  if (actor === 'owner') return { allowed: true };
  if (actor === 'admin') {
    return target === 'member' ? { allowed: true } : { allowed: false, reason: 'Admins can remove members, not admins or the owner' };
  }
  return { allowed: false, reason: `Members can only remove themselves; ask the ${noun}'s owner or an admin` };
}

export type RoleChange =
  /** Set the target's role. */
  | { kind: 'set' }
  /** Make the target the owner and the actor an admin (see changeRole for the write order). */
  | { kind: 'transfer' }
  /** Nothing to write: the owner asked to stay the owner. */
  | { kind: 'none' }
  | { kind: 'refused'; code: 'forbidden' | 'conflict'; reason: string };

/** What setting `target`'s role to `role` means when `actor` asks (`self`: the actor's own role). */
export function roleChange(actor: Role, role: Role, self: boolean, noun: GroupNoun = 'room'): RoleChange {
  if (actor !== 'owner') return { kind: 'refused', code: 'forbidden', reason: `Only the ${noun}'s owner can change roles` };
  if (self) {
    return role === 'owner'
      ? { kind: 'none' }
      : {
          kind: 'refused',
          code: 'conflict',
          reason: 'The owner cannot step down directly; transfer ownership first by setting another member’s role to owner',
        };
  }
  return role === 'owner' ? { kind: 'transfer' } : { kind: 'set' };
}
