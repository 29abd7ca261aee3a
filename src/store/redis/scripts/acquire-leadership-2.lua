--[[
  Takes the leader lease if it is free (SET with PX), with a new epoch from the counter. The
  holder of an unexpired lease keeps its epoch when it asks again, unless the counter was raised
  past it (then it is a new term with a new epoch).

  Input:
    KEYS[1] lease key ('<epoch>:<holder>', expires)
    KEYS[2] leader epoch counter

    ARGV[1] holder
    ARGV[2] lease duration (ms)

  Output:
    { acquired (1 or 0), epoch, holder }
]]
local epoch = tonumber(redis.call('GET', KEYS[2]) or '0')
local lease = redis.call('GET', KEYS[1])
if lease then
  local separator = string.find(lease, ':', 1, true)
  local leaseEpoch = tonumber(string.sub(lease, 1, separator - 1))
  local leaseHolder = string.sub(lease, separator + 1)
  if leaseHolder ~= ARGV[1] then
    return { 0, leaseEpoch, leaseHolder }
  end
  if leaseEpoch == epoch then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return { 1, epoch, leaseHolder }
  end
end
epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], epoch .. ':' .. ARGV[1], 'PX', ARGV[2])
return { 1, epoch, ARGV[1] }
