package redisstore

import "github.com/redis/go-redis/v9"

// Lua scripts. Each touches only keys passed in KEYS, all in one tenant's
// slot (or all in the global slot), so they run unchanged on Cluster. A
// script that finds a unique key taken returns 1-i for KEYS[i], which is
// keys[i-1] on the Go side.
//
// The one-shot scripts made with opScript are idempotent: KEYS[1] is the
// operation's key (opKey) and ARGV[1] how long to keep it (ms). A script
// that changed something records its answer there with did(r); run again
// with the same operation ID (the client resending the command, or
// storage.WithOperation) it answers from the record, through hit, and
// changes nothing. A run that changed nothing records nothing: running it
// again is a new attempt, and the caller only ever sees one answer.

// opScript returns a script that runs body unless the operation in
// KEYS[1] is done, in which case it runs hit, which sees the recorded
// answer as done.
func opScript(hit, body string) *redis.Script {
	return redis.NewScript(`
local done = redis.call('GET', KEYS[1])
if done then ` + hit + ` end
local function did(r)
  redis.call('SET', KEYS[1], r, 'PX', ARGV[1])
  return r
end
` + body)
}

// casScript swaps a value if it still holds the expected one, moving
// unique index keys with it.
//
// KEYS[1] operation; KEYS[2] value; KEYS[3..] index keys, each claimed
// ('+') or released ('-') as ARGV[i+2] says. ARGV[1] operation keep (ms);
// ARGV[2] expected value (empty for none); ARGV[3] new value; ARGV[4] owner
// stored in the index keys.
// Returns 1 swapped, 0 value changed, 1-i KEYS[i] held by another owner;
// for a done operation, the value now stored (a string, ” if none).
var casScript = opScript(`return redis.call('GET', KEYS[2]) or ''`, `
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[2] then return 0 end
for i = 3, #KEYS do
  if ARGV[i + 2] == '+' then
    local o = redis.call('GET', KEYS[i])
    if o and o ~= ARGV[4] then return 1 - i end
  end
end
for i = 3, #KEYS do
  if ARGV[i + 2] == '+' then
    redis.call('SET', KEYS[i], ARGV[4])
  elseif redis.call('GET', KEYS[i]) == ARGV[4] then
    redis.call('DEL', KEYS[i])
  end
end
redis.call('SET', KEYS[2], ARGV[3], 'KEEPTTL')
return did(1)
`)

// createUser stores a new user, its password hash and its index keys.
//
// KEYS[1] operation; KEYS[2] user; KEYS[3] password; KEYS[4] set of user
// IDs; KEYS[5..] unique index keys. ARGV[1] operation keep (ms); ARGV[2]
// user JSON; ARGV[3] password hash (empty for none); ARGV[4] user ID.
// Returns 1 created (also for a done operation), 0 ID taken, 1-i KEYS[i]
// taken.
var createUser = opScript(`return tonumber(done)`, `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
for i = 5, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 1 - i end
end
for i = 5, #KEYS do redis.call('SET', KEYS[i], ARGV[4]) end
redis.call('SET', KEYS[2], ARGV[2])
if ARGV[3] ~= '' then redis.call('SET', KEYS[3], ARGV[3]) end
redis.call('SADD', KEYS[4], ARGV[4])
return did(1)
`)

// createNX stores a value unless its key exists and, when KEYS[3] is
// given, adds a member to that set in the same step.
//
// KEYS[1] operation; KEYS[2] value; KEYS[3] set (optional). ARGV[1]
// operation keep (ms); ARGV[2] value; ARGV[3] TTL (ms, 0 for none);
// ARGV[4] set member.
// Returns 1 stored (also for a done operation), 0 exists.
var createNX = opScript(`return tonumber(done)`, `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[2], ARGV[2])
end
if KEYS[3] then redis.call('SADD', KEYS[3], ARGV[4]) end
return did(1)
`)

