-- Outbound blacklist (营销黑名单): the last word before any dial, manual
-- dials included (DOMAIN.md "Blacklist / do-not-call"; seed 001).
--
-- blacklist.check(number, contact, now) denies, in this order:
--   1. a number that does not normalise (lib/phone.lua)  "malformed number: ..."
--   2. the stored do-not-call list (dnc.contains), asked  "dnc"
--      for the national form and for the +86 form
--   3. a number in MALICIOUS below                         "malicious: ..."
--   4. contact.fields.malicious == "true"                  "malicious: flagged on the contact"
--   5. a number in SPECIAL below (emergency, public and    "special number: ..."
--      operator service lines, premium-rate and
--      value-added prefixes)
--   6. a national number shorter than MIN_DIGITS           "short code"
--   7. an international number (our campaigns are          "international number"
--      domestic; also the classic toll-fraud target)
-- and allows everything else. If this script raises an error the host denies
-- the dial ("script error"): it fails closed.
--
-- A denial here is for good: the contact is never dialled again. Rest hours
-- are therefore not checked here but by the dial point's calling window
-- (the campaign's `window:`, in the contact's time zone), whose refusal
-- only waits for the window to open.

local phone = require("phone")

-- A national subscriber number has at least 7 digits (local landline); all
-- shorter numbers are service codes.
local MIN_DIGITS = 7

-- Numbers marked malicious by the marketing team (seed 001: harassment
-- disguised as service requests), national form -> note. Example entry.
local MALICIOUS = {
  ["17099990001"] = "repeated harassment reports (example entry)",
}

-- Special numbers, matched on the national form. `max_len` keeps a prefix
-- from catching ordinary subscriber numbers (16x are also mobile ranges).
---@type { prefix: string, max_len?: integer, reason: string }[]
local SPECIAL = {
  -- emergency (紧急服务)
  { prefix = "110", max_len = 3, reason = "police 110" },
  { prefix = "119", max_len = 3, reason = "fire 119" },
  { prefix = "120", max_len = 3, reason = "ambulance 120" },
  { prefix = "122", max_len = 3, reason = "traffic accidents 122" },
  { prefix = "112", max_len = 3, reason = "mobile emergency 112" },
  { prefix = "999", max_len = 3, reason = "Red Cross ambulance 999" },
  -- public service hotlines (公共服务热线)
  { prefix = "12345", max_len = 5, reason = "government service hotline 12345" },
  { prefix = "12315", max_len = 5, reason = "consumer complaints 12315" },
  { prefix = "12321", max_len = 5, reason = "spam and fraud reporting 12321" },
  -- operator customer-service lines (10000, 10086, 10010, ...)
  { prefix = "100", max_len = 5, reason = "operator service line" },
  -- value-added and premium-rate services (增值业务 / 声讯台)
  { prefix = "106", reason = "SMS service port 106" },
  { prefix = "125", reason = "value-added service code 125" },
  { prefix = "160", max_len = 10, reason = "premium-rate information service 160" },
  { prefix = "168", max_len = 10, reason = "premium-rate information service 168" },
  -- enterprise service numbers (95xxx, 96xxx)
  { prefix = "95", max_len = 6, reason = "enterprise service number 95" },
  { prefix = "96", max_len = 6, reason = "enterprise service number 96" },
}

