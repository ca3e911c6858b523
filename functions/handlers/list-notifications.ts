/** GET /me/notifications?unread=&limit=&cursor= → {items, nextCursor?}, newest first. */
import { NotificationsQuery } from '../../protocol/index.js';
import { listNotifications } from '../domain/inbox.js';
import { getStores } from '../lib/stores.js';
import { httpHandler, json, validate } from '../lib/http.js';

export const handler = httpHandler(async (event, caller) => {
  const query = validate(NotificationsQuery, event.queryStringParameters ?? {}, 'query');
  return json(200, await listNotifications(getStores(), { userId: caller.userId, ...query }));
});
