/*
 * scripts.c - the Lua scripts the writer runs on the target (scripts.h).
 * Each comment says what the script is given in KEYS and ARGV.
 */
#include "scripts.h"

/* KEYS: tmp; ARGV: elements in tmp before, element... */
const char lua_rpush[] =
    "local n=redis.call('LLEN',KEYS[1]) local e=tonumber(ARGV[1]) "
    "if n==e then return redis.call('RPUSH',KEYS[1],unpack(ARGV,2)) end "
    "if n==0 then return {2,n,e} end "
    "if n>=e+#ARGV-1 then return {1,n,e} end return {0,n,e}";
/* KEYS: tmp; ARGV: bytes in tmp before, bytes */
const char lua_append[] =
    "local n=redis.call('STRLEN',KEYS[1]) local e=tonumber(ARGV[1]) "
    "if n==e then return redis.call('APPEND',KEYS[1],ARGV[2]) end "
    "if n==0 then return {2,n,e} end "
    "if n>=e+#ARGV[2] then return {1,n,e} end return {0,n,e}";
/* KEYS: tmp; ARGV: entries in tmp before, { id nfields f v ... }* */
const char lua_xadd[] =
    "local n=redis.call('XLEN',KEYS[1]) local e=tonumber(ARGV[1]) "
    "local i,c=2,0 while i<=#ARGV do c=c+1 i=i+2+2*tonumber(ARGV[i+1]) end "
    "if n~=e then if n==0 then return {2,n,e} end "
    "if n>=e+c then return {1,n,e} end return {0,n,e} end "
    "i=2 while i<=#ARGV do local k=tonumber(ARGV[i+1]) "
    "redis.call('XADD',KEYS[1],ARGV[i],unpack(ARGV,i+2,i+1+2*k)) "
    "i=i+2+2*k end return n+c";
/*
 * KEYS: tmp, key; ARGV: overwrite (1|0), the command that counts the
 * value, its expected count (-1 unknown), expiry (ms, -1 none).
 * 1 renamed, 0 key existed (tmp dropped), else a check table.  Without
 * tmp: a key in place with the expected count was renamed by an earlier
 * send of this script; an expiry passed explains a tmp gone; anything
 * else is a tmp deleted behind the writer's back.  A tmp short of the
 * count next to a key in place that has it: SADD/HSET/ZADD resent after
 * an earlier send of this script renamed tmp started a stray (those are
 * not worth a script each).
 */
const char lua_finish[] =
    "local e=tonumber(ARGV[3]) "
    "if redis.call('EXISTS',KEYS[1])==0 then "
    "if redis.call('EXISTS',KEYS[2])==1 then "
    "if ARGV[1]=='0' then return 0 end "
    "local d=redis.pcall(ARGV[2],KEYS[2]) "
    "if type(d)=='number' and (e<0 or d==e) then return {1,d,e} end end "
    "if ARGV[4]~='-1' then local t=redis.call('TIME') "
    "if tonumber(t[1])*1000+math.floor(tonumber(t[2])/1000)>="
    "tonumber(ARGV[4]) then return {3,0,e} end end "
    "return {2,0,e} end "
    "local n=redis.call(ARGV[2],KEYS[1]) "
    "if e>=0 and n~=e then "
    "if n<e and redis.call('EXISTS',KEYS[2])==1 and "
    "redis.pcall(ARGV[2],KEYS[2])==e then "
    "redis.call('DEL',KEYS[1]) return {1,e,e} end return {0,n,e} end "
    "if ARGV[1]=='0' and redis.call('EXISTS',KEYS[2])==1 then "
    "redis.call('DEL',KEYS[1]) return 0 end "
    "redis.call('RENAME',KEYS[1],KEYS[2]) return 1";
/*
 * KEYS: tmp; ARGV: a command on tmp (XSETID, XGROUP, XCLAIM).  Resent after
 * an earlier send of the finish script renamed tmp, it must not recreate
 * or fail on it: tmp gone is CK_GONE, and the finish judges.  An XCLAIM
 * that claims nothing names the entry whose message was deleted.
 */
const char lua_ontmp[] =
    "if redis.call('EXISTS',KEYS[1])==0 then return {2,0,0} end "
    "local r=redis.pcall(unpack(ARGV)) "
    "if ARGV[1]=='XCLAIM' and type(r)=='table' and r.err==nil and #r==0 "
    "then return {'missing',ARGV[3],ARGV[4],ARGV[6]} end return r";
/*
 * An empty stream with no history: an entry added and trimmed would leave
 * entries-added 1 (and, before 7.0, no way to reset it), a group created
 * with MKSTREAM and destroyed leaves entries-added 0, max-deleted-id 0-0.
 */
