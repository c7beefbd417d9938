// Multi-key and check-and-set work of the key service, as Redis Lua scripts. All keys share the
// {kms} hash tag (see keys.ts), so each script runs in one Cluster slot. Negative return codes are
// mapped to errors in exactly one place: KeyStore.#check().

/**
 * transition-key-1: change a key's fields only if its state is one of the allowed ones.
 * KEYS[1] key hash
 * ARGV[1] allowed states, comma-separated (e.g. "Enabled,Disabled")
 * ARGV[2..] field, value, field, value, ... to HSET ("" as value = HDEL the field)
 * Returns 1 on success, -1 when the key does not exist, -2 when its state is not allowed.
 */
export const TRANSITION_KEY = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local state = redis.call('HGET', KEYS[1], 'state')
local allowed = false
for s in string.gmatch(ARGV[1], '[^,]+') do if s == state then allowed = true end end
if not allowed then return -2 end
for i = 2, #ARGV, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[1], ARGV[i]) else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 1
`;

/**
 * rotate-key-2: add key material version N+1 if the current version is still N (check-and-set).
 * KEYS[1] key hash, KEYS[2] material hash
 * ARGV[1] expected current version N, ARGV[2] wrapped material for N+1,
 * ARGV[3..] extra field, value pairs to HSET on the key hash (rotation dates)
 * Returns N+1, -1 when the key does not exist, -2 when it is not Enabled, -3 when another rotation won.
 */
export const ROTATE_KEY = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[1], 'state') ~= 'Enabled' then return -2 end
local current = tonumber(redis.call('HGET', KEYS[1], 'currentVersion'))
if current ~= tonumber(ARGV[1]) then return -3 end
local nextVersion = current + 1
redis.call('HSET', KEYS[2], tostring(nextVersion), ARGV[2])
redis.call('HSET', KEYS[1], 'currentVersion', nextVersion)
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return nextVersion
`;

/**
 * destroy-key-6: crypto-shred a key whose deletion date has passed: delete its material, metadata,
 * tags and aliases, and leave a tombstone so later Decrypt calls say why they fail.
 * KEYS[1] key hash, KEYS[2] material hash, KEYS[3] tags hash, KEYS[4] key-ids zset,
 * KEYS[5] aliases hash, KEYS[6] deleted hash
 * ARGV[1] key id, ARGV[2] now (epoch ms)
 * Returns 1 when destroyed, -1 when the key does not exist, -2 when not PendingDeletion,
 * -4 when its deletion date is still in the future.
 */
export const DESTROY_KEY = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[1], 'state') ~= 'PendingDeletion' then return -2 end
if tonumber(redis.call('HGET', KEYS[1], 'deletionDate')) > tonumber(ARGV[2]) then return -4 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
local aliases = redis.call('HGETALL', KEYS[5])
for i = 1, #aliases, 2 do
  if cjson.decode(aliases[i + 1]).targetKeyId == ARGV[1] then redis.call('HDEL', KEYS[5], aliases[i]) end
end
redis.call('HSET', KEYS[6], ARGV[1], ARGV[2])
return 1
`;

/**
 * update-alias-1: point an existing alias at another key.
 * KEYS[1] aliases hash; ARGV[1] alias name, ARGV[2] new JSON value
 * Returns 1, or -1 when the alias does not exist.
 */
export const UPDATE_ALIAS = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;
