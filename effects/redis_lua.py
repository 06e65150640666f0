"""The Lua scripts of :class:`~interlingua.effects.redis_store.RedisStore`.

Each script is one atomic transition of a pure state machine in ``core``, written out again in Lua
because Redis can only run Lua: :data:`BREAKER` is :func:`interlingua.core.breaker.step`,
:data:`RATE` is :func:`interlingua.core.ratelimit.acquire`, :data:`RESERVE` and :data:`SETTLE` are
:func:`interlingua.core.budget.reserve`/``settle``/``release``. ``tests/test_redis_store.py`` drives
each pair with the same hypothesis-generated event sequences and compares the states, so the two
cannot drift apart silently.

Numbers leave Lua as ``%.17g`` strings: Redis turns a Lua number reply into an integer (truncating)
and would lose the fractions of times and levels. Money is counted in integer ticks of 1e-10 USD
(exact in a Lua double up to about $900,000). ``now`` is an argument so that tests can pin it; an
empty string means Redis's own ``TIME`` (worker clocks then do not matter).
"""

from __future__ import annotations

__all__ = ["BREAKER", "RATE", "RENEW", "RESERVE", "SETTLE"]

_NOW = """
local function f(x) return string.format('%.17g', x) end
local function num(x, d) if x then return tonumber(x) end return d end
local function server_now(arg, scale)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return (tonumber(t[1]) + tonumber(t[2]) / 1000000) * scale
end
"""

BREAKER = _NOW + """
-- KEYS[1]: the breaker hash. ARGV: signal, generation ('' for a request), now, threshold, cooldown,
-- probes, window, failure_ratio, ttl seconds
local now = server_now(ARGV[3], 1)
local signal = ARGV[1]
local threshold, cooldown, maxprobes = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local window, ratio = tonumber(ARGV[7]), tonumber(ARGV[8])
local h = redis.call('HMGET', KEYS[1], 'phase', 'generation', 'failures', 'outcomes', 'seen', 'opened_at', 'probes')
local phase = h[1] or 'closed'
local gen, failures, outcomes, seen = num(h[2], 0), num(h[3], 0), num(h[4], 0), num(h[5], 0)
local opened, probes = num(h[6], 0), num(h[7], 0)
local old = {phase, f(gen), f(failures), f(outcomes), f(seen), f(opened), f(probes)}
local admitted, changed = 1, false
local function push(bit)
  return (outcomes * 2 + bit) % (2 ^ window), math.min(seen + 1, window)
end
local function bits(x)
  local c = 0
  while x > 0 do c = c + x % 2; x = math.floor(x / 2) end
  return c
end
local function open()
  phase, gen, opened, outcomes, seen, probes, changed = 'open', gen + 1, now, 0, 0, 0, true
end
-- an outcome reported with an older generation changes nothing
if signal == 'request' or tonumber(ARGV[2]) == gen then
  if phase == 'closed' then
    if signal == 'success' then
      if window <= 0 then
        if failures ~= 0 then failures, changed = 0, true end
      else
        outcomes, seen = push(0)
        failures, changed = 0, true
      end
    elseif signal == 'failure' then
      failures = failures + 1
      if window > 0 then outcomes, seen = push(1) else outcomes, seen = 0, 0 end
      changed = true
      if failures >= threshold or (window > 0 and seen >= window and bits(outcomes) >= ratio * seen) then open() end
    end
  elseif phase == 'open' then
    if signal == 'request' then
      if now < opened + cooldown then
        admitted = 0
      else
        phase, gen, outcomes, seen, probes, changed = 'half_open', gen + 1, 0, 0, 1, true
      end
    end
  else
    if signal == 'request' then
      if probes >= maxprobes then admitted = 0 else probes, changed = probes + 1, true end
    elseif signal == 'success' then
      phase, gen, failures, outcomes, seen, opened, probes, changed = 'closed', gen + 1, 0, 0, 0, 0, 0, true
    elseif signal == 'failure' then
      open()
    elseif signal == 'cancel' then
      probes, changed = math.max(0, probes - 1), true
    end
  end
end
if changed then
  redis.call('HSET', KEYS[1], 'phase', phase, 'generation', f(gen), 'failures', f(failures), 'outcomes', f(outcomes),
    'seen', f(seen), 'opened_at', f(opened), 'probes', f(probes))
  redis.call('EXPIRE', KEYS[1], ARGV[9])
end
return {old[1], old[2], old[3], old[4], old[5], old[6], old[7],
  phase, f(gen), f(failures), f(outcomes), f(seen), f(opened), f(probes), admitted, f(now)}
"""

