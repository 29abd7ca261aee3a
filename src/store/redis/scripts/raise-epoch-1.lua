--[[
  Raises the leader epoch counter to at least ARGV[1] (after a store loss, to what nodes have
  seen); never lowers it.

  Input:
    KEYS[1] leader epoch counter

    ARGV[1] minimum epoch

  Output:
    the epoch counter afterwards
]]
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[1])
if current < wanted then
  redis.call('SET', KEYS[1], ARGV[1])
  return wanted
end
return current
