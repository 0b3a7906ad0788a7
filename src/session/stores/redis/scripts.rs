//! The Lua scripts of [`RedisStore`](super::RedisStore): each one atomic step on the keys of one
//! session (or one key), so that instances racing on a session agree.

/// Rotation, the grace window and reuse detection, in one atomic step on one session's keys.
/// A presented hash that is neither current nor the grace window's predecessor belongs to a
/// token the service issued for this session (the caller verified its MAC), so it was rotated
/// before: reuse.
///
/// KEYS: 1 session hash, 2 grace hash, 3 ended marker.
/// ARGV: 1 presented hash, 2 successor hash, 3 sealed successor, 4 now (ms), 5 idle timeout
/// (ms), 6 grace window (ms), 7 how long an ended session is remembered (ms), 8 `1` to record
/// the client, 9 its user agent, 10 its address (empty for none), 11 the invalidation channel.
pub(super) const ROTATE: &str = r#"
local s = redis.call('HMGET', KEYS[1], 'sub', 'abs', 'cur', 'cexp')
if not s[1] then return {'unknown'} end
local now = tonumber(ARGV[4])
local abs = tonumber(s[2])
local cexp = tonumber(s[4])
if now >= abs or now >= cexp then return {'expired'} end
if s[3] == ARGV[1] then
  local exp = math.min(now + tonumber(ARGV[5]), abs)
  redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'cexp', string.format('%.0f', exp), 'lr', ARGV[4])
  if ARGV[8] == '1' then
    local ua = ARGV[9]
    redis.call('HSET', KEYS[1], 'ua', string.sub(ua, 1, 64), 'ua2', string.sub(ua, 65, 128), 'ua3', string.sub(ua, 129, 192), 'ua4', string.sub(ua, 193, 256), 'ip', ARGV[10])
  end
  redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.max(exp - now, 1)))
  local grace = tonumber(ARGV[6])
  if grace > 0 then
    redis.call('HSET', KEYS[2], 'p', ARGV[1], 'u', string.format('%.0f', now + grace), 's', ARGV[3])
    redis.call('PEXPIRE', KEYS[2], string.format('%.0f', grace))
  else
    redis.call('DEL', KEYS[2])
  end
  return {'rotated', string.format('%.0f', exp)}
end
local g = redis.call('HMGET', KEYS[2], 'p', 'u', 's')
if g[1] == ARGV[1] and g[3] and now < tonumber(g[2]) then
  return {'grace', g[3]}
end
redis.call('DEL', KEYS[1], KEYS[2])
local keep = tonumber(ARGV[7])
if keep > 0 then
  local old = tonumber(redis.call('GET', KEYS[3]) or '0') or 0
  if now + keep > old then
    redis.call('SET', KEYS[3], string.format('%.0f', now + keep), 'PX', string.format('%.0f', keep))
  end
end
tjwt_inv(ARGV[11], KEYS[1]) tjwt_inv(ARGV[11], KEYS[3]) -- local view (view.rs)
return {'reused', s[1]}
"#;

/// Opens a session unless its id is taken. The user agent (at most 256 bytes) is kept in four
/// fields of at most 64 bytes (`ua`, `ua2`, `ua3`, `ua4`), so that the hash keeps Redis's
/// compact encoding (`hash-max-listpack-value` 64): a longer value would convert it and more
/// than double its memory.
///
/// KEYS: 1 session hash. ARGV: 1 sub, 2 data, 3 absolute expiry (ms), 4 first token hash,
/// 5 its expiry (ms), 6 TTL (ms), 7 issuer, 8 opened at (ms), 9 user agent, 10 address (empty
/// for none), 11 the invalidation channel.
pub(super) const CREATE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local ua = ARGV[9]
redis.call('HSET', KEYS[1], 'sub', ARGV[1], 'data', ARGV[2], 'abs', ARGV[3], 'cur', ARGV[4], 'cexp', ARGV[5], 'iss', ARGV[7], 'ct', ARGV[8], 'lr', ARGV[8], 'ua', string.sub(ua, 1, 64), 'ua2', string.sub(ua, 65, 128), 'ua3', string.sub(ua, 129, 192), 'ua4', string.sub(ua, 193, 256), 'ip', ARGV[10])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
tjwt_inv(ARGV[11], KEYS[1]) -- local view (view.rs)
return 1
"#;

