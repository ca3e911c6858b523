/**
 * The HTTP API's routes: the one list that the local API server and the CDK
 * app both read. Pure data (no runtime imports), so infra can import it.
 */
export type TableName = 'rooms' | 'memberships' | 'messages' | 'idempotency';

export interface RouteDefinition {
  /** API Gateway route key, e.g. `POST /rooms/{roomId}/messages`. */
  routeKey: string;
  /** Handler source, relative to the repository root; the module exports `handler`. */
  entry: string;
  /** Tables the handler reads, and the ones it writes (least-privilege grants come from this). */
  reads: TableName[];
  writes: TableName[];
  /** Whether the handler publishes to Redis (and so needs to reach it). */
  publishes: boolean;
}

export const routes: readonly RouteDefinition[] = [
  {
    routeKey: 'POST /rooms',
    entry: 'functions/handlers/create-room.ts',
    reads: [],
    writes: ['rooms', 'memberships'],
    publishes: false,
  },
  {
    routeKey: 'GET /rooms',
    entry: 'functions/handlers/list-rooms.ts',
    reads: ['rooms', 'memberships'],
    writes: [],
    publishes: false,
  },
  {
    routeKey: 'POST /rooms/{roomId}/members',
    entry: 'functions/handlers/add-member.ts',
    reads: ['rooms', 'memberships'],
    writes: ['memberships'],
    publishes: false,
  },
  {
    routeKey: 'PATCH /rooms/{roomId}/members/{userId}',
    entry: 'functions/handlers/change-member-role.ts',
    reads: ['rooms', 'memberships'],
    writes: ['memberships'],
    publishes: false,
  },
  {
    routeKey: 'DELETE /rooms/{roomId}/members/{userId}',
    entry: 'functions/handlers/remove-member.ts',
    reads: ['rooms', 'memberships'],
    writes: ['memberships'],
    publishes: true,
  },
  {
    routeKey: 'POST /rooms/{roomId}/messages',
    entry: 'functions/handlers/send-message.ts',
    reads: ['memberships', 'messages', 'idempotency'],
    writes: ['messages', 'idempotency'],
    publishes: true,
  },
  {
    // Writes only gap tombstones (a seq reserved but left empty past the bound; functions/domain/channel-log.ts).
    routeKey: 'GET /rooms/{roomId}/messages',
    entry: 'functions/handlers/list-messages.ts',
    reads: ['memberships', 'messages'],
    writes: ['messages'],
    publishes: false,
  },
  {
    // The history of any durable channel; writes only gap tombstones, as above.
    routeKey: 'GET /channels/{channel}/messages',
    entry: 'functions/handlers/list-channel-messages.ts',
    reads: ['memberships', 'messages'],
    writes: ['messages'],
    publishes: false,
  },
];