// claimField takes a field of a global index hash.
//
// KEYS[1] operation (in the global slot); KEYS[2] hash. ARGV[1] operation
// keep (ms); ARGV[2] field; ARGV[3] owner.
// Returns 1 claimed (also for a done operation), 0 taken.
var claimField = opScript(`return tonumber(done)`, `
if redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3]) == 0 then return 0 end
return did(1)
`)

// setPassword replaces a user's password hash; running it twice is
// running it once.
//
// KEYS[1] user; KEYS[2] password. ARGV[1] hash (empty removes it).
// Returns 1 done, 0 no such user.
var setPassword = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] == '' then redis.call('DEL', KEYS[2]) else redis.call('SET', KEYS[2], ARGV[1]) end
return 1
`)

// takeOnce consumes a single-use value stored as '0'..value, leaving the
// tombstone '2'..op..at..value: the operation ID that took it (opIDLen
// characters) and the time it was taken (Unix ms, 16 digits). A tombstone
// '1'..value, written before operations were recorded, names neither.
//
// KEYS[1] value. ARGV[1] milliseconds to keep the tombstone (0: none);
// ARGV[2] operation ID; ARGV[3] now (Unix ms, 16 digits).
// Returns nil if missing, else {0, value} taken now or by this operation
// before, or {1, value, taken at or ”} taken by another.
var takeOnce = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return false end
local kind = string.sub(v, 1, 1)
if kind == '2' then
  local value = string.sub(v, 40)
  if string.sub(v, 2, 23) == ARGV[2] then return {0, value} end
  return {1, value, string.sub(v, 24, 39)}
end
local value = string.sub(v, 2)
if kind == '1' then return {1, value, ''} end
if tonumber(ARGV[1]) > 0 then
  redis.call('SET', KEYS[1], '2' .. ARGV[2] .. ARGV[3] .. value, 'PX', ARGV[1])
else
  redis.call('DEL', KEYS[1])
end
return {0, value}
`)

// putIndexed stores an expiring value and adds it to a per-user index,
// a sorted set scored by expiry, from which it drops expired members.
//
// KEYS[1] operation; KEYS[2] value; KEYS[3] index; KEYS[4], optional, a
// tombstone whose presence refuses the value as if it existed. ARGV[1]
// operation keep (ms); ARGV[2] value; ARGV[3] TTL (ms); ARGV[4] index
// member; ARGV[5] expiry (Unix ms); ARGV[6] now (Unix ms); ARGV[7] '1' to
// refuse to overwrite.
// Returns 1 stored (also for a done operation), 0 exists.
var putIndexed = opScript(`return tonumber(done)`, `
if ARGV[7] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if KEYS[4] and redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[6])
if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[3], ARGV[3]) end
return did(1)
`)

// rotate marks a refresh token used and stores its successor, or, if it
// was used already, recognises the same rotation or deletes the grant. The
// old token's hash records the rotation: op (its operation ID), next (the
// successor's hash), at (Unix ms) and sealed (the successor sealed for the
// old token's holder).
//
// KEYS[1] old token; KEYS[2] next token; KEYS[3] their grant; KEYS[4] the
// grant's tombstone, set when a replay deletes it. ARGV[1]
// grant ID; ARGV[2] next token JSON; ARGV[3] next token's TTL (ms);
// ARGV[4] operation ID; ARGV[5] now (Unix ms); ARGV[6] reuse window (ms);
// ARGV[7] next token's hash; ARGV[8] sealed successor; ARGV[9] the
// tenant's refresh-token key prefix, to which the recorded successor's
// hash is appended (same slot, as in getRefresh); ARGV[10] the tombstone's
// lifetime (ms). A window of 0 is none.
// Returns 1 rotated (now, or by this operation before), 2 the same
// rotation repeated within the window while the successor is unused and
// the grant live, 3 rotated to another successor by a concurrent request
// within that window (nothing changed), 0 token or grant missing, -1
// replay (grant deleted), -2 the old token belongs to another grant.
var rotate = redis.NewScript(`
local old = redis.call('HMGET', KEYS[1], 'grant', 'used', 'op', 'next', 'at')
if not old[1] then return 0 end
if old[1] ~= ARGV[1] then return -2 end
if old[2] == '1' then
  if old[3] == ARGV[4] then return 1 end
  if old[4] and tonumber(ARGV[6]) > 0 and tonumber(ARGV[5]) <= (tonumber(old[5]) or 0) + tonumber(ARGV[6])
    and redis.call('EXISTS', KEYS[3]) == 1
    and redis.call('HGET', ARGV[9] .. old[4], 'used') == '0' then
    if old[4] == ARGV[7] then return 2 end
    return 3
  end
  redis.call('DEL', KEYS[3])
  redis.call('SET', KEYS[4], '1', 'PX', ARGV[10])
  return -1
end
if redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'used', '1', 'op', ARGV[4], 'next', ARGV[7], 'at', ARGV[5], 'sealed', ARGV[8])
redis.call('HSET', KEYS[2], 'token', ARGV[2], 'grant', ARGV[1], 'used', '0')
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
`)

