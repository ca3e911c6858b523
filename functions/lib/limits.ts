/**
 * Room limits from the environment, read once per container (see
 * functions/domain/rooms.ts): `MAX_ROOMS_PER_USER` (default 1,000) caps how
 * many rooms one user may belong to, `MAX_ROOMS_ADDED_BY_OTHERS` (default 500)
 * how many of those others may put them in.
 */
import { MAX_ROOMS_ADDED_BY_OTHERS, MAX_ROOMS_PER_USER } from '../domain/rooms.js';

export interface RoomLimits {
  maxRoomsPerUser: number;
  maxRoomsAddedByOthers: number;
}

let limits: RoomLimits | undefined;

/** A positive integer from the environment, or `fallback` when unset; refused with a message naming the variable. */
export function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new Error(`${name} must be a positive integer (got "${String(raw).slice(0, 20)}"); unset it for the default ${fallback}`);
  }
  return value;
}

export function getRoomLimits(env: NodeJS.ProcessEnv = process.env): RoomLimits {
  return (limits ??= {
    maxRoomsPerUser: positiveInt(env, 'MAX_ROOMS_PER_USER', MAX_ROOMS_PER_USER),
    maxRoomsAddedByOthers: positiveInt(env, 'MAX_ROOMS_ADDED_BY_OTHERS', MAX_ROOMS_ADDED_BY_OTHERS),
  });
}
