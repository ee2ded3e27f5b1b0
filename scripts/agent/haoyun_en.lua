-- English version of agent/haoyun.lua: the "Good Fortune" daily-tips SMS
-- service, 4 yuan a month. Same nodes, same branches, same outcomes; see
-- haoyun.lua for the flow chart and the QA rules it encodes.
--
-- {name} and {phone} are replaced by the customer's fields on screen.

local CONSENT = "Clear yes (\"yes\" / \"OK\" / \"go ahead\" / \"sign me up\")"
local VAGUE = "Vague sound (\"mm\" / \"uh-huh\" / \"fine, fine\")"

local script = {
  name = "haoyun_en",
  title = "\"Good Fortune\" daily tips: outbound sales script",
  language = "en",
  start = "greet",
  nodes = {
    greet = {
      say = "Hello, this is the China Telecom customer service centre. Am I speaking with {name}? "
        .. "Is {phone} registered to you, and do you use it and pay its bills yourself?",
      options = {
        { label = "Account holder", next = "offer" },
        { label = "Not the account holder", next = "can_decide" },
        { label = "An elderly person or a child answered", next = "close_minor" },
        { label = "Cannot talk now", next = "close_later" },
      },
    },
    can_decide = {
      say = "May I ask: can you make decisions about the telecom services on this number?",
      options = {
        { label = "Can decide", next = "offer" },
        { label = "Cannot decide", next = "close_not_holder" },
      },
    },
    offer = {
      say = "Thank you for staying with us. May I tell you about \"Good Fortune\" daily tips: for 4 yuan a month "
        .. "you receive text messages with the weather, what to wear, travel advice and everyday tips. "
        .. "The first three days are free, and you can cancel at any time by calling 10000. "
        .. "Would you like to try it?",
      options = {
        { label = "Accepts", next = "confirm" },
        { label = "Refuses", next = "retain" },
        { label = "Wants to think about it", next = "think_offer" },
      },
    },
    retain = {
      say = "I understand. It is 4 yuan a month, and the weather and travel reminders help you and your family "
        .. "plan the day. The first three days cost nothing, and one call to 10000 cancels it. "
        .. "Would you give it a few days?",
      options = {
        { label = "Accepts", next = "confirm" },
        { label = "Still refuses", next = "close_declined" },
        { label = "Wants to think about it", next = "think_offer" },
      },
    },
    confirm = {
      say = "Let me read it back: you are the holder of {phone} (or may decide for it); we are adding the \"Good Fortune\" daily tips "
        .. "text service to this number at 4 yuan a month, the first three days free, then charged monthly; "
        .. "you can cancel at any time by calling 10000. Do you agree to sign up?",
      options = {
        { label = CONSENT, next = "done" },
        { label = VAGUE, next = "reconfirm" },
        { label = "Refuses", next = "close_declined" },
        { label = "Wants to think again", next = "think_confirm" },
      },
    },
    reconfirm = {
      say = "Sorry, to protect you I need a clear answer: do you agree to add \"Good Fortune\" to {phone} "
        .. "at 4 yuan a month?",
      options = {
        { label = CONSENT, next = "done" },
        { label = "Still vague", next = "close_unconfirmed" },
        { label = "Refuses", next = "close_declined" },
      },
    },
    done = {
      say = "It is done; the first three days are free. Thank you, and have a good day. Goodbye!",
      outcome = "success",
    },
    think_offer = {
      say = "Of course, take your time; you can also call 10000 with any question. Thank you for your time. Goodbye!",
      outcome = "interested",
    },
    think_confirm = {
      say = "Fine, I will not add it for now. We will call you again, or you can call 10000 when you decide. Goodbye!",
      outcome = "likely",
    },
    close_unconfirmed = {
      say = "No problem, I will not add it today; you can call 10000 whenever you like. Thank you. Goodbye!",
      outcome = "likely",
    },
    close_declined = {
      say = "Understood, I will not keep you. Thank you for your time, and have a good day. Goodbye!",
      outcome = "declined",
    },
    close_not_holder = {
      say = "All right, I will not take more of your time. Thank you. Goodbye!",
      outcome = "unreachable",
    },
    close_minor = {
      say = "All right, sorry to disturb you. Thank you. Goodbye!",
      outcome = "unreachable",
    },
    close_later = {
      say = "Of course, we will call another day. Sorry to disturb you. Goodbye!",
      outcome = "unreachable",
    },
  },
}

agent_script.define(script)

tests = {
  consent_only_from_confirmation = function()
    for id, node in pairs(script.nodes) do
      for _, o in ipairs(node.options or {}) do
        if o.next == "done" then
          assert(id == "confirm" or id == "reconfirm", id .. " reaches success without the confirmation")
          assert(o.label == CONSENT, id .. ": success needs explicit consent")
        end
      end
    end
  end,

  confirmation_restates_terms = function()
    local say = script.nodes.confirm.say
    for _, part in ipairs({ "{phone}", "Good Fortune", "4 yuan a month", "three days", "10000" }) do
      assert(say:find(part, 1, true), "confirmation lacks " .. part)
    end
  end,
}
