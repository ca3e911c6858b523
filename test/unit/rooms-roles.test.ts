/** Room roles: who may add, remove and change roles (the table in docs/http-api.md). */
import { describe, expect, it } from 'vitest';
import type { Role } from '../../functions/domain/ports.js';
import { addRefusal, removeDecision, roleChange, roleOf } from '../../functions/domain/roles.js';

const room = { createdBy: 'alice' };
const membership = (userId: string, role?: Role) => ({ roomId: 'r_1', userId, addedBy: 'alice', joinedAt: '2030-01-01T00:00:00.000Z', ...(role && { role }) });

describe('roleOf', () => {
  it('reads a stored role as is', () => {
    expect(roleOf(membership('alice', 'admin'), room)).toBe('admin');
    expect(roleOf(membership('bob', 'owner'), room)).toBe('owner');
  });

  it('reads a membership from before roles as owner for the creator and member for everyone else', () => {
    expect(roleOf(membership('alice'), room)).toBe('owner');
    expect(roleOf(membership('bob'), room)).toBe('member');
  });
});

describe('addRefusal', () => {
  it('lets the owner add members and admins, admins add members, and members nobody', () => {
    expect(addRefusal('owner', 'member')).toBeNull();
    expect(addRefusal('owner', 'admin')).toBeNull();
    expect(addRefusal('admin', 'member')).toBeNull();
    expect(addRefusal('admin', 'admin')).toMatch(/Only the room's owner can add an admin/);
    expect(addRefusal('member', 'member')).toMatch(/owner and admins/);
    expect(addRefusal('member', 'admin')).toMatch(/owner and admins/);
  });
});

describe('removeDecision', () => {
  it('lets everyone leave, the owner only when alone', () => {
    expect(removeDecision('member', 'member', true)).toEqual({ allowed: true });
    expect(removeDecision('admin', 'admin', true)).toEqual({ allowed: true });
    expect(removeDecision('owner', 'owner', true)).toEqual({ allowed: 'if-alone' });
  });

  it('lets the owner remove anyone, admins only members, members nobody', () => {
    for (const target of ['owner', 'admin', 'member'] as const) expect(removeDecision('owner', target, false)).toEqual({ allowed: true });
    expect(removeDecision('admin', 'member', false)).toEqual({ allowed: true });
    expect(removeDecision('admin', 'admin', false)).toMatchObject({ allowed: false });
    expect(removeDecision('admin', 'owner', false)).toMatchObject({ allowed: false });
    for (const target of ['owner', 'admin', 'member'] as const) expect(removeDecision('member', target, false)).toMatchObject({ allowed: false });
  });
});

describe('roleChange', () => {
  it('lets only the owner change roles; owner on someone else is a transfer', () => {
    expect(roleChange('owner', 'admin', false)).toEqual({ kind: 'set' });
    expect(roleChange('owner', 'member', false)).toEqual({ kind: 'set' });
    expect(roleChange('owner', 'owner', false)).toEqual({ kind: 'transfer' });
    for (const actor of ['admin', 'member'] as const) {
      for (const role of ['owner', 'admin', 'member'] as const) {
        expect(roleChange(actor, role, false)).toMatchObject({ kind: 'refused', code: 'forbidden' });
        expect(roleChange(actor, role, true)).toMatchObject({ kind: 'refused', code: 'forbidden' });
      }
    }
  });

  it('does not let the owner step down without a transfer', () => {
    expect(roleChange('owner', 'owner', true)).toEqual({ kind: 'none' });
    expect(roleChange('owner', 'admin', true)).toMatchObject({ kind: 'refused', code: 'conflict' });
    expect(roleChange('owner', 'member', true)).toMatchObject({ kind: 'refused', code: 'conflict' });
  });
});
