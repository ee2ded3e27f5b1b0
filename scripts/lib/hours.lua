-- Rest hours and local wall-clock time, shared by segments.lua (retry times)
-- and blacklist.lua (no dialling at night).
--
-- Local time of a contact:
--   * `contact.timezone` named in ZONES below (or written "+08:00" / "UTC+8"):
--     computed from a fixed UTC offset. No daylight-saving rules: the offsets
--     are right for China and most of East Asia all year, and off by one
--     hour in summer for zones that shift.
--   * no timezone, or one this table does not know: the local time of the
--     switch (os.date("*t"), i.e. the TZ of the waihu process).
--
-- Usage: local hours = require("hours")

local M = {}

-- Calls are allowed from REST_END:00 until REST_START:00 local time.
-- With REST_START > REST_END the rest period wraps midnight (21:00-09:00).
M.REST_START = 21
M.REST_END = 9

local HOUR = 3600
local DAY = 86400

-- Fixed UTC offsets in seconds. Extend as campaigns need; unknown names fall
-- back to the switch's local time (and are logged once per Lua state).
M.ZONES = {
  ["Asia/Shanghai"] = 8 * HOUR,
  ["Asia/Chongqing"] = 8 * HOUR,
  ["Asia/Harbin"] = 8 * HOUR,
  ["Asia/Hong_Kong"] = 8 * HOUR,
  ["Asia/Macau"] = 8 * HOUR,
  ["Asia/Taipei"] = 8 * HOUR,
  ["Asia/Singapore"] = 8 * HOUR,
  ["Asia/Kuala_Lumpur"] = 8 * HOUR,
  ["Asia/Manila"] = 8 * HOUR,
  ["Asia/Tokyo"] = 9 * HOUR,
  ["Asia/Seoul"] = 9 * HOUR,
  ["Asia/Bangkok"] = 7 * HOUR,
  ["Asia/Jakarta"] = 7 * HOUR,
  ["Asia/Ho_Chi_Minh"] = 7 * HOUR,
  ["Asia/Kolkata"] = 5 * HOUR + 1800,
  ["UTC"] = 0,
  ["Etc/UTC"] = 0,
}

local warned = {}

--- UTC offset in seconds for a timezone name, or nil for "use the switch's
--- local time".
---@param tz string|nil
---@return integer|nil
function M.offset(tz)
  if tz == nil or tz == "" then
    return nil
  end
  local known = M.ZONES[tz]
  if known then
    return known
  end
  -- "+08:00", "-05:30", "UTC+8", "GMT+08:00"
  local sign, h, m = tz:match("^[UTCGM]*([+-])(%d%d?):?(%d?%d?)$")
  if sign then
    local off = tonumber(h) * HOUR + (tonumber(m) or 0) * 60
    if off <= 14 * HOUR then
      return sign == "-" and -off or off
    end
  end
  if not warned[tz] then
    warned[tz] = true
    log.warn("hours: unknown timezone '" .. tz .. "', using the switch's local time")
  end
  return nil
end

--- Local calendar fields of `t` ({ year, month, day, hour, min, sec, ... }).
---@param t integer unix seconds
---@param tz string|nil
---@return osdate
function M.clock(t, tz)
  local off = M.offset(tz)
  if off then
    return os.date("!*t", t + off) --[[@as osdate]]
  end
  return os.date("*t", t) --[[@as osdate]]
end

--- Unix time of local wall-clock `hour:min` on the local date of `t` plus `days`.
---@param t integer
---@param tz string|nil
---@param days integer
---@param hour integer
---@param min integer
---@return integer
function M.at(t, tz, days, hour, min)
  local off = M.offset(tz)
  if off then
    local loc = t + off
    local midnight = loc - loc % DAY
    return midnight + days * DAY + hour * HOUR + min * 60 - off
  end
  local d = os.date("*t", t)
  -- os.time normalises day overflow (31 + 1 -> next month) and finds the DST
  -- flag itself when isdst is nil.
  return os.time({ year = d.year, month = d.month, day = d.day + days, hour = hour, min = min, sec = 0 })
end

---@param hour integer
---@return boolean
local function rest_hour(hour)
  if M.REST_START > M.REST_END then
    return hour >= M.REST_START or hour < M.REST_END
  end
  return hour >= M.REST_START and hour < M.REST_END
end

--- Local hour (0-23) of `t`. Cheaper than clock(): blacklist.check runs
--- before every dial.
---@param t integer
---@param tz string|nil
---@return integer
function M.hour(t, tz)
  local off = M.offset(tz)
  if off then
    return (t + off) % DAY // HOUR
  end
  return os.date("*t", t).hour
end

--- True when `t` falls inside the rest hours of the timezone.
---@param t integer
---@param tz string|nil
---@return boolean
function M.in_rest(t, tz)
  return rest_hour(M.hour(t, tz))
end

--- `t` itself when calls are allowed then, else the end of that rest period.
---@param t integer
---@param tz string|nil
---@return integer
function M.next_open(t, tz)
  local hour = M.hour(t, tz)
  if not rest_hour(hour) then
    return t
  end
  if M.REST_START > M.REST_END and hour >= M.REST_START then
    return M.at(t, tz, 1, M.REST_END, 0)
  end
  return M.at(t, tz, 0, M.REST_END, 0)
end

return M
