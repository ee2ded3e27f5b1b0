-- Billing reminder broadcast (话费提醒, seed 001): every month the switch
-- calls each customer and tells them their own bill.
--
--   "您好，这里是外呼客服中心。您本月的话费是 一百二十八元五角。
--    缴费截止日期是 十二月十五日。重听请按1，转人工服务请按0，
--    不再接收此类来电请按9。"
--
-- A campaign runs it with `mode: broadcast` and `broadcast:
-- billing_reminder`. The contact list has the columns `amount` (yuan, e.g.
-- 128.50), `due` (YYYY-MM-DD) and optionally `lang` (zh or en; the
-- campaign's default is Mandarin).
--
-- Keys: 1 hears it again (three times at most), 0 reaches an agent in the
-- queue QUEUE, 9 opts out (the number goes on the do-not-call table before
-- the call ends). Results, kept with the attempt: `heard` (end or
-- interrupted, for the last time the message played), `key` (the last key
-- pressed; absent when none was), `keys` (every key, in order),
-- `transferred`, `opted_out`.

local QUEUE = "support"
local REPEATS = 3
local MENU_WAIT_MS = 6000

local function lang_of(call, contact)
  local l = contact.fields and contact.fields.lang
  if l == "zh" or l == "en" then
    return l
  end
  return (call.vars and call.vars.lang) or "zh"
end

--- The message once; the key that interrupted it, if one did.
local function message(call, contact, lang)
  local opts = { lang = lang, barge_in = true }
  return call:play({ lang .. "/bill_intro" }, { barge_in = true })
    or call:say_amount(contact.fields.amount, opts)
    or call:play({ lang .. "/bill_due" }, { barge_in = true })
    or call:say_date(contact.fields.due, { lang = lang, barge_in = true, year = false })
    or call:play({ lang .. "/bill_menu" }, { barge_in = true })
end

---@param call Call
---@param contact Contact
function broadcast.billing_reminder(call, contact)
  local lang = lang_of(call, contact)
  local pressed = ""
  for _ = 1, REPEATS do
    local interrupted = message(call, contact, lang)
    call:set_var("heard", interrupted and "interrupted" or "end")
    -- The key that interrupted the message waits in the digit buffer:
    -- read_digits takes it at once (and clears it, so the repeat is not
    -- cut short by the same key), or waits for one.
    local digits = call:read_digits({ max = 1, timeout_ms = MENU_WAIT_MS })
    local key = digits ~= "" and digits or nil
    if key then
      -- A silence after a repeat keeps the key that asked for it.
      pressed = pressed .. key
      call:set_var("key", key)
      call:set_var("keys", pressed)
    end
    if key == "9" then
      call:set_var("opted_out", call:opt_out("pressed 9 in the billing reminder") or "failed")
      call:play({ lang .. "/optout_ok" })
      return call:hangup()
    elseif key == "0" then
      call:play({ lang .. "/transfer" })
      call:set_var("transferred", "yes")
      call:queue(QUEUE, { priority = 5 })
      return call:hangup()
    elseif key ~= "1" then
      call:play({ lang .. "/goodbye" })
      return call:hangup()
    end
  end
  call:play({ lang .. "/goodbye" })
  call:hangup()
end

-- A stand-in call: notes each method, answers read_digits with `keys` in
-- turn, and every other method with nil (heard to the end).
local function walk(keys, fields)
  local seen, i = {}, 0
  local call = setmetatable({ id = 1, vars = {} }, {
    __index = function(_, name)
      return function(_, arg)
        seen[#seen + 1] = name
        if name == "read_digits" then
          i = i + 1
          return keys[i] or ""
        end
        if name == "opt_out" then
          return "+8613800138000"
        end
        return nil
      end
    end,
  })
  local contact = { id = 1, phone = "+8613800138000", attempts = 0, fields = fields or { amount = "128.50", due = "2026-12-15" } }
  broadcast.billing_reminder(call, contact)
  return table.concat(seen, ",")
end

tests = {
  nine_opts_out_before_hanging_up = function()
    local w = walk({ "9" })
    assert(w:find("opt_out,set_var,play,hangup$"), w)
  end,
  zero_reaches_the_queue = function()
    local w = walk({ "0" })
    assert(w:find("queue,hangup$"), w)
  end,
  one_repeats_the_message = function()
    local w = walk({ "1", "" })
    local _, says = w:gsub("say_amount", "")
    assert(says == 2, w)
  end,
  silence_says_goodbye = function()
    local w = walk({})
    assert(w:find("read_digits,play,hangup$"), w)
  end,
}