RATE = _NOW + """
-- KEYS: n bucket hashes, then the provider-reported window hashes. ARGV: now, clock scale, n,
-- tokens, bucket ttl, then capacity and amount for each bucket.
local now = server_now(ARGV[1], tonumber(ARGV[2]))
local n, tokens, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local wait = 0
-- like the pure dict of buckets: two rules on one key share (and both take from) one bucket
local cur = {}
for i = 1, n do
  local k, cap, amount = KEYS[i], tonumber(ARGV[4 + 2 * i]), tonumber(ARGV[5 + 2 * i])
  local b = cur[k]
  if b == nil then
    local h = redis.call('HMGET', k, 'capacity', 'per_second', 'level', 'at')
    if h[1] then b = {tonumber(h[1]), tonumber(h[2]), tonumber(h[3]), tonumber(h[4])} end
  end
  if b == nil or b[1] ~= cap then b = {cap, cap / 60.0, cap, now} end
  cur[k] = b
  if amount > b[1] then return {'never', tostring(i)} end
  local lvl = b[3]
  if now > b[4] then lvl = math.min(b[1], b[3] + (now - b[4]) * b[2]) end
  if lvl < amount then wait = math.max(wait, (amount - lvl) / b[2]) end
end
-- Window.wait_for: the provider refills linearly from remaining to limit by reset
local function win_wait(o, base, amount)
  local rem, reset = tonumber(o[base] or ''), tonumber(o[base + 1] or '')
  if rem == nil or reset == nil or now >= reset then return 0 end
  local limit, seen = tonumber(o[base + 2] or ''), tonumber(o[base + 3] or '')
  if limit == nil or seen == nil then
    if rem >= amount then return 0 end
    return reset - now
  end
  amount = math.min(amount, limit)
  local span = reset - seen
  local rate = 0
  if span > 0 then rate = (limit - rem) / span end
  local available = rem + rate * math.max(0, now - seen)
  if available >= amount - 1e-9 then return 0 end
  if rate > 0 then return math.min(reset - now, (amount - available) / rate) end
  return reset - now
end
local names = {'r_rem', 'r_reset', 'r_limit', 'r_obs', 't_rem', 't_reset', 't_limit', 't_obs'}
local seen = {}
for j = n + 1, #KEYS do
  local o = redis.call('HMGET', KEYS[j], unpack(names))
  seen[j] = o
  wait = math.max(wait, win_wait(o, 1, 1), win_wait(o, 5, tokens))
end
if wait > 0 then return {'wait', f(wait)} end
for i = 1, n do
  local k, amount = KEYS[i], tonumber(ARGV[5 + 2 * i])
  local b = cur[k]
  local lvl, at = b[3], b[4]
  if now > at then lvl, at = math.min(b[1], b[3] + (now - at) * b[2]), now end
  b = {b[1], b[2], lvl - amount, math.max(now, at)}
  cur[k] = b
  redis.call('HSET', k, 'capacity', f(b[1]), 'per_second', f(b[2]), 'level', f(b[3]), 'at', f(b[4]))
  redis.call('EXPIRE', k, ttl)
end
-- our own sends count against the provider's figure until its reset; past it, the figure is dropped
for j = n + 1, #KEYS do
  local o = seen[j]
  for w, base in ipairs({1, 5}) do
    local rem, reset = tonumber(o[base] or ''), tonumber(o[base + 1] or '')
    if rem ~= nil and reset ~= nil then
      if now >= reset then
        redis.call('HDEL', KEYS[j], names[base], names[base + 1], names[base + 2], names[base + 3])
      else
        local amount = 1
        if base == 5 then amount = tokens end
        redis.call('HSET', KEYS[j], names[base], f(rem - amount))
      end
    end
  end
end
return {'granted'}
"""

