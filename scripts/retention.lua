-- Retention offers (客户挽留方案), chosen per customer by tenure, monthly spend,
-- churn score and broadband expiry (DOMAIN.md "Retention"; seeds 001, 002).
--
--   rule                                               offers
--   broadband expires in the next 60 days, or expired  BB_RENEW_24, BB_RENEW_12
--     at most 30 days ago (seed 001: expiring users     (24 months first when the
--     leave; renew them by a person, not a recording)    churn score is high)
--   tenure >= 36 months and churn score >= 0.6          LOYALTY_15OFF
--   churn score >= 0.6 and monthly spend < 50 yuan      BILL_CREDIT_30
--   monthly spend >= 150 yuan                           DATA_20G
--
-- Ranking, best first: a renewal has a deadline, so it leads; then the offers
-- that answer a churn risk (discount, credit); the upsell last.
--
-- `price` is what the customer pays per month for the offer, in yuan (0 when
-- the offer costs nothing). The tariffs in CATALOGUE are examples: set them to
-- the operator's published prices before use; the texts restate the terms and
-- make no other claim.

local RENEWAL_AHEAD_DAYS = 60 -- offer renewal this many days before expiry
local RENEWAL_LAPSED_DAYS = 30 -- ... and up to this many days after
local LONG_TENURE_MONTHS = 36
local HIGH_CHURN = 0.6
local LOW_SPEND = 50
local HIGH_SPEND = 150
local LOYALTY_RATE = 0.85 -- 15% off the current monthly spend

local CATALOGUE = {
  BB_RENEW_12 = { months = 12, price = 100 },
  BB_RENEW_24 = { months = 24, price = 90 },
  DATA_20G = { price = 20, gigabytes = 20 },
  BILL_CREDIT_30 = { amount = 30, months = 3 },
}

local DAY = 86400

