--[[
  Removes a codespace if it is still at the expected resourceVersion (compare-and-set), when
  fenced only for the current leader epoch, and when asked only if it was marked for deletion.
  Drops it from both name indexes and appends one DELETED event carrying its last state.

  Input:
    KEYS[1] codespace key
    KEYS[2] all-names sorted set
    KEYS[3] owner's names sorted set
    KEYS[4] resourceVersion counter
    KEYS[5] events stream
    KEYS[6] leader epoch counter

    ARGV[1] name
    ARGV[2] expected resourceVersion
    ARGV[3] fencing leader epoch, or '' for an unfenced write
    ARGV[4] '1' to require metadata.deletionTimestamp, '0' otherwise
    ARGV[5] last-state JSON before the resourceVersion value
    ARGV[6] last-state JSON after the resourceVersion value
    ARGV[7] events retained (MAXLEN ~)
    ARGV[8] channel the event is also published on ('' for none)

  Output:
    the new resourceVersion (> 0)
    -1 codespace not found
    -3 resourceVersion conflict
    -5 stale leader epoch
    -6 not marked for deletion
]]
if ARGV[3] ~= '' and (redis.call('GET', KEYS[6]) or '0') ~= ARGV[3] then
  return -5
end
local current = redis.call('GET', KEYS[1])
if not current then
  return -1
end
local metadata = cjson.decode(current).metadata
if metadata.resourceVersion ~= ARGV[2] then
  return -3
end
if ARGV[4] == '1' and metadata.deletionTimestamp == nil then
  return -6
end
local rv = redis.call('INCR', KEYS[4])
local json = ARGV[5] .. '"' .. rv .. '"' .. ARGV[6]
-- Event first: if XADD fails, the object is untouched (see create-codespace-5.lua).
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[7], rv .. '-0', 't', 'DELETED', 'o', json)
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
-- Published last, once everything is written: a subscriber may act on it at once.
if ARGV[8] ~= nil and ARGV[8] ~= '' then
  redis.call('PUBLISH', ARGV[8], rv .. ' DELETED ' .. json)
end
return rv
