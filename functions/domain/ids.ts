import { randomBytes, randomUUID } from 'node:crypto';

/** Room ids: `r_` + 16 url-safe chars (96 random bits); valid in channel names. */
export const newRoomId = (): string => `r_${randomBytes(12).toString('base64url')}`;
export const newMessageId = (): string => randomUUID();
/** Document ids: `d_` + 16 url-safe chars (96 random bits); valid in channel names. */
export const newDocumentId = (): string => `d_${randomBytes(12).toString('base64url')}`;
