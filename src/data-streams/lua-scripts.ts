// Lua scripts of the stream registry; each touches only one stream's {s:<name>} slot.
// Return codes are mapped in StreamRegistry only.

/**
 * create-stream-3: create a stream's metadata, shard map and tags unless the stream exists.
 * KEYS[1] meta hash, KEYS[2] shards hash, KEYS[3] tags hash
 * ARGV[1] M = meta field/value pairs, ARGV[2] S = shard id/JSON pairs, then the M pairs, the S pairs,
 * then tag key/value pairs to the end.
 * Returns 1, or -1 when a stream with this name exists.
 */
export const CREATE_STREAM = `
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local m = tonumber(ARGV[1])
local s = tonumber(ARGV[2])
local i = 3
for _ = 1, m do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]); i = i + 2 end
for _ = 1, s do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]); i = i + 2 end
while i <= #ARGV do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]); i = i + 2 end
return 1
`;

/**
 * update-stream-1: set metadata fields of an existing stream whose id is still ARGV[1].
 * KEYS[1] meta hash; ARGV[1] stream id; ARGV[2..] field/value pairs
 * Returns 1, or -1 when the stream is gone or was re-created.
 */
export const UPDATE_STREAM = `
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return -1 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
`;

/**
 * begin-reshard-1: mark an ACTIVE stream UPDATING and reserve `count` shard indexes.
 * KEYS[1] meta hash; ARGV[1] stream id, ARGV[2] count
 * Returns the first reserved index, -1 when the stream is gone, -2 when it is not ACTIVE.
 */
export const BEGIN_RESHARD = `
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return -1 end
if redis.call('HGET', KEYS[1], 'status') ~= 'ACTIVE' then return -2 end
redis.call('HSET', KEYS[1], 'status', 'UPDATING')
return redis.call('HINCRBY', KEYS[1], 'nextShardIndex', tonumber(ARGV[2])) - tonumber(ARGV[2])
`;

/**
 * finish-reshard-2: record closed parents and new children in the shard map, then mark the stream ACTIVE.
 * KEYS[1] meta hash, KEYS[2] shards hash
 * ARGV[1] stream id, then shard id / JSON pairs to write
 * Returns 1, or -1 when the stream is gone.
 */
export const FINISH_RESHARD = `
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return -1 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'status', 'ACTIVE')
return 1
`;

/**
 * abort-reshard-1: put an UPDATING stream back to ACTIVE after a failed validation.
 * KEYS[1] meta hash; ARGV[1] stream id
 */
export const ABORT_RESHARD = `
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return -1 end
redis.call('HSET', KEYS[1], 'status', 'ACTIVE')
return 1
`;
