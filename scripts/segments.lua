-- Segmentation and retry policy of outbound campaigns (客户细分与重拨策略).
--
-- campaign.select_mode(contact): how a contact is dialled, by segment
-- (DOMAIN.md "Dialling modes"):
--
--   segment (fields.segment)           mode         priority  agent
--   vip, or fields.vip == "true"       preview      100       last agent if known
--     ... and fields.vip_manual=="true" manual      100       last agent if known
--   loyal (忠诚客户)                    preview       80       last agent if known
--   new, inactive 20..149 days         preview       60       last agent if known
--   new, inactive >= 150 days          predictive    40       -  (new-product pitch)
--   anything else (unknown segment,    progressive   20       -
--     new without inactive_days, ...)
--   prospect (潜在客户)                 predictive    10       -
--
-- The new-product pitch has no field of its own in the mode choice: it is
-- signalled by PRIORITY.new_product_pitch (40, used by no other rule) and an
-- info log line "new-product pitch" with the contact id. The campaign that
-- runs those contacts is expected to carry the pitch in its own script.
--
-- campaign.next_attempt(contact, outcome, attempts, now): when to call again
-- (DOMAIN.md "Outcomes, retries"): spacing per outcome in RETRY below, never
-- more than MAX_ATTEMPTS attempts per contact (the "seven-times rule" of
-- seed 001; a contact may lower or raise it with fields.max_attempts), and
-- never inside rest hours (lib/hours.lua: 21:00-09:00 local).

local hours = require("hours")

-- Segmentation thresholds, in days without activity.
local LONG_INACTIVE_DAYS = 150 -- "about six months": predictive + new-product pitch
local RECENT_INACTIVE_DAYS = 20 -- "about a month": preview by the last agent

local PRIORITY = {
  vip = 100,
  loyal = 80,
  recently_inactive = 60,
  new_product_pitch = 40,
  default = 20,
  prospect = 10,
}

-- Attempts per contact, the shipped default (seed 001: 营销"七次规则").
local MAX_ATTEMPTS = 7

-- Local hour at which next-day call-backs are placed.
local CALLBACK_HOUR = 10

local MINUTE, HOUR, DAY = 60, 3600, 86400

-- Seconds until the next attempt, per outcome; "next_day" = tomorrow at
-- CALLBACK_HOUR local; false = never again.
local RETRY = {
  busy = 10 * MINUTE,
  no_answer = 2 * HOUR,
  machine = 4 * HOUR,
  abandoned = 30 * MINUTE, -- we dropped a live answer: call back soon
  failed = 15 * MINUTE, -- network / trunk failure, not the customer
  unreachable = 1 * DAY, -- agent could not reach the right person
  likely = "next_day",
  interested = "next_day",
  success = false,
  declined = false,
  invalid_number = false,
  blacklisted = false,
}

-- Spellings accepted in fields.segment.
local SEGMENT_ALIASES = {
  prospect = "prospect",
  ["潜在客户"] = "prospect",
  new = "new",
  ["新客户"] = "new",
  loyal = "loyal",
  ["忠诚客户"] = "loyal",
  vip = "vip",
  ["大客户"] = "vip",
}

---@param contact Contact
---@return string|nil
local function last_agent(contact)
  local a = contact.last_agent
  if a == nil or a == "" then
    a = contact.fields and contact.fields.last_agent
  end
  if a == nil or a == "" then
    return nil
  end
  return a
end

---@param contact Contact
---@return ModeChoice
function campaign.select_mode(contact)
  local f = contact.fields or {}
  local raw = f.segment and f.segment:lower():gsub("^%s+", ""):gsub("%s+$", "") or ""
  local segment = SEGMENT_ALIASES[raw]

  if segment == "vip" or f.vip == "true" then
    local mode = f.vip_manual == "true" and "manual" or "preview"
    return { mode = mode, priority = PRIORITY.vip, agent = last_agent(contact) }
  end
  if segment == "loyal" then
    return { mode = "preview", priority = PRIORITY.loyal, agent = last_agent(contact) }
  end
  if segment == "prospect" then
    return { mode = "predictive", priority = PRIORITY.prospect }
  end
  if segment == "new" then
    local days = tonumber(f.inactive_days)
    if days and days >= LONG_INACTIVE_DAYS then
      log.info("contact " .. tostring(contact.id) .. ": new-product pitch (inactive " .. f.inactive_days .. " days)")
      return { mode = "predictive", priority = PRIORITY.new_product_pitch }
    end
    if days and days >= RECENT_INACTIVE_DAYS then
      return { mode = "preview", priority = PRIORITY.recently_inactive, agent = last_agent(contact) }
    end
  end
  -- Unknown segment, or a new customer still active / of unknown activity:
  -- one call per free agent, no over-dialling.
  return { mode = "progressive", priority = PRIORITY.default }