--- Days from today (switch local date) to an ISO date; nil if malformed.
---@param iso string
---@param today integer unix seconds
---@return integer|nil
local function days_until(iso, today)
  local y, m, d = iso:match("^(%d%d%d%d)-(%d%d)-(%d%d)$")
  if not y then
    return nil
  end
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if m < 1 or m > 12 or d < 1 or d > 31 then
    return nil
  end
  local now = os.date("*t", today)
  -- noon on both sides keeps daylight-saving shifts out of the division
  local target = os.time({ year = y, month = m, day = d, hour = 12 })
  if os.date("*t", target).day ~= d then
    return nil -- 2025-02-30 and the like
  end
  local base = os.time({ year = now.year, month = now.month, day = now.day, hour = 12 })
  return (target - base + DAY // 2) // DAY
end

---@param yuan number
---@return string
local function money(yuan)
  return (string.format("%.2f", yuan):gsub("%.00$", ""))
end

---@param customer Customer
---@param today integer
---@return Offer[]
local function renewal_offers(customer, today)
  local expiry = customer.broadband_expiry
  if expiry == nil or expiry == "" then
    return {}
  end
  local days = days_until(expiry, today)
  if days == nil then
    log.warn("retention: customer " .. tostring(customer.id) .. " has a malformed broadband_expiry '" .. expiry .. "'")
    return {}
  end
  if days > RENEWAL_AHEAD_DAYS or days < -RENEWAL_LAPSED_DAYS then
    return {}
  end
  local when = days >= 0 and ("将于" .. expiry .. "到期") or ("已于" .. expiry .. "到期")
  local function offer(code)
    local p = CATALOGUE[code]
    return {
      code = code,
      text = "您的宽带" .. when .. "。续约" .. p.months .. "个月，月费" .. money(p.price) .. "元，续约期内资费不变。",
      price = p.price,
    }
  end
  if (customer.churn_score or 0) >= HIGH_CHURN then
    return { offer("BB_RENEW_24"), offer("BB_RENEW_12") }
  end
  return { offer("BB_RENEW_12"), offer("BB_RENEW_24") }
end

---@param customer Customer
---@return Offer[]
function retention.offers(customer)
  local tenure = customer.tenure_months or 0
  local spend = customer.monthly_spend or 0
  local churn = customer.churn_score or 0

  local offers = renewal_offers(customer, os.time())

  if tenure >= LONG_TENURE_MONTHS and churn >= HIGH_CHURN and spend > 0 then
    local price = math.floor(spend * LOYALTY_RATE * 100 + 0.5) / 100
    offers[#offers + 1] = {
      code = "LOYALTY_15OFF",
      text = "感谢您在网" .. (tenure // 12) .. "年：未来12个月月费八五折，由每月" .. money(spend) .. "元降为" .. money(price) .. "元，套餐内容不变。",
      price = price,
    }
  end

  if churn >= HIGH_CHURN and spend < LOW_SPEND then
    local p = CATALOGUE.BILL_CREDIT_30
    offers[#offers + 1] = {
      code = "BILL_CREDIT_30",
      text = "赠送话费" .. p.amount .. "元，分" .. p.months .. "个月返还，每月" .. money(p.amount / p.months) .. "元，不改变现有套餐，不另收费。",
      price = 0,
    }
  end

  if spend >= HIGH_SPEND then
    local p = CATALOGUE.DATA_20G
    offers[#offers + 1] = {
      code = "DATA_20G",
      text = "加装流量包：每月" .. money(p.price) .. "元，含国内通用流量" .. p.gigabytes .. "GB，可随时退订，次月生效。",
      price = p.price,
    }
  end

  return offers
end

-- Self-checks, run at every load.

---@param fields table
---@return Customer
local function cust(fields)
  local t = { id = 7, phone = "+8613800138000", tenure_months = 12, monthly_spend = 80, churn_score = 0.1, fields = {} }
  for k, v in pairs(fields) do
    t[k] = v
  end
  return t
end

---@param days integer
---@return string
local function date_in(days)
  local t = os.date("*t")
  return os.date("%Y-%m-%d", os.time({ year = t.year, month = t.month, day = t.day + days, hour = 12 })) --[[@as string]]
end

---@param offers Offer[]
---@return string
local function codes(offers)
  local out = {}
  for i, o in ipairs(offers) do
    assert(type(o.code) == "string" and type(o.text) == "string" and type(o.price) == "number")
    out[i] = o.code
  end
  return table.concat(out, ",")
end

tests = {
  nothing_fits = function()
    assert(#retention.offers(cust({})) == 0)
  end,

  broadband_window = function()
    assert(codes(retention.offers(cust({ broadband_expiry = date_in(30) }))) == "BB_RENEW_12,BB_RENEW_24")
    assert(codes(retention.offers(cust({ broadband_expiry = date_in(60) }))) == "BB_RENEW_12,BB_RENEW_24")
    assert(codes(retention.offers(cust({ broadband_expiry = date_in(-10) }))) == "BB_RENEW_12,BB_RENEW_24")
    assert(#retention.offers(cust({ broadband_expiry = date_in(61) })) == 0)
    assert(#retention.offers(cust({ broadband_expiry = date_in(-31) })) == 0)
  end,

  churn_rules = function()
    local loyal = retention.offers(cust({ tenure_months = 60, monthly_spend = 100, churn_score = 0.8 }))
    assert(codes(loyal) == "LOYALTY_15OFF" and loyal[1].price == 85)
    assert(codes(retention.offers(cust({ monthly_spend = 30, churn_score = 0.7 }))) == "BILL_CREDIT_30")
    assert(codes(retention.offers(cust({ monthly_spend = 200 }))) == "DATA_20G")
    local all = retention.offers(cust({
      tenure_months = 48, monthly_spend = 40, churn_score = 0.9, broadband_expiry = date_in(5),
    }))
    assert(codes(all) == "BB_RENEW_24,BB_RENEW_12,LOYALTY_15OFF,BILL_CREDIT_30", codes(all))
  end,
}