/// Ends a session: drops its state (when it is of the issuer) and remembers it as ended.
///
/// KEYS: 1 session hash, 2 grace hash, 3 ended marker (of the issuer). ARGV: 1 now (ms), 2 how
/// long (ms), 3 issuer, 4 the invalidation channel. Returns {sub or false, 1 when the session was live}.
pub(super) const END: &str = r#"
local s = redis.call('HMGET', KEYS[1], 'sub', 'abs', 'cexp', 'iss')
local now = tonumber(ARGV[1])
local live = 0
if s[1] and (s[4] or '') ~= ARGV[3] then s[1] = false end
if s[1] then
  if now < tonumber(s[2]) and now < tonumber(s[3]) then live = 1 end
  redis.call('DEL', KEYS[1], KEYS[2])
end
local keep = tonumber(ARGV[2])
if keep > 0 then
  local old = tonumber(redis.call('GET', KEYS[3]) or '0') or 0
  if now + keep > old then
    redis.call('SET', KEYS[3], string.format('%.0f', now + keep), 'PX', ARGV[2])
  end
end
tjwt_inv(ARGV[4], KEYS[1]) tjwt_inv(ARGV[4], KEYS[3]) -- local view (view.rs)
return {s[1], live}
"#;

/// Sets a revocation marker to `until` unless it already lasts longer.
///
/// KEYS: 1 marker. ARGV: 1 until (ms), 2 TTL (ms), 3 the invalidation channel.
pub(super) const SET_MAX: &str = r#"
local old = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tonumber(ARGV[1]) > old then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  tjwt_inv(ARGV[3], KEYS[1]) -- local view (view.rs)
end
return 1
"#;

/// Sets a subject's cutoff, keeping the later cutoff and the longer life of an existing one.
///
/// KEYS: 1 cutoff. ARGV: 1 until (ms), 2 cutoff (ms), 3 now (ms), 4 the invalidation channel.
pub(super) const CUTOFF: &str = r#"
local untl = tonumber(ARGV[1])
local cutoff = tonumber(ARGV[2])
local old = redis.call('GET', KEYS[1])
if old then
  local i = string.find(old, ':', 1, true)
  if i then
    local ou = tonumber(string.sub(old, 1, i - 1)) or 0
    local oc = tonumber(string.sub(old, i + 1)) or 0
    if ou > untl then untl = ou end
    if oc > cutoff then cutoff = oc end
  end
end
local ttl = math.max(untl - tonumber(ARGV[3]), 1)
redis.call('SET', KEYS[1], string.format('%.0f', untl) .. ':' .. string.format('%.0f', cutoff), 'PX', string.format('%.0f', ttl))
tjwt_inv(ARGV[4], KEYS[1]) -- local view (view.rs)
return 1
"#;

/// Adds a session to its subject's index, prunes entries older than the absolute lifetime, and
/// takes out the oldest sessions beyond the cap (never the new one): one atomic step on the
/// subject's slot, so that logins racing on one subject agree on which sessions the cap ends.
///
/// KEYS: 1 the index. ARGV: 1 opened at (ms, the score), 2 the new session id, 3 the oldest
/// opening time still live (ms), 4 the index's TTL (ms), 5 the cap (0: none), 6 the most
/// sessions one login ends. Returns the ids taken out, for the caller to end in their slots.
pub(super) const INDEX: &str = r#"
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4], 'NX')
redis.call('PEXPIRE', KEYS[1], ARGV[4], 'GT')
local cap = tonumber(ARGV[5])
if cap == 0 then return {} end
local over = redis.call('ZCARD', KEYS[1]) - cap
if over <= 0 then return {} end
over = math.min(over, tonumber(ARGV[6]))
local out = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, over)) do
  if #out < over and sid ~= ARGV[2] then
    redis.call('ZREM', KEYS[1], sid)
    out[#out + 1] = sid
  end
end
return out
"#;
