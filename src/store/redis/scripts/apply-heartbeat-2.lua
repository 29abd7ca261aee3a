--[[
  Records a node's heartbeat unless it is late or a duplicate: same boot id and a sequence not
  newer, or a boot id the node has since left (kept in `retiredBootIds`, a JSON array, newest
  first, at most ARGV[5] long). The operator's `unschedulable` lives in its own field, so beats
  never overwrite it. With ARGV[6] set, a node recorded under another fleet is refused (-9): the
  fleet check and the write are one round trip, and no beat can slip in between them.

  Input:
    KEYS[1] node hash
    KEYS[2] node names sorted set

    ARGV[1] node name
    ARGV[2] boot id
    ARGV[3] sequence
    ARGV[4] node record JSON (without operator fields)
    ARGV[5] how many retired boot ids to remember
    ARGV[6] the fleet the node must belong to if already recorded ('' = no check)
    ARGV[7] the beat's fleet (recorded for that check)
    ARGV[8] the orchestrator's clock when received, ms (recorded: list readers compare it to
            know whether a record changed without reading its JSON)

  Output:
    accepted: { 1, '', unschedulable ('1' or '0') } (the caller holds the JSON it sent)
    refused as late: { 0, node record JSON stored, unschedulable }
    -9 the node is recorded under another fleet
]]
local stored = redis.call('HMGET', KEYS[1], 'bootId', 'sequence', 'json', 'unschedulable', 'retiredBootIds', 'fleet')
if ARGV[6] ~= '' and stored[3] then
  -- Records written before the fleet had a field of its own carry it only in their JSON.
  local fleet = stored[6] or string.match(stored[3], '"fleet":"([^"]*)"')
  if fleet and fleet ~= ARGV[6] then
    return -9
  end
end
local unschedulable = stored[4] or '0'
if stored[1] == ARGV[2] and tonumber(stored[2]) >= tonumber(ARGV[3]) then
  return { 0, stored[3], unschedulable }
end
local retired = {}
if stored[5] then
  retired = cjson.decode(stored[5])
end
for _, bootId in ipairs(retired) do
  if bootId == ARGV[2] then
    return { 0, stored[3], unschedulable }
  end
end
if stored[1] and stored[1] ~= ARGV[2] then
  table.insert(retired, 1, stored[1])
  local max = tonumber(ARGV[5])
  while #retired > max do
    table.remove(retired)
  end
end
local retiredJson = '[]'
if #retired > 0 then
  retiredJson = cjson.encode(retired)
end
redis.call('HSET', KEYS[1], 'bootId', ARGV[2], 'sequence', ARGV[3], 'json', ARGV[4], 'unschedulable', unschedulable,
  'retiredBootIds', retiredJson, 'fleet', ARGV[7], 'receivedAtMs', ARGV[8])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return { 1, '', unschedulable }
