// Lua scripts of the consumer registry; return codes are mapped in StreamConsumers only.

/**
 * register-consumer-2: registers a consumer if the stream still exists, the name is free and the
 * stream has fewer than the maximum number of consumers. Consumers left by an earlier stream of the same
 * name (another stream id) are dropped first.
 * KEYS[1] stream meta hash, KEYS[2] consumers hash
 * ARGV[1] stream id, ARGV[2] consumer name, ARGV[3] consumer JSON, ARGV[4] maximum consumers per stream
 * Returns 1 registered; -1 stream gone (meta id differs); -2 name taken; -3 limit reached.
 */
export const REGISTER_CONSUMER = `
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return -1 end
local all = redis.call('HGETALL', KEYS[2])
local count = 0
local taken = false
for i = 1, #all, 2 do
  local ok, consumer = pcall(cjson.decode, all[i + 1])
  if not ok or type(consumer) ~= 'table' or consumer.streamId ~= ARGV[1] then
    redis.call('HDEL', KEYS[2], all[i])
  else
    count = count + 1
    if all[i] == ARGV[2] then taken = true end
  end
end
if taken then return -2 end
if count >= tonumber(ARGV[4]) then return -3 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
`;

/**
 * deregister-consumer-1: removes a consumer if it is still the one with the given ARN (so a consumer
 * re-registered under the same name in the meantime survives).
 * KEYS[1] consumers hash
 * ARGV[1] consumer name, ARGV[2] consumer ARN
 * Returns 1 removed; 0 no such consumer.
 */
export const DEREGISTER_CONSUMER = `
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return 0 end
local ok, consumer = pcall(cjson.decode, json)
if ok and type(consumer) == 'table' and consumer.arn ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
`;
