-- The broadcast of the throughput benchmark (tools/bench/broadcast.sh):
-- ten seconds of audio to every answer, then hang up.
function broadcast.bench(call, contact)
  call:play({ "moh/default" })
  call:hangup()
end

-- The dial point denies every number unless a rule allows it (fail closed).
function blacklist.check(number, contact, now)
  return blacklist.allow()
end
