/** POST /me/notifications/{id}/read → {unread}; idempotent. A change is pushed as `notification.read` on the caller's user channel. */
import { NotificationPath } from '../../protocol/index.js';
import { markRead } from '../domain/inbox.js';
import { getRawPublisher } from '../lib/publisher.js';
import { getStores } from '../lib/stores.js';
import { httpHandler, json, validate } from '../lib/http.js';

export const handler = httpHandler(async (event, caller, deadline) => {
  const { id } = validate(NotificationPath, event.pathParameters, 'path');
  return json(200, await markRead({ ...getStores(), publisher: getRawPublisher(), deadline }, caller.userId, id));
});
