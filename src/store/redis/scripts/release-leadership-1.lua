--[[
  Gives the lease up, only for the holder at its epoch.

  Input:
    KEYS[1] lease key

    ARGV[1] holder
    ARGV[2] epoch

  Output:
    1 released, 0 not held
]]
if redis.call('GET', KEYS[1]) == ARGV[2] .. ':' .. ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
