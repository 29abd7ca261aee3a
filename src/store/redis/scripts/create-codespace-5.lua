--[[
  Creates a codespace: existence and per-owner quota checks, next resourceVersion, the object,
  both name indexes and one ADDED event, all or nothing.

  Input:
    KEYS[1] codespace key
    KEYS[2] all-names sorted set
    KEYS[3] owner's names sorted set
    KEYS[4] resourceVersion counter
    KEYS[5] events stream

    ARGV[1] name
    ARGV[2] maxPerOwner
    ARGV[3] object JSON before the resourceVersion value
    ARGV[4] object JSON after the resourceVersion value
    ARGV[5] events retained (MAXLEN ~)
    ARGV[6] channel the event is also published on ('' for none)

  Output:
    the new resourceVersion (> 0)
    -2 codespace exists
    -4 owner quota exceeded
]]
if redis.call('EXISTS', KEYS[1]) == 1 then
  return -2
end
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[2]) then
  return -4
end
local rv = redis.call('INCR', KEYS[4])
local json = ARGV[3] .. '"' .. rv .. '"' .. ARGV[4]
-- The event goes first: Redis does not roll a script back, and XADD is the only write here that
-- can still fail (an id not above the stream's last), so then nothing else has been written.
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[5], rv .. '-0', 't', 'ADDED', 'o', json)
redis.call('SET', KEYS[1], json)
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
-- Published last, once everything is written: a subscriber may act on it at once.
if ARGV[6] ~= nil and ARGV[6] ~= '' then
  redis.call('PUBLISH', ARGV[6], rv .. ' ADDED ' .. json)
end
return rv
