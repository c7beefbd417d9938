// Lua scripts of the video stream registry; each touches only one stream's {kvs:<name>} slot.
// Return codes are mapped to errors in VideoStreamRegistry only (see `failure()` there).

/**
 * create-stream-2: create a stream's metadata and tags unless a stream of that name exists.
 * KEYS[1] meta hash, KEYS[2] tags hash
 * ARGV[1] M = number of meta field/value pairs, then the M pairs, then tag key/value pairs to the end.
 * Returns 1, or -1 when a stream with this name exists (ACTIVE or DELETING).
 */
export const CREATE_STREAM = `
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local m = tonumber(ARGV[1])
local i = 2
for _ = 1, m do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]); i = i + 2 end
while i <= #ARGV do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]); i = i + 2 end
return 1
`;

/**
 * update-stream-1: set metadata fields of an ACTIVE stream whose version is ARGV[2], and give it a new version.
 * KEYS[1] meta hash
 * ARGV[1] ARN (the stream incarnation), ARGV[2] expected version, ARGV[3] new version, ARGV[4..] field/value pairs
 * Returns 1, -1 when the stream is gone or was re-created, -2 on a version mismatch, -3 when not ACTIVE.
 */
export const UPDATE_STREAM = `
if redis.call('HGET', KEYS[1], 'arn') ~= ARGV[1] then return -1 end
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[2] then return -2 end
if redis.call('HGET', KEYS[1], 'status') ~= 'ACTIVE' then return -3 end
redis.call('HSET', KEYS[1], 'version', ARGV[3])
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
`;

/**
 * begin-delete-1: mark a stream DELETING (a retried delete of a DELETING stream passes again).
 * KEYS[1] meta hash
 * ARGV[1] ARN (the stream incarnation), ARGV[2] expected version or '' for any
 * Returns 1, -1 when the stream is gone or was re-created, -2 on a version mismatch.
 */
export const BEGIN_DELETE = `
if redis.call('HGET', KEYS[1], 'arn') ~= ARGV[1] then return -1 end
if ARGV[2] ~= '' and redis.call('HGET', KEYS[1], 'version') ~= ARGV[2] then return -2 end
redis.call('HSET', KEYS[1], 'status', 'DELETING')
return 1
`;

/**
 * tag-stream-2: add or replace tags of an ACTIVE stream unless it would then carry more than ARGV[2] tags.
 * KEYS[1] meta hash, KEYS[2] tags hash
 * ARGV[1] ARN (the stream incarnation), ARGV[2] tag limit, ARGV[3..] tag key/value pairs
 * Returns 1, -1 when the stream is gone or was re-created, -3 when not ACTIVE, -4 when over the limit.
 */
export const TAG_STREAM = `
if redis.call('HGET', KEYS[1], 'arn') ~= ARGV[1] then return -1 end
if redis.call('HGET', KEYS[1], 'status') ~= 'ACTIVE' then return -3 end
local count = redis.call('HLEN', KEYS[2])
for i = 3, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 0 then count = count + 1 end
end
if count > tonumber(ARGV[2]) then return -4 end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
return 1
`;