_STATE = """
local h = redis.call('HMGET', KEYS[1], 'spent', 'reserved', 'tokens_used', 'tokens_reserved', 'unpriced_calls')
local spent, reserved, used, treserved, unpriced = num(h[1], 0), num(h[2], 0), num(h[3], 0), num(h[4], 0), num(h[5], 0)
local function save()
  redis.call('HSET', KEYS[1], 'spent', f(spent), 'reserved', f(reserved), 'tokens_used', f(used),
    'tokens_reserved', f(treserved), 'unpriced_calls', f(unpriced))
end
"""

RESERVE = _NOW + _STATE + """
-- KEYS: state hash, leases (sorted set: id -> expiry), lease data (hash: id -> "cost tokens").
-- ARGV: now, cost, tokens, caps cost (1/0), max_cost ('' none), caps tokens, max_tokens, lease
-- seconds, lease id ('' reserves nothing: just reclaim and read)
local now = server_now(ARGV[1], 1)
-- a worker that died holding a reservation gives it back once its lease is over
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, id in ipairs(expired) do
  local d = redis.call('HGET', KEYS[3], id)
  if d then
    local c, t = string.match(d, '^(%S+) (%S+)$')
    reserved, treserved = reserved - tonumber(c), treserved - tonumber(t)
    redis.call('HDEL', KEYS[3], id)
  end
  redis.call('ZREM', KEYS[2], id)
end
local cost, tokens = tonumber(ARGV[2]), tonumber(ARGV[3])
local refused = ''
if ARGV[4] == '1' and ARGV[5] ~= '' and spent + reserved + cost > tonumber(ARGV[5]) then
  refused = 'cost'
elseif ARGV[6] == '1' and ARGV[7] ~= '' and used + treserved + tokens > tonumber(ARGV[7]) then
  refused = 'tokens'
end
if refused == '' and ARGV[9] ~= '' then
  reserved, treserved = reserved + cost, treserved + tokens
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[8]), ARGV[9])
  redis.call('HSET', KEYS[3], ARGV[9], ARGV[2] .. ' ' .. ARGV[3])
  save()
elseif #expired > 0 then
  save()
end
return {refused, f(spent), f(reserved), f(used), f(treserved), f(unpriced)}
"""

SETTLE = _NOW + _STATE + """
-- KEYS as RESERVE. ARGV: lease id, its cost, its tokens, then what the call cost: spent, tokens
-- used, unpriced calls (all zero for a release). A lease already reclaimed was given back then.
if redis.call('HDEL', KEYS[3], ARGV[1]) == 1 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  reserved, treserved = reserved - tonumber(ARGV[2]), treserved - tonumber(ARGV[3])
end
spent, used, unpriced = spent + tonumber(ARGV[4]), used + tonumber(ARGV[5]), unpriced + tonumber(ARGV[6])
save()
return {'', f(spent), f(reserved), f(used), f(treserved), f(unpriced)}
"""

RENEW = _NOW + """
-- KEYS[1]: the leases sorted set. ARGV: now, lease seconds, then the ids this worker still holds.
-- XX: a lease already reclaimed (its holder was too slow) is not brought back.
local now = server_now(ARGV[1], 1)
local n = 0
for i = 3, #ARGV do n = n + redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[i]) end
return {tostring(n)}
"""
