/**
 * The Lua behind RedisPresence. Each presence change and the event announcing
 * it happen in one script run, so relays racing on one channel cannot both
 * announce a user's first connection, nor lose the leave of the last one, and
 * the events of a channel are published in the order its changes happened.
 *
 * Keys of one channel share the `{channel}` hash tag, and the channel name
 * itself hashes to that same slot, so a script touches a single slot and may
 * publish on the channel with SPUBLISH on Redis Cluster (PUBLISH otherwise).
 *
 * Time is Redis's (TIME), never a relay's clock: relays with skewed clocks
 * agree on what has expired.
 */

/** Every sorted-set member is `userId + ENTRY_SEPARATOR + connectionId`. */
export const ENTRY_SEPARATOR = '\n';
/**
 * Expired entries one script run removes at most, so one run blocks Redis
 * briefly; a run that finds a full batch says so (`more`) and the relay runs
 * the sweep again at once (presence-queue.ts).
 */
export const SWEEP_BATCH = 200;

/**
 * KEYS[1] entries: sorted set, member `userId\nconnectionId`, score its expiry (Redis ms).
 * KEYS[2] users: hash, userId → that user's entries.
 * ARGV: channel, publish command (PUBLISH | SPUBLISH), event limit, ttl ms,
 * op (`add` | `remove` | `sweep`), then the entries to add or remove (none for `sweep`).
 * Every op first repairs a half-evicted pair, then sweeps expired entries. `add`
 * writes (or refreshes) entries with a fresh expiry and keeps both keys for two TTLs.
 * Returns counts: joins, leaves, resets published; joins, leaves suppressed;
 * entries swept; 1 when the sweep took a full batch (more may be expired); 1 when
 * the pair was repaired.
 */
export const UPDATE_LUA = `
local channel, publish, limit, ttl, op = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local stats = {0, 0, 0, 0, 0, 0, 0, 0}

local function userOf(entry)
  local at = string.find(entry, '\\n', 1, true)
  if at == nil or at == 1 then return nil end
  return string.sub(entry, 1, at - 1)
end

local function send(event, user)
  redis.call(publish, channel, cjson.encode({v = 1, kind = 'presence', channel = channel, event = event, userId = user}))
end

local function announce(change, user, after)
  local before = after + 1
  if change == 'join' then before = after - 1 end
  if after <= limit and before <= limit then
    if change == 'join' then stats[1] = stats[1] + 1 else stats[2] = stats[2] + 1 end
    send(change, user)
  elseif (after > limit) ~= (before > limit) then
    stats[3] = stats[3] + 1
    send('reset', user)
  elseif change == 'join' then
    stats[4] = stats[4] + 1
  else
    stats[5] = stats[5] + 1
  end
end

local function remove(entry)
  if redis.call('ZREM', KEYS[1], entry) == 0 then return false end
  local user = userOf(entry)
  if user ~= nil and redis.call('HINCRBY', KEYS[2], user, -1) <= 0 then
    redis.call('HDEL', KEYS[2], user)
    announce('leave', user, redis.call('HLEN', KEYS[2]))
  end
  return true
end

-- Both keys exist or neither. A volatile-* eviction policy may take one of the
-- pair (both have a TTL); the counts can then no longer be trusted, so both go
-- (UNLINK: freed off the main thread, O(1) here) and subscribers get a fresh
-- snapshot. Every live relay writes its entries back at its next heartbeat,
-- each first one announced with a join.
if redis.call('EXISTS', KEYS[1]) ~= redis.call('EXISTS', KEYS[2]) then
  local any = redis.call('HRANDFIELD', KEYS[2])
  if not any then any = userOf(redis.call('ZRANGE', KEYS[1], 0, 0)[1] or '') end
  redis.call('UNLINK', KEYS[1], KEYS[2])
  stats[8] = 1
  if any then
    stats[3] = stats[3] + 1
    send('reset', any)
  end
end

local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ${SWEEP_BATCH})
for _, entry in ipairs(expired) do
  if remove(entry) then stats[6] = stats[6] + 1 end
end
if #expired == ${SWEEP_BATCH} then stats[7] = 1 end

if op == 'add' then
  local expiry = now + ttl
  for i = 6, #ARGV do
    local entry = ARGV[i]
    local user = userOf(entry)
    if user ~= nil then
      local known = redis.call('ZSCORE', KEYS[1], entry)
      redis.call('ZADD', KEYS[1], expiry, entry)
      if not known and redis.call('HINCRBY', KEYS[2], user, 1) == 1 then
        announce('join', user, redis.call('HLEN', KEYS[2]))
      end
    end
  end
  redis.call('PEXPIRE', KEYS[1], ttl * 2)
  redis.call('PEXPIRE', KEYS[2], ttl * 2)
elseif op == 'remove' then
  for i = 6, #ARGV do remove(ARGV[i]) end
end

-- The counts follow the entries; a users hash left without entries is stale.
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) end
return stats
`;

/**
 * KEYS[1] users hash; ARGV[1] the event limit. Returns `{total, flat [userId, entries, …]}`:
 * every user when there are at most `limit`, else `limit` of them picked at random.
 */
export const SNAPSHOT_LUA = `
local limit = tonumber(ARGV[1])
local total = redis.call('HLEN', KEYS[1])
if total <= limit then return {total, redis.call('HGETALL', KEYS[1])} end
return {total, redis.call('HRANDFIELD', KEYS[1], limit, 'WITHVALUES')}
`;

/** What one update run did (its reply, named). */
export interface UpdateCounts {
  joins: number;
  leaves: number;
  resets: number;
  suppressedJoins: number;
  suppressedLeaves: number;
  swept: number;
  /** The sweep took a full batch: more entries may have expired (run again). */
  more: boolean;
  /** A half-evicted pair of keys was dropped (a `reset` was published). */
  repaired: number;
}

export function updateCounts(reply: unknown): UpdateCounts {
  const n = (i: number) => (Array.isArray(reply) && typeof reply[i] === 'number' ? reply[i] : 0);
  return { joins: n(0), leaves: n(1), resets: n(2), suppressedJoins: n(3), suppressedLeaves: n(4), swept: n(5), more: n(6) === 1, repaired: n(7) };
}
