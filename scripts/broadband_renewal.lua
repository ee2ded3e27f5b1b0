-- Broadband renewal broadcast (宽带续约, seeds 001, 002): customers whose
-- broadband contract ends soon hear the date and the renewal offer
-- `retention.offers` picks for them, and can accept it with an agent.
--
--   "您好，这里是外呼客服中心。您的宽带合约到期日是 十二月三十一日。
--    现在续约，每月仅需 九十元。接受优惠并转人工请按1，
--    不再接收此类来电请按9。"
--
-- A campaign runs it with `mode: broadcast` and `broadcast:
-- broadband_renewal`. Contact columns: `broadband_expiry` (YYYY-MM-DD),
-- and the customer figures `retention.offers` reads (`plan`,
-- `tenure_months`, `monthly_spend`, `churn_score`), `lang` optional.
--
-- Keys: 1 accepts (the offer's code is noted, then an agent in QUEUE
-- confirms it), 9 opts out. Results: `offer`, `heard`, `key`, `accepted`,
-- `transferred`, `opted_out`.

local QUEUE = "sales"
local MENU_WAIT_MS = 6000

local function customer_of(contact)
  local f = contact.fields or {}
  return {
    id = contact.id,
    phone = contact.phone,
    plan = f.plan,
    tenure_months = math.tointeger(tonumber(f.tenure_months)) or 0,
    monthly_spend = tonumber(f.monthly_spend) or 0,
    churn_score = tonumber(f.churn_score) or 0,
    broadband_expiry = f.broadband_expiry,
    fields = f,
  }
end

---@param call Call
---@param contact Contact
function broadcast.broadband_renewal(call, contact)
  local f = contact.fields or {}
  local lang = (f.lang == "en" or f.lang == "zh") and f.lang or ((call.vars and call.vars.lang) or "zh")
  local offers = retention.offers(customer_of(contact)) or {}
  local offer = offers[1]
  call:set_var("offer", offer and offer.code or "")
  local opts = { lang = lang, barge_in = true }
  local key = call:play({ lang .. "/renewal_intro" }, { barge_in = true })
    or call:say_date(f.broadband_expiry, { lang = lang, barge_in = true, year = false })
  if not key and offer then
    key = call:play({ lang .. "/renewal_offer" }, { barge_in = true })
      or call:say_amount(string.format("%.2f", offer.price), opts)
  end
  key = key or call:play({ lang .. "/renewal_menu" }, { barge_in = true })
  call:set_var("heard", key and "interrupted" or "end")
  -- An interrupting key waits in the digit buffer: this takes it at once.
  local digits = call:read_digits({ max = 1, timeout_ms = MENU_WAIT_MS })
  key = digits ~= "" and digits or nil
  call:set_var("key", key or "")
  if key == "9" then
    call:set_var("opted_out", call:opt_out("pressed 9 in the renewal notice") or "failed")
    call:play({ lang .. "/optout_ok" })
  elseif key == "1" and offer then
    call:set_var("accepted", offer.code)
    call:play({ lang .. "/transfer" })
    call:set_var("transferred", "yes")
    call:queue(QUEUE, { priority = 5 })
  else
    call:play({ lang .. "/goodbye" })
  end
  call:hangup()
end

local function walk(key, fields)
  local seen, vars = {}, {}
  local call = setmetatable({ id = 1, vars = {} }, {
    __index = function(_, name)
      return function(_, a, b)
        seen[#seen + 1] = name
        if name == "set_var" then
          vars[a] = b
        end
        if name == "read_digits" then
          return key
        end
        return nil
      end
    end,
  })
  local contact = {
    id = 1,
    phone = "+8613800138000",
    attempts = 0,
    fields = fields or { broadband_expiry = os.date("!%Y-%m-%d", os.time() + 20 * 86400), churn_score = "0.7" },
  }
  broadcast.broadband_renewal(call, contact)
  return table.concat(seen, ","), vars
end

tests = {
  an_expiring_customer_hears_a_renewal_offer_and_accepts_it = function()
    local w, vars = walk("1")
    assert(vars.offer ~= "" and vars.accepted == vars.offer, w)
    assert(w:find("queue,hangup$"), w)
  end,
  nine_opts_out = function()
    local w, vars = walk("9")
    assert(w:find("opt_out") and vars.key == "9", w)
  end,
  no_offer_no_acceptance = function()
    local w, vars = walk("1", { broadband_expiry = "2000-01-01" })
    assert(vars.offer == "" and vars.accepted == nil, w)
  end,
}
