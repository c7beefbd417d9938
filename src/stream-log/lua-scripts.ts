// Lua scripts of the shard log; return codes are mapped in ShardLog only.

/**
 * append-2: append entries to an open log, trimming entries older than a minimum id.
 * KEYS[1] log stream, KEYS[2] log state hash
 * ARGV[1] minimum entry id to keep ("" = no trimming; approximate MINID ~ trimming)
 * ARGV[2] F = number of field/value pairs per entry
 * ARGV[3..] entries, each as F field/value pairs
 * Returns the array of new entry ids, or -1 when the log is closed.
 */
export const APPEND = `
if redis.call('HGET', KEYS[2], 'closed') == '1' then return -1 end
local f = tonumber(ARGV[2])
local ids = {}
local i = 3
local first = true
while i <= #ARGV do
  local args = {KEYS[1]}
  if first and ARGV[1] ~= '' then
    table.insert(args, 'MINID'); table.insert(args, '~'); table.insert(args, ARGV[1])
  end
  first = false
  table.insert(args, '*')
  for j = 0, 2 * f - 1 do table.insert(args, ARGV[i + j]) end
  ids[#ids + 1] = redis.call('XADD', unpack(args))
  i = i + 2 * f
end
return ids
`;

/**
 * close-2: refuse further appends and record the last entry id (idempotent).
 * KEYS[1] log stream, KEYS[2] log state hash
 * Returns the ending id ("0-0" for a log that never had an entry).
 */
export const CLOSE = `
if redis.call('HGET', KEYS[2], 'closed') == '1' then return redis.call('HGET', KEYS[2], 'endingId') end
local ending = '0-0'
if redis.call('EXISTS', KEYS[1]) == 1 then
  ending = redis.call('XINFO', 'STREAM', KEYS[1])[8]
end
redis.call('HSET', KEYS[2], 'closed', '1', 'endingId', ending)
return ending
`;

/**
 * open-2: create an empty log whose next ids are greater than ARGV[1] (for child shards, so their
 * records sort after every record of their parents even when clocks differ).
 * KEYS[1] log stream, KEYS[2] log state hash; ARGV[1] floor id ("0-0" for none)
 * Returns 1.
 */
export const OPEN = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('XADD', KEYS[1], 'MAXLEN', '0', '*', 'init', '1')
end
if ARGV[1] ~= '0-0' then
  local last = redis.call('XINFO', 'STREAM', KEYS[1])[8]
  local lms, lseq = string.match(last, '(%d+)-(%d+)')
  local fms, fseq = string.match(ARGV[1], '(%d+)-(%d+)')
  if tonumber(fms) > tonumber(lms) or (tonumber(fms) == tonumber(lms) and tonumber(fseq) > tonumber(lseq)) then
    redis.call('XSETID', KEYS[1], ARGV[1])
  end
end
redis.call('HSETNX', KEYS[2], 'closed', '0')
return 1
`;
