-- wrk script of benches/faults.sh: steady load that rotates through valid tokens and logs every
-- answer with its time, so that the report can cut the run into phases.
--
-- Environment: FAULTS_TOKENS (a file, one token a line), FAULTS_PATH (the route),
-- FAULTS_OUT (the log's prefix: one file per thread, `<prefix>.<thread>`), FAULTS_DELAY_MS
-- (the pause before each request, which bounds the rate).
--
-- Run with as many connections as threads (-tN -cN): each thread then has one connection, whose
-- requests and answers alternate, so each answer belongs to the last request sent. Log lines:
-- `<ms since the epoch> <status> <reason or -> <token index> <ms the answer took>`.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_usec; } faults_timeval;
int gettimeofday(faults_timeval *tv, void *tz);
]]
local tv = ffi.new("faults_timeval")
local function now_ms()
    ffi.C.gettimeofday(tv, nil)
    return tonumber(tv.tv_sec) * 1000 + math.floor(tonumber(tv.tv_usec) / 1000)
end

local counter = 0
function setup(thread)
    counter = counter + 1
    thread:set("id", counter)
end

local tokens = {}
local path = os.getenv("FAULTS_PATH") or "/"
local delay_ms = tonumber(os.getenv("FAULTS_DELAY_MS") or "5")
local next_token = 0
local sent = 0
local sent_at = 0
local log

function init(args)
    for line in io.lines(os.getenv("FAULTS_TOKENS")) do
        if #line > 0 then tokens[#tokens + 1] = line end
    end
    next_token = id % #tokens
    log = io.open(os.getenv("FAULTS_OUT") .. "." .. id, "w")
    log:setvbuf("line")
end

function delay()
    return delay_ms
end

function request()
    next_token = next_token % #tokens + 1
    sent = next_token
    sent_at = now_ms()
    return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. tokens[next_token] })
end

function response(status, headers, body)
    local reason = "-"
    if status ~= 200 and body then
        reason = string.match(body, '"reason"%s*:%s*"([^"]*)"') or "-"
    end
    local t = now_ms()
    log:write(string.format("%d %d %s %d %d\n", t, status, reason, sent, t - sent_at))
end