end

---@param contact Contact
---@param outcome Outcome
---@param attempts integer attempts made so far, this one included
---@param now integer unix seconds
---@return integer|nil
function campaign.next_attempt(contact, outcome, attempts, now)
  local rule = RETRY[outcome]
  if rule == nil then
    log.warn("next_attempt: unknown outcome '" .. tostring(outcome) .. "': no further attempt")
    return nil
  end
  if rule == false then
    return nil
  end
  local cap = math.tointeger(tonumber(contact.fields and contact.fields.max_attempts)) or MAX_ATTEMPTS
  if attempts >= cap then
    return nil
  end
  local tz = contact.timezone
  local at
  if rule == "next_day" then
    at = hours.at(now, tz, 1, CALLBACK_HOUR, 0)
  else
    at = now + rule
  end
  return hours.next_open(at, tz)
end

-- Self-checks, run at every load. Times are fixed instants in Asia/Shanghai
-- (UTC+8, computed without the switch's TZ) so they hold on any host.
local SH = "Asia/Shanghai"
local T_1000 = 1718157600 -- 2024-06-12 10:00:00 +08:00 (a Wednesday)
local T_2055 = T_1000 + 10 * HOUR + 55 * MINUTE -- 20:55 the same day
local NEXT_0900 = T_1000 + 23 * HOUR -- 09:00 the next day

---@param fields table<string,string>
---@param extra? table
---@return Contact
local function c(fields, extra)
  local t = { id = 1, phone = "+8613800138000", attempts = 0, fields = fields, timezone = SH }
  for k, v in pairs(extra or {}) do
    t[k] = v
  end
  return t
end

tests = {
  vip_preview_highest_priority = function()
    local vip = campaign.select_mode(c({ segment = "vip", last_agent = "1002" }))
    assert(vip.mode == "preview" and vip.agent == "1002", "vip -> preview by the last agent")
    assert(vip.priority == PRIORITY.vip)
    for name, p in pairs(PRIORITY) do
      assert(name == "vip" or p < vip.priority, "vip outranks " .. name)
    end
    assert(campaign.select_mode(c({ vip = "true", vip_manual = "true" })).mode == "manual")
  end,

  segments = function()
    local prospect = campaign.select_mode(c({ segment = "prospect" }))
    assert(prospect.mode == "predictive" and prospect.priority == PRIORITY.prospect)
    assert(campaign.select_mode(c({ segment = "loyal" })).priority == PRIORITY.loyal)
    -- (the long-inactive rule logs a line per contact: tested from Rust, so
    -- that every reload stays quiet)
    local recent = campaign.select_mode(c({ segment = "new", inactive_days = "30" }, { last_agent = "1001" }))
    assert(recent.mode == "preview" and recent.agent == "1001" and recent.priority == PRIORITY.recently_inactive)
    assert(campaign.select_mode(c({})).mode == "progressive")
  end,

  retry_spacing = function()
    local x = c({})
    assert(campaign.next_attempt(x, "busy", 1, T_1000) == T_1000 + 10 * MINUTE)
    assert(campaign.next_attempt(x, "no_answer", 1, T_1000) == T_1000 + 2 * HOUR)
    assert(campaign.next_attempt(x, "likely", 1, T_1000) == T_1000 + DAY)
    assert(campaign.next_attempt(x, "success", 1, T_1000) == nil)
    assert(campaign.next_attempt(x, "busy", 1, T_2055) == NEXT_0900, "busy at 20:55 waits for 09:00")
  end,

  seven_times_rule = function()
    local x = c({})
    assert(campaign.next_attempt(x, "no_answer", MAX_ATTEMPTS - 1, T_1000) ~= nil, "7th attempt allowed")
    assert(campaign.next_attempt(x, "no_answer", MAX_ATTEMPTS, T_1000) == nil, "no 8th attempt")
  end,

  never_in_rest_hours = function()
    for _, tz in ipairs({ SH, false }) do
      local x = c({})
      x.timezone = tz or nil
      for h = 0, 23 do
        for outcome, rule in pairs(RETRY) do
          if rule then
            local now = T_1000 + h * HOUR
            local at = campaign.next_attempt(x, outcome, 1, now)
            assert(math.type(at) == "integer" and at > now, outcome)
            assert(not hours.in_rest(at, x.timezone), outcome .. " lands in rest hours")
          end
        end
      end
    end
  end,
}
