/** The local stack without Redis: one in-process relay over the in-memory broker still chats end to end. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { apiClient } from '../helpers/api.js';
import { TestClient } from '../helpers/ws-client.js';

let stack: LocalStack;
beforeAll(async () => {
  stack = await startLocalStack({ memory: true, keyFile: '.local/test-keys.json' });
});
afterAll(() => stack?.stop());

it('runs one relay on the in-process broker and delivers messages', async () => {
  expect(stack.mode).toBe('memory');
  expect(stack.relayUrls).toHaveLength(1);
  const api = apiClient(stack.apiUrl, await stack.issuer.mint('alice'));
  const { body: room } = await api.post('/rooms', { name: 'no redis' });
  await api.post(`/rooms/${room.roomId}/members`, { userId: 'bob' });
  const bob = await TestClient.connect(stack.relayUrls[0]!, await stack.issuer.mint('bob'));
  await bob.subscribe(`room:${room.roomId}`);
  const sent = await api.post(`/rooms/${room.roomId}/messages`, { text: 'in memory' });
  await bob.waitForMessages(`room:${room.roomId}`, 1);
  expect(bob.messages()[0]).toMatchObject({ seq: 1, id: sent.body.id });
  await bob.close();
});
