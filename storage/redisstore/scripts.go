package redisstore

import "github.com/redis/go-redis/v9"

// Lua scripts. Each touches only keys passed in KEYS, all in one tenant's
// slot, so they run unchanged on Cluster. A script that finds a unique key
// taken returns 1-i for KEYS[i], which is keys[i-1] on the Go side.

// casScript swaps a value if it still holds the expected one, moving
// unique index keys with it.
//
// KEYS[1] value; KEYS[2..] index keys, each claimed ('+') or released ('-')
// as ARGV[i+2] says. ARGV[1] expected value (empty for none); ARGV[2] new
// value; ARGV[3] owner stored in the index keys.
// Returns 1 swapped, 0 value changed, 1-i KEYS[i] held by another owner.
var casScript = redis.NewScript(`
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
for i = 2, #KEYS do
  if ARGV[i + 2] == '+' then
    local o = redis.call('GET', KEYS[i])
    if o and o ~= ARGV[3] then return 1 - i end
  end
end
for i = 2, #KEYS do
  if ARGV[i + 2] == '+' then
    redis.call('SET', KEYS[i], ARGV[3])
  elseif redis.call('GET', KEYS[i]) == ARGV[3] then
    redis.call('DEL', KEYS[i])
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
`)

// createUser stores a new user, its password hash and its index keys.
//
// KEYS[1] user; KEYS[2] password; KEYS[3] set of user IDs; KEYS[4..]
// unique index keys. ARGV[1] user JSON; ARGV[2] password hash (empty for
// none); ARGV[3] user ID.
// Returns 1 created, 0 ID taken, 1-i KEYS[i] taken.
var createUser = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 4, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 1 - i end
end
for i = 4, #KEYS do redis.call('SET', KEYS[i], ARGV[3]) end
redis.call('SET', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2]) end
redis.call('SADD', KEYS[3], ARGV[3])
return 1
`)

// setPassword replaces a user's password hash.
//
// KEYS[1] user; KEYS[2] password. ARGV[1] hash (empty removes it).
// Returns 1 done, 0 no such user.
var setPassword = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] == '' then redis.call('DEL', KEYS[2]) else redis.call('SET', KEYS[2], ARGV[1]) end
return 1
`)

// takeOnce consumes a single-use value stored as '0'..value, leaving the
// tombstone '1'..value.
//
// KEYS[1] value. ARGV[1] milliseconds to keep the tombstone (0: none).
// Returns nil if missing, else {1 if already taken, value}.
var takeOnce = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return false end
local value = string.sub(v, 2)
if string.sub(v, 1, 1) == '1' then return {1, value} end
if tonumber(ARGV[1]) > 0 then
  redis.call('SET', KEYS[1], '1' .. value, 'PX', ARGV[1])
else
  redis.call('DEL', KEYS[1])
end
return {0, value}
`)

// putIndexed stores an expiring value and adds it to a per-user index,
// a sorted set scored by expiry, from which it drops expired members.
//
// KEYS[1] value; KEYS[2] index. ARGV[1] value; ARGV[2] TTL (ms); ARGV[3]
// index member; ARGV[4] expiry (Unix ms); ARGV[5] now (Unix ms); ARGV[6]
// '1' to refuse to overwrite.
// Returns 1 stored, 0 exists.
var putIndexed = redis.NewScript(`
if ARGV[6] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return 1
`)

// rotate marks a refresh token used and stores its successor, or, if it
// was used already, deletes its grant.
//
// KEYS[1] old token; KEYS[2] next token; KEYS[3] their grant. ARGV[1]
// grant ID; ARGV[2] next token JSON; ARGV[3] next token's TTL (ms).
// Returns 1 rotated, 0 token or grant missing, -1 replay (grant deleted),
// -2 the old token belongs to another grant.
var rotate = redis.NewScript(`
local old = redis.call('HMGET', KEYS[1], 'grant', 'used')
if not old[1] then return 0 end
if old[1] ~= ARGV[1] then return -2 end
if old[2] == '1' then
  redis.call('DEL', KEYS[3])
  return -1
end
if redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'used', '1')
redis.call('HSET', KEYS[2], 'token', ARGV[2], 'grant', ARGV[1], 'used', '0')
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
`)

// deleteConsent deletes a consent if it still has the given ID, and its
// entry in the user's index. It reads the ID with cjson, which Redis,
// Valkey and the embedded server all provide.
//
// KEYS[1] consent; KEYS[2] the user's set of client IDs. ARGV[1] consent
// ID; ARGV[2] client ID.
// Returns the deleted consent's JSON, or nil if there is none with the ID.
var deleteConsent = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v or cjson.decode(v).id ~= ARGV[1] then return false end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
return v
`)

// getRefresh reads a refresh token and whether its grant still exists, in
// one round trip. The grant's key is built from ARGV[1], the tenant's grant
// key prefix: it shares the token's hash slot ({t:<tenant>}), so the script
// stays within one Cluster slot.
//
// KEYS[1] token. ARGV[1] grant key prefix.
// Returns nil if missing, else {token JSON, used flag, 1 if the grant exists}.
var getRefresh = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'token', 'grant', 'used')
if not f[1] then return false end
return {f[1], f[3] or '0', redis.call('EXISTS', ARGV[1] .. (f[2] or ''))}
`)

// unhit takes back one hit of a counter, never below zero; DECR keeps the
// key's TTL, so the window does not move.
//
// KEYS[1] counter. Returns the new count, or nil when there is none.
var unhit = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n <= 0 then return false end
return redis.call('DECR', KEYS[1])
`)
