-- Call flows of the demo switch (docs/lua-api.md, "Call flows").
--   600 echo test           601 prompt playback     602 digits read-back
--   603 recording test      700 main menu (1-4 pick 600-603)
--   500 the queue "support"  501 the queue "sales" (agents take the calls)
--   1xxx a registered phone; anything else is rejected as not found.

local LANG = "en"

local function prompt(name)
  return LANG .. "/" .. name
end

-- "601", "sip:601@pbx" or "601@pbx" -> "601"
local function user_part(to)
  return to:match("^sips?:([^@;]+)") or to:match("^([^@;]+)") or to
end

local function goodbye(call)
  call:play(prompt("goodbye"))
  call:hangup()
end

-- The tests, on an answered call.
local function echo_test(call)
  call:play(prompt("echo_intro"))
  call:echo()
  call:hangup()
end

local function playback(call)
  call:play({ prompt("welcome"), prompt("goodbye") })
  call:hangup()
end

local function digits_readback(call)
  call:play(prompt("enter_digits"), { barge_in = true })
  local digits = call:read_digits({ max = 20, timeout_ms = 5000, terminator = "#" }) or ""
  call:set_var("digits", digits)
  local list = { prompt("you_entered") }
  for d in digits:gmatch("%d") do
    list[#list + 1] = prompt("digits/" .. d)
  end
  call:play(list)
  goodbye(call)
end

local function recording(call)
  call:play({ prompt("record_intro"), { tone = "ringback", region = "cn", ms = 400 } })
  call:record({ file = "test-" .. call.id .. ".wav" })
  call:read_digits({ max = 1, timeout_ms = 10000, terminator = "#" }) -- "#" ends it
  call:stop_record()
  goodbye(call)
end

local CHOICES = { ["1"] = echo_test, ["2"] = playback, ["3"] = digits_readback, ["4"] = recording }

local function menu(call)
  for _ = 1, 3 do
    call:play({ prompt("welcome"), prompt("menu") }, { barge_in = true })
    local choice = CHOICES[call:read_digits({ max = 1, timeout_ms = 5000 }) or ""]
    if choice then
      return choice(call)
    end
    call:play(prompt("invalid"))
  end
  goodbye(call)
end

local EXTENSIONS = {
  ["600"] = echo_test,
  ["601"] = playback,
  ["602"] = digits_readback,
  ["603"] = recording,
  ["700"] = menu,
}

-- Numbers that reach a queue of agents.
local QUEUES = { ["500"] = "support", ["501"] = "sales" }

local function queue(call, name)
  call:answer()
  local outcome, detail = call:queue(name)
  if outcome == nil then
    -- No such queue in this switch's configuration.
    call:play(prompt("invalid"))
  else
    -- answered:AGENT, voicemail:RECORDING, callback:, hangup: (in the CDR)
    call:set_var("queue_outcome", outcome .. ":" .. (detail or ""))
  end
  call:hangup()
end

-- How a dial to a phone ended -> why we hang up the caller.
local DIAL_CAUSE = {
  completed = "normal",
  busy = "busy",
  no_answer = "unavailable",
  unavailable = "unavailable",
  rejected = "rejected",
  failed = "failure",
}

---@param call Call
function route(call)
  local to = user_part(call.to)
  local flow = EXTENSIONS[to]
  if flow then
    call:answer()
    return flow(call)
  end
  if QUEUES[to] then
    return queue(call, QUEUES[to])
  end
  if to:match("^1%d%d%d$") then
    local outcome = call:dial(to, { timeout_s = 30 })
    return call:hangup(DIAL_CAUSE[outcome] or "failure")
  end
  -- A public number: out through the trunk group "default". The switch
  -- refuses it unless the caller is an agent with allow_pstn.
  if to:match("^%+?%d%d%d%d%d%d+$") then
    local outcome = call:dial("pstn:" .. to, { timeout_s = 60 })
    return call:hangup(DIAL_CAUSE[outcome] or "failure")
  end
  call:hangup("not_found")
end

-- A stand-in call that notes each method called (and the hangup cause);
-- every method returns nil, as if each command failed quietly.
local function walk(to)
  local seen = {}
  local call = setmetatable({ id = 1, from = "1000", to = to, vars = {} }, {
    __index = function(_, name)
      return function(_, arg)
        seen[#seen + 1] = name == "hangup" and "hangup " .. tostring(arg) or name
      end
    end,
  })
  route(call)
  return table.concat(seen, ",")
end

tests = {
  unknown_number_is_not_found = function()
    assert(walk("999") == "hangup not_found", walk("999"))
  end,
  echo_test = function()
    assert(walk("sip:600@pbx") == "answer,play,echo,hangup nil", walk("sip:600@pbx"))
  end,
  queue_number_answers_and_queues = function()
    assert(walk("500") == "answer,queue,play,hangup nil", walk("500"))
  end,
  failed_dial_hangs_up_with_failure = function()
    assert(walk("1001") == "dial,hangup failure", walk("1001"))
  end,
}