const char lua_empty[] =
    "if redis.call('EXISTS',KEYS[1])==0 then "
    "redis.call('XGROUP','CREATE',KEYS[1],'df2redis','$','MKSTREAM') "
    "redis.call('XGROUP','DESTROY',KEYS[1],'df2redis') end return 1";
/* KEYS: key; ARGV: JSON text, overwrite (1|0), expiry (ms, -1 none) */
const char lua_json[] =
    "if redis.call('EXISTS',KEYS[1])==1 then "
    "if ARGV[2]=='0' then return 0 end redis.call('DEL',KEYS[1]) end "
    "redis.call('JSON.SET',KEYS[1],'$',ARGV[1]) "
    "if ARGV[3]~='-1' then redis.call('PEXPIREAT',KEYS[1],ARGV[3]) end "
    "return 1";

/*
 * The journal's sequence markers (jcmd.c).
 * KEYS: marker, key; ARGV: seq, ttl, command... (PREPEND emulated)
 */
const char lua_seq[] =
    "if tonumber(redis.call('GET',KEYS[1]) or '-1')>=tonumber(ARGV[1]) "
    "then return 'applied' end "
    "redis.call('SET',KEYS[1],ARGV[1],'PX',ARGV[2]) "
    "if ARGV[3]=='PREPEND' then return redis.call('SET',KEYS[2],"
    "ARGV[5]..(redis.call('GET',KEYS[2]) or '')) end "
    "return redis.pcall(unpack(ARGV,3))";
/* KEYS: marker; ARGV: seq.  A later guarded command moved it on: keep. */
const char lua_seqdel[] =
    "if redis.call('GET',KEYS[1])==ARGV[1] then "
    "return redis.call('DEL',KEYS[1]) end return 0";

/* KEYS: key; ARGV: seconds, field...: a hash gets the TTLs, a set not */
const char lua_fieldexpire[] =
    "local t=redis.call('TYPE',KEYS[1]).ok "
    "if t=='hash' then return redis.call('HEXPIRE',KEYS[1],ARGV[1],"
    "'FIELDS',#ARGV-1,unpack(ARGV,2)) end "
    "if t=='none' then return 0 end return 'df2redis:lossy'";

/* KEYS: key; ARGV: member...: FIELDEXPIRE 0 deletes them */
const char lua_fielddel[] =
    "local t=redis.call('TYPE',KEYS[1]).ok "
    "if t=='hash' then return redis.call('HDEL',KEYS[1],unpack(ARGV)) end "
    "if t=='set' then return redis.call('SREM',KEYS[1],unpack(ARGV)) end "
    "return 0";

/*
 * KEYS: key; ARGV: mode (0, NX, FNX or FXX), the HEXPIRE-family command
 * of the new TTL ("": none, or none on this target), its time, KEEPTTL
 * (1|0, only where fields have TTLs), field value...: HSETEX as Dragonfly
 * runs it (jcmd.c jhsetex).  HSET drops a field's TTL; KEEPTTL puts it
 * back and the other fields get the new one.
 */
const char lua_hsetex[] =
    "local k=KEYS[1] local fs={} "
    "if ARGV[1]=='FNX' or ARGV[1]=='FXX' then for i=5,#ARGV,2 do "
    "if (redis.call('HEXISTS',k,ARGV[i])==1)==(ARGV[1]=='FNX') then "
    "return 0 end end end "
    "for i=5,#ARGV,2 do "
    "if ARGV[1]~='NX' or redis.call('HEXISTS',k,ARGV[i])==0 then "
    "local t=-1 if ARGV[4]=='1' then "
    "t=redis.call('HPEXPIRETIME',k,'FIELDS',1,ARGV[i])[1] end "
    "redis.call('HSET',k,ARGV[i],ARGV[i+1]) "
    "if t>0 then redis.call('HPEXPIREAT',k,t,'FIELDS',1,ARGV[i]) "
    "else fs[#fs+1]=ARGV[i] end end end "
    "if #fs>0 and ARGV[2]~='' then "
    "redis.call(ARGV[2],k,ARGV[3],'FIELDS',#fs,unpack(fs)) end "
    "return #fs";

/* KEYS: key; ARGV: IFEQ|IFNE, value */
const char lua_delex[] =
    "local v=redis.call('GET',KEYS[1]) if v==false then return 0 end "
    "if (ARGV[1]=='IFEQ')==(v==ARGV[2]) then "
    "return redis.call('DEL',KEYS[1]) end return 0";
