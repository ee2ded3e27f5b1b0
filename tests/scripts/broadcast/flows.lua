-- A broadcast flow for the dialer's tests: the welcome prompt, a note of
-- what was heard and pressed, then hang up.
function broadcast.notice(call, contact)
  local key = call:play({ "en/welcome" }, { barge_in = true })
  call:set_var("heard", key and "interrupted" or "end")
  call:set_var("name", contact.fields.name or "")
  call:hangup()
end
