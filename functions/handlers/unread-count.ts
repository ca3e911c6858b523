/** GET /me/notifications/unread-count → {unread}. */
import { unreadCount } from '../domain/inbox.js';
import { getStores } from '../lib/stores.js';
import { httpHandler, json } from '../lib/http.js';

export const handler = httpHandler(async (_event, caller) => json(200, await unreadCount(getStores(), caller.userId)));
