/** POST /me/notifications/read-all → {unread}; idempotent. A change is pushed as `notification.read` `{all: true}`. */
import { markAllRead } from '../domain/inbox.js';
import { getRawPublisher } from '../lib/publisher.js';
import { getStores } from '../lib/stores.js';
import { httpHandler, json } from '../lib/http.js';

export const handler = httpHandler(async (_event, caller, deadline) =>
  json(200, await markAllRead({ ...getStores(), publisher: getRawPublisher(), deadline }, caller.userId)),
);
