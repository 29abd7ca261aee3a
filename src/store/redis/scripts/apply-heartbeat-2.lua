--[[
  Records a node's heartbeat unless it is late or a duplicate (same boot id, sequence not
  newer). The operator's `unschedulable` lives in its own field, so beats never overwrite it.

  Input:
    KEYS[1] node hash
    KEYS[2] node names sorted set

    ARGV[1] node name
    ARGV[2] boot id
    ARGV[3] sequence
    ARGV[4] node record JSON (without operator fields)

  Output:
    { accepted (1 or 0), node record JSON now stored, unschedulable ('1' or '0') }
]]
local stored = redis.call('HMGET', KEYS[1], 'bootId', 'sequence', 'json', 'unschedulable')
local unschedulable = stored[4] or '0'
if stored[1] == ARGV[2] and tonumber(stored[2]) >= tonumber(ARGV[3]) then
  return { 0, stored[3], unschedulable }
end
redis.call('HSET', KEYS[1], 'bootId', ARGV[2], 'sequence', ARGV[3], 'json', ARGV[4], 'unschedulable', unschedulable)
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return { 1, ARGV[4], unschedulable }
