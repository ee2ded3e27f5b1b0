-- Phone number normalisation for Chinese numbering (用于黑名单和号码前缀判断).
--
-- The national form is what rules compare: digits only, no country code.
--   "+86 138-0013-8000", "0086 13800138000", "8613800138000" -> "13800138000"
--   "+86 10 1234 5678" (Beijing landline, E.164)            -> "01012345678"
--   "010-1234 5678"                                          -> "01012345678"
--   "+44 20 7946 0000" (foreign)                             -> "00442079460000"
--   "sip:13800138000@pbx.example" / "tel:+8613800138000"     -> "13800138000"
--
-- Usage: local phone = require("phone")

local M = {}

-- Longest number we accept (ITU E.164 allows 15 digits; plus "00").
M.MAX_DIGITS = 17

--- National form of a dialled number, or nil and the reason it is not a number.
---@param raw string
---@return string|nil national
---@return string|nil err
function M.normalize(raw)
  if type(raw) ~= "string" then
    return nil, "not a string"
  end
  local s = raw
  if s:find(":", 1, true) then
    -- user part of a SIP/SIPS URI, or a tel: URI
    s = s:match("^%s*sips?:([^@;]+)") or s:match("^%s*tel:([^;]+)") or s
  end
  if s:find("[^%d+]") then
    s = s:gsub("[%s%-%.%(%)]", "")
  end
  if s:sub(1, 3) == "+86" then
    s = s:sub(4)
    -- E.164 drops the trunk prefix 0 of landlines: +86 10 xxxxxxxx is 010 xxxxxxxx.
    if not (s:match("^1[3-9]%d%d%d%d%d%d%d%d%d$") or s:sub(1, 1) == "0") then
      s = "0" .. s
    end
  elseif s:sub(1, 4) == "0086" then
    s = s:sub(5)
    if not (s:match("^1[3-9]%d%d%d%d%d%d%d%d%d$") or s:sub(1, 1) == "0") then
      s = "0" .. s
    end
  elseif s:match("^861[3-9]%d%d%d%d%d%d%d%d%d$") then
    -- a mobile with the country code but without "+", as CDRs often write it
    s = s:sub(3)
  elseif s:sub(1, 1) == "+" then
    s = "00" .. s:sub(2)
  end
  if s == "" or s == "0" then
    return nil, "empty number"
  end
  if not s:match("^%d+$") then
    return nil, "not a phone number"
  end
  if #s > M.MAX_DIGITS then
    return nil, "too long"
  end
  return s
end

--- True for an 11-digit mainland mobile number (national form).
---@param n string
---@return boolean
function M.is_mobile(n)
  return n:match("^1[3-9]%d%d%d%d%d%d%d%d%d$") ~= nil
end

--- E.164 form ("+86...") of a national-form number, or nil for short codes
--- (110, 10000, 95xxx...) that have no E.164 form.
---@param n string
---@return string|nil
function M.e164(n)
  if M.is_mobile(n) then
    return "+86" .. n
  end
  if n:sub(1, 2) == "00" then
    return "+" .. n:sub(3)
  end
  if n:sub(1, 1) == "0" and #n >= 10 then
    return "+86" .. n:sub(2)
  end
  return nil
end

return M
