// Lua scripts of Firehose; each touches only one delivery stream's {fh:<name>} slot.
// Return codes are mapped in DeliveryStreamRegistry / RecordBuffer only.

/**
 * create-delivery-stream-6: store a delivery stream's metadata and tags and create its buffer with
 * the consumer group `delivery`, unless the delivery stream exists. Every other key of the name is
 * deleted first: a late acknowledgement, append or source read of a deleted namesake must not leave
 * the new delivery stream its byte count, checkpoints, lease or tags.
 * KEYS[1] meta string, KEYS[2] tags hash, KEYS[3] buffer stream, KEYS[4] buffer bytes,
 * KEYS[5] source checkpoints, KEYS[6] source lease
 * ARGV[1] metadata JSON, ARGV[2] group name, then tag key/value pairs to the end.
 * Returns 1, or -1 when a delivery stream with this name exists.
 */
export const CREATE_DELIVERY_STREAM = `
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
redis.call('SET', KEYS[1], ARGV[1])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('XGROUP', 'CREATE', KEYS[3], ARGV[2], '0', 'MKSTREAM')
return 1
`;

/**
 * update-delivery-stream-1: replace the metadata of an existing delivery stream whose id is ARGV[1]
 * and whose versionId is ARGV[2] (any version when ARGV[2] is '').
 * KEYS[1] meta string; ARGV[1] id, ARGV[2] expected versionId, ARGV[3] new metadata JSON
 * Returns 1, -1 when the delivery stream is gone or was re-created, -2 on a version mismatch.
 */
export const UPDATE_DELIVERY_STREAM = `
local current = redis.call('GET', KEYS[1])
if not current then return -1 end
local meta = cjson.decode(current)
if meta.id ~= ARGV[1] then return -1 end
if ARGV[2] ~= '' and tostring(meta.versionId) ~= ARGV[2] then return -2 end
redis.call('SET', KEYS[1], ARGV[3])
return 1
`;

/**
 * append-records-2: append records to a delivery stream's buffer atomically, unless the buffer already
 * holds more than its limit of bytes.
 * KEYS[1] buffer stream, KEYS[2] buffered-bytes counter
 * ARGV[1] limit in bytes, ARGV[2] bytes of these records, then triples of data, arrival ms, sealed flag.
 * Returns the entry ids, or -1 when the buffer is full.
 */
export const APPEND_RECORDS = `
local held = tonumber(redis.call('GET', KEYS[2]) or '0')
if held > 0 and held + tonumber(ARGV[2]) > tonumber(ARGV[1]) then return -1 end
local ids = {}
for i = 3, #ARGV, 3 do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', 'd', ARGV[i], 't', ARGV[i + 1], 'e', ARGV[i + 2])
end
redis.call('INCRBY', KEYS[2], ARGV[2])
return ids
`;

/**
 * append-source-records-4: append records read from a source shard and move that shard's checkpoint
 * in one step, so a record is buffered exactly once however the reader stops. Fenced: a reader that
 * lost the lease, or read from a checkpoint that has moved since (it paused past its lease and
 * another reader went on), appends nothing.
 * KEYS[1] buffer stream, KEYS[2] checkpoints hash, KEYS[3] buffered-bytes counter, KEYS[4] source lease
 * ARGV[1] shard id, ARGV[2] new checkpoint (sequence number or END), ARGV[3] bytes of these records,
 * ARGV[4] lease holder, ARGV[5] the checkpoint the records were read from ('' for none), then per
 * record: data, arrival ms, sealed flag, partition key, sequence number (stored as fields kp, kq
 * beside ks = the shard id).
 * Returns the number of records appended, -1 when ARGV[4] does not hold the lease, -2 when the
 * shard's checkpoint is no longer ARGV[5].
 */
export const APPEND_SOURCE_RECORDS = `
if redis.call('GET', KEYS[4]) ~= ARGV[4] then return -1 end
if (redis.call('HGET', KEYS[2], ARGV[1]) or '') ~= ARGV[5] then return -2 end
for i = 6, #ARGV, 5 do
  redis.call('XADD', KEYS[1], '*', 'd', ARGV[i], 't', ARGV[i + 1], 'e', ARGV[i + 2],
    'ks', ARGV[1], 'kp', ARGV[i + 3], 'kq', ARGV[i + 4])
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('INCRBY', KEYS[3], ARGV[3])
return (#ARGV - 5) / 5
`;

/**
 * renew-lease-1: take or keep a lease held by ARGV[1] for ARGV[2] ms.
 * KEYS[1] lease string. Returns 1 when ARGV[1] holds the lease, 0 when another holder does.
 */
export const RENEW_LEASE = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
return 1
`;

/**
 * ack-records-2: forget delivered records: acknowledge them in the group, delete them and take their
 * bytes off the counter (never below 0; left alone when the buffer no longer exists).
 * KEYS[1] buffer stream, KEYS[2] buffered-bytes counter
 * ARGV[1] group, ARGV[2] bytes of these records, ARGV[3..] entry ids. Returns the number deleted.
 */
export const ACK_RECORDS = `
local ids = {}
for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
local deleted = redis.call('XDEL', KEYS[1], unpack(ids))
-- A delivery stream deleted meanwhile has no counter left to correct (and must not get one back).
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('DECRBY', KEYS[2], ARGV[2]) < 0 then
  redis.call('SET', KEYS[2], '0')
end
return deleted
`;