// saveRefresh stores a refresh token unless one is stored under its hash,
// so that a resent command never resets a token rotated meanwhile.
//
// KEYS[1] token. ARGV[1] token JSON; ARGV[2] grant ID; ARGV[3] TTL (ms).
// Returns 1 stored, 0 kept.
var saveRefresh = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'grant', ARGV[2], 'used', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

// deleteConsent deletes a consent if it still has the given ID, and its
// entry in the user's index. It reads the ID with cjson, which Redis,
// Valkey and the embedded server all provide.
//
// KEYS[1] operation; KEYS[2] consent; KEYS[3] the user's set of client
// IDs. ARGV[1] operation keep (ms); ARGV[2] consent ID; ARGV[3] client ID.
// Returns the deleted consent's JSON (also for a done operation), or nil
// if there is none with the ID.
var deleteConsent = opScript(`return done`, `
local v = redis.call('GET', KEYS[2])
if not v or cjson.decode(v).id ~= ARGV[2] then return false end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[3])
return did(v)
`)

// getRefresh reads a refresh token and whether its grant still exists, in
// one round trip. The grant's key is built from ARGV[1], the tenant's grant
// key prefix: it shares the token's hash slot ({t:<tenant>}), so the script
// stays within one Cluster slot.
//
// KEYS[1] token. ARGV[1] grant key prefix.
// Returns nil if missing, else {token JSON, used flag, 1 if the grant
// exists, rotated at (Unix ms) or ”, sealed successor or ”}.
var getRefresh = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'token', 'grant', 'used', 'at', 'sealed')
if not f[1] then return false end
return {f[1], f[3] or '0', redis.call('EXISTS', ARGV[1] .. (f[2] or '')), f[4] or '', f[5] or ''}
`)

// hit counts one event: the first hit of a window starts its TTL.
//
// KEYS[1] operation; KEYS[2] counter. ARGV[1] operation keep (ms);
// ARGV[2] window (ms).
// Returns the new count (for a done operation, the count it returned).
var hit = opScript(`return tonumber(done)`, `
local n = redis.call('INCR', KEYS[2])
if redis.call('PTTL', KEYS[2]) < 0 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return did(n)
`)

// unhit takes back one hit of a counter, never below zero; DECR keeps the
// key's TTL, so the window does not move.
//
// KEYS[1] operation; KEYS[2] counter. ARGV[1] operation keep (ms).
// Returns the new count, or nil when there is none.
var unhit = opScript(`return tonumber(done)`, `
local n = tonumber(redis.call('GET', KEYS[2]) or '0')
if n <= 0 then return false end
return did(redis.call('DECR', KEYS[2]))
`)

// appendAudit appends an event to a tenant's audit stream, trimming it.
//
// KEYS[1] operation; KEYS[2] stream. ARGV[1] operation keep (ms); ARGV[2]
// about how many entries to keep; ARGV[3] field; ARGV[4] event JSON.
// Returns the entry ID (for a done operation, the ID it returned).
var appendAudit = opScript(`return done`, `
return did(redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', ARGV[3], ARGV[4]))
`)
