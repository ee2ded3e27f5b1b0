-- A broadcast flow for the dialer's tests: the welcome prompt, a note of
-- what was heard and pressed, then hang up.
function broadcast.notice(call, contact)
  local key = call:play({ "en/welcome" }, { barge_in = true })
  call:set_var("heard", key and "interrupted" or "end")
  call:set_var("name", contact.fields.name or "")
  call:hangup()
end

-- Press 9 never to be called again.
function broadcast.optout(call, contact)
  local key = call:play({ "en/welcome", "en/welcome" }, { barge_in = true })
  if key == "9" then
    local number = call:opt_out("pressed 9 in the broadcast")
    call:set_var("opted_out", number or "failed")
  end
  call:set_var("key", key or "")
  call:hangup()
end

-- The dial point denies every number unless a rule allows it (fail closed).
function blacklist.check(number, contact, now)
  return blacklist.allow()
end

-- For a campaign with agents: contacts of the segment "notice" only get
-- the broadcast (a campaign whose own mode is broadcast never asks).
function campaign.select_mode(contact)
  if (contact.fields or {}).segment == "notice" then
    return { mode = "broadcast", priority = 10 }
  end
  return { mode = "predictive", priority = 10 }
end

-- Inbound calls (any number): the welcome prompt, then goodbye.
function route(call)
  call:answer()
  call:play({ "en/welcome", "en/goodbye" })
  call:hangup()
end
