-- Scripts for tests of the switch without the campaign hooks: no
-- campaign.select_mode (each campaign's own mode), no
-- campaign.next_attempt (the campaign's `retry:` policy), no route; and a
-- blacklist.check that allows every number (only the do-not-call table
-- refuses).

-- The dial point denies every number unless a rule allows it (fail closed).
function blacklist.check(number, contact, now)
  return blacklist.allow()
end