-- SPECIAL indexed by prefix, and the prefix lengths to try: a few table
-- lookups per check instead of a scan of the list.
local SPECIAL_BY_PREFIX, PREFIX_LENGTHS = {}, {}
do
  local seen = {}
  for _, s in ipairs(SPECIAL) do
    assert(SPECIAL_BY_PREFIX[s.prefix] == nil, "SPECIAL lists " .. s.prefix .. " twice")
    SPECIAL_BY_PREFIX[s.prefix] = s
    if not seen[#s.prefix] then
      seen[#s.prefix] = true
      PREFIX_LENGTHS[#PREFIX_LENGTHS + 1] = #s.prefix
    end
  end
  table.sort(PREFIX_LENGTHS)
end

---@param n string national form
---@return string|nil reason
local function special(n)
  for _, len in ipairs(PREFIX_LENGTHS) do
    if len > #n then
      return nil
    end
    local s = SPECIAL_BY_PREFIX[n:sub(1, len)]
    if s and (s.max_len == nil or #n <= s.max_len) then
      return s.reason
    end
  end
  return nil
end

--- Why `number` must not be dialled now, or nil when it may be.
---@param number string
---@param contact Contact|nil
---@param now integer
---@param on_dnc fun(number: string): boolean
---@return string|nil reason
local function deny_reason(number, contact, now, on_dnc)
  local n, err = phone.normalize(number)
  if n == nil then
    return "malformed number: " .. err
  end
  local e164 = phone.e164(n)
  if on_dnc(n) or (e164 ~= nil and on_dnc(e164)) then
    return "dnc"
  end
  if MALICIOUS[n] then
    return "malicious: " .. MALICIOUS[n]
  end
  if contact and contact.fields and contact.fields.malicious == "true" then
    return "malicious: flagged on the contact"
  end
  local why = special(n)
  if why then
    return "special number: " .. why
  end
  if #n < MIN_DIGITS then
    return "short code"
  end
  if n:sub(1, 2) == "00" then
    return "international number"
  end
  return nil
end

---@param number string
---@param contact Contact|nil
---@param now integer
---@return Verdict
function blacklist.check(number, contact, now)
  local reason = deny_reason(number, contact, now, dnc.contains)
  if reason then
    return blacklist.deny(reason)
  end
  return blacklist.allow()
end

-- Self-checks, run at every load. They pass their own do-not-call lookup:
-- the stored list belongs to the host and its content is unknown here.
local NOON = 1718164800 -- 2024-06-12 12:00:00 +08:00
local NIGHT = NOON + 10 * 3600 -- 22:00
local SH = { id = 1, phone = "+8613800138000", timezone = "Asia/Shanghai", attempts = 0, fields = {} }
local function none(_) return false end
local function listed(n) return n == "13900000000" end

tests = {
  special_numbers = function()
    for _, n in ipairs({ "110", "119", "120", "122", "12345", "10086", "95588", "16812345", "10690000" }) do
      local r = deny_reason(n, SH, NOON, none)
      assert(r and r:find("^special number"), n)
    end
    assert(deny_reason("12399", SH, NOON, none) == "short code")
    -- a mobile in a 16x range is not a premium-rate number
    assert(deny_reason("16612345678", SH, NOON, none) == nil)
  end,

  dnc_and_normalisation = function()
    for _, n in ipairs({ "13900000000", "+86 139 0000 0000", "0086-139-0000-0000", "8613900000000" }) do
      assert(deny_reason(n, SH, NOON, listed) == "dnc", n)
    end
    assert(deny_reason("13800138000", SH, NOON, listed) == nil)
  end,

  malicious = function()
    assert(deny_reason("+86 170 9999 0001", SH, NOON, none):find("^malicious"))
    local flagged = { id = 2, phone = "13800138000", timezone = "Asia/Shanghai", attempts = 0, fields = { malicious = "true" } }
    assert(deny_reason("13800138000", flagged, NOON, none):find("^malicious"))
  end,

  rest_hours_are_the_windows_business = function()
    assert(deny_reason("13800138000", SH, NIGHT, none) == nil)
    assert(deny_reason("13800138000", SH, NOON, none) == nil)
  end,

  malformed = function()
    assert(deny_reason("", SH, NOON, none):find("^malformed"))
    assert(deny_reason("1380013800a", SH, NOON, none):find("^malformed"))
    assert(deny_reason("+44 20 7946 0000", SH, NOON, none) == "international number")
  end,
}
