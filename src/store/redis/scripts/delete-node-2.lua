--[[
  Forgets a node (a no-op for an unknown one).

  Input:
    KEYS[1] node hash
    KEYS[2] node names sorted set

    ARGV[1] node name

  Output:
    1 if the node existed, 0 otherwise
]]
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
