--[[
  Extends the lease if `holder` still holds it at `epoch` and no later epoch was granted.

  Input:
    KEYS[1] lease key
    KEYS[2] leader epoch counter

    ARGV[1] holder
    ARGV[2] epoch
    ARGV[3] lease duration (ms)

  Output:
    1 renewed, 0 leadership lost
]]
if redis.call('GET', KEYS[1]) ~= ARGV[2] .. ':' .. ARGV[1] then
  return 0
end
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[2] then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
