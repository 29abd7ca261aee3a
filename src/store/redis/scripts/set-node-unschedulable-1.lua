--[[
  Cordons or uncordons a known node.

  Input:
    KEYS[1] node hash

    ARGV[1] '1' to cordon, '0' to uncordon

  Output:
    the node record JSON
    -8 node not found
]]
local json = redis.call('HGET', KEYS[1], 'json')
if not json then
  return -8
end
redis.call('HSET', KEYS[1], 'unschedulable', ARGV[1])
return json
