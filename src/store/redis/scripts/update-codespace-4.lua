--[[
  Replaces a codespace if it is still at the expected resourceVersion (compare-and-set), and,
  when fenced, only if the writer's leader epoch is the current one. One MODIFIED event.

  Input:
    KEYS[1] codespace key
    KEYS[2] resourceVersion counter
    KEYS[3] events stream
    KEYS[4] leader epoch counter

    ARGV[1] expected resourceVersion
    ARGV[2] fencing leader epoch, or '' for an unfenced write
    ARGV[3] owner (immutable)
    ARGV[4] object JSON before the resourceVersion value
    ARGV[5] object JSON after the resourceVersion value
    ARGV[6] events retained (MAXLEN ~)
    ARGV[7] channel the event is also published on ('' for none)

  Output:
    the new resourceVersion (> 0)
    -1 codespace not found
    -3 resourceVersion conflict
    -5 stale leader epoch
    -7 owner changed
]]
if ARGV[2] ~= '' and (redis.call('GET', KEYS[4]) or '0') ~= ARGV[2] then
  return -5
end
local current = redis.call('GET', KEYS[1])
if not current then
  return -1
end
local metadata = cjson.decode(current).metadata
if metadata.resourceVersion ~= ARGV[1] then
  return -3
end
if metadata.owner ~= ARGV[3] then
  return -7
end
local rv = redis.call('INCR', KEYS[2])
local json = ARGV[4] .. '"' .. rv .. '"' .. ARGV[5]
-- Event first: if XADD fails, the object is untouched (see create-codespace-5.lua).
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], rv .. '-0', 't', 'MODIFIED', 'o', json)
redis.call('SET', KEYS[1], json)
-- Published last, once everything is written: a subscriber may act on it at once.
if ARGV[7] ~= nil and ARGV[7] ~= '' then
  redis.call('PUBLISH', ARGV[7], rv .. ' MODIFIED ' .. json)
end
return rv
