/** Schemas for path and query parameters shared by several routes. */
import { ID_PATTERN, USER_ID_PATTERN } from '../../protocol/index.js';
import * as z from '../../protocol/zod.js';

export const roomId = z.string().check(z.regex(ID_PATTERN, 'must be a room id'));
export const userId = z.string().check(z.regex(USER_ID_PATTERN, 'must be a user id'));
export const RoomPath = z.object({ roomId });
export const MemberPath = z.object({ roomId, userId });
