/**
 * Room limits from the environment, read once per container.
 * `MAX_ROOMS_PER_USER` (a positive integer; default 500, see
 * functions/domain/rooms.ts) caps how many rooms one user may belong to.
 */
import { MAX_ROOMS_PER_USER } from '../domain/rooms.js';

export interface RoomLimits {
  maxRoomsPerUser: number;
}

let limits: RoomLimits | undefined;

export function getRoomLimits(env: NodeJS.ProcessEnv = process.env): RoomLimits {
  if (limits) return limits;
  const raw = env.MAX_ROOMS_PER_USER;
  const maxRoomsPerUser = raw === undefined || raw === '' ? MAX_ROOMS_PER_USER : Number(raw);
  if (!Number.isSafeInteger(maxRoomsPerUser) || maxRoomsPerUser < 1) {
    throw new Error(`MAX_ROOMS_PER_USER must be a positive integer (got "${String(raw).slice(0, 20)}"); unset it for the default ${MAX_ROOMS_PER_USER}`);
  }
  return (limits = { maxRoomsPerUser });
}
