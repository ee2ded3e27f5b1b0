---@meta waihu
-- Definitions of the waihu script host API for the Lua language server
-- (LuaLS / sumneko). The host never loads this file: it only teaches editors
-- the globals the host creates and the tables it passes. See docs/lua-api.md.

---@alias DialMode
---| "predictive"  # the server dials ahead of agents, hands live answers to a free agent
---| "progressive" # one call per free agent, no over-dialling
---| "preview"     # the agent sees the record first, then dials or skips
---| "manual"      # the agent dials from the softphone
---| "broadcast"   # a recorded message, no agent

---@alias SystemOutcome
---| "busy"
---| "no_answer"
---| "invalid_number"
---| "machine"      # answering machine
---| "abandoned"    # answered, but no agent was free
---| "blacklisted"  # refused by blacklist.check
---| "failed"       # network or trunk failure

---@alias Disposition
---| "unreachable"  # 联系不上
---| "success"      # 成功
---| "likely"       # 较有意向
---| "interested"   # 有意向
---| "declined"     # 不申请

---@alias Outcome SystemOutcome|Disposition

---A row of a campaign's contact list.
---@class Contact
---@field id integer
---@field phone string           # as loaded, e.g. "+8613800138000"
---@field timezone string|nil    # IANA name, e.g. "Asia/Shanghai"
---@field attempts integer       # attempts made so far
---@field last_agent string|nil  # id of the agent who last handled the contact
---@field fields table<string, string> # custom CSV columns: segment, inactive_days, vip, ...

---A customer record, for retention.
---@class Customer
---@field id integer
---@field phone string
---@field name string|nil
---@field plan string|nil
---@field tenure_months integer
---@field monthly_spend number        # yuan
---@field churn_score number          # 0..1, higher = more likely to leave
---@field broadband_expiry string|nil # "YYYY-MM-DD"
---@field fields table<string, string>

---@class Offer
---@field code string  # stable identifier, recorded with the outcome
---@field text string  # what the agent reads out
---@field price number # yuan

---@class ModeChoice
---@field mode DialMode
---@field priority integer # higher is dialled first
---@field agent string|nil # route to this agent (preview / manual)

---An allow / deny decision made by blacklist.allow() or blacklist.deny().
---Opaque: build it with those functions, do not inspect it.
---@class Verdict

---@class AgentOption
---@field label string # the button the agent clicks
---@field next string  # id of the next node of the same script

---@class AgentNode
---@field say string                # text for the agent; {field} shows the customer's field
---@field options AgentOption[]|nil # non-empty on a branching node
---@field outcome Disposition|nil   # on a terminal node (no options)

---@class AgentScriptDef
---@field name string
---@field title string
---@field language "zh"|"en"
---@field start string # id of the first node
---@field nodes table<string, AgentNode>

---@alias HangupCause "normal"|"busy"|"rejected"|"unavailable"|"not_found"|"failure"
---@alias DialOutcome "completed"|"busy"|"no_answer"|"unavailable"|"rejected"|"failed"
---@alias DigitsEnd "max"|"terminator"|"timeout"

---One item of a playlist: a prompt name, a silence or a tone.
---@alias PlayItem string|{silence: integer}|{tone: "ringback"|"busy", region: "cn"|"na"|nil, ms: integer}

---The call a route handles. Every method waits for the switch to carry it
---out; a command the switch cannot carry out returns nil, reason.
---@class Call
---@field id integer
---@field from string
---@field to string                  # "601", or a URI such as "sip:601@pbx"
---@field vars table<string, string> # call variables; set_var adds to it
local Call = {}

---Send 180 Ringing if the call is not answered yet.
---@return true|nil, string|nil
function Call:ring() end

---Answer the call.
---@return true|nil, string|nil
function Call:answer() end

---Play a prompt name ("en/welcome") or a list of items.
---@param what string|PlayItem[]
---@param opts {barge_in: boolean|nil}|nil
---@return string|nil digit # the barge-in digit, or nil
---@return string|nil reason
function Call:play(what, opts) end

---Collect DTMF digits: max 1..64 (default 1), timeout_ms 100..120000 (default 5000).
---@param opts {max: integer|nil, timeout_ms: integer|nil, terminator: string|nil}|nil
---@return string|nil digits
---@return DigitsEnd|string ended # or the reason of a failure
function Call:read_digits(opts) end

---Send DTMF digits (0-9 * # A-D) to the caller.
---@param digits string
---@return true|nil, string|nil
function Call:send_dtmf(digits) end

---Start recording to a file relative to the recordings directory.
---@param opts {file: string, mode: "stereo"|"mono"|nil}
---@return string|nil path
---@return string|nil reason
function Call:record(opts) end

---Stop the recording.
---@return string|nil path
---@return string|nil reason
function Call:stop_record() end

---Echo the caller's audio until they press # or hang up.
---@return true|nil, string|nil
function Call:echo() end

---Ring `target` and bridge it with the caller; returns when that ends.
---@param target string
---@param opts {timeout_s: integer|nil}|nil
---@return DialOutcome|nil outcome
---@return string|nil reason
function Call:dial(target, opts) end

---Wait in an ACD queue with music on hold until an agent takes the call
---(answers the call first if needed). Returns when the agent's bridge
---ends, or when the queue's overflow action is done.
---@param name string
---@param opts {priority: integer|nil, skills: table<string, integer>|nil}|nil # priority 0..9 (higher first); skills: minimum levels 1..100
---@return "answered"|"voicemail"|"callback"|"hangup"|nil outcome
---@return string|nil detail # the agent, the message's recording, or the reason it failed
function Call:queue(name, opts) end

---Blind transfer: the bridged party is sent to `target` and this leg ends.
---@param target string # a user, "pstn:NUMBER" or "trunk:NAME:NUMBER"
---@return true|nil, string|nil
function Call:transfer(target) end

---Set a call variable (kept in the CDR and in call.vars).
---@param name string
---@param value string
---@return true|nil, string|nil
function Call:set_var(name, value) end

---End the call; the route ends here.
---@param cause HangupCause|nil # default "normal"
function Call:hangup(cause) end

---The called party's number on the do-not-call table, durably.
---@param reason string|nil
---@return string|nil number # E.164
---@return string|nil why # when it could not be written
function Call:opt_out(reason) end

---Broadcast flows by name: `broadcast.NAME(call, contact)` runs each
---answered call of a campaign with `mode: broadcast, broadcast: NAME`.
---@type table<string, fun(call: Call, contact: Contact)>
broadcast = {}

---The call-flow hook (scripts/route.lua): one run per incoming call.
---@type fun(call: Call)|nil
route = nil

---Campaign hooks: fill these in.
campaign = {}

---How to dial a contact. Safe default if it fails: the campaign's configured mode.
---@param contact Contact
---@return ModeChoice
function campaign.select_mode(contact) end

---When to call a contact again, or nil for never. Safe default if it fails: never.
---@param contact Contact
---@param outcome Outcome
---@param attempts integer attempts made so far, including the one that just ended
---@param now integer unix seconds
---@return integer|nil # unix seconds
function campaign.next_attempt(contact, outcome, attempts, now) end

---Retention hooks: fill these in.
retention = {}

---Offers for a customer, best first; may be empty. Safe default if it fails: none.
---@param customer Customer
---@return Offer[]
function retention.offers(customer) end

---@class OverflowInfo
---@field call_id string
---@field from string
---@field to string
---@field queue string
---@field waited_s integer
---@field position integer
---@field priority integer
---@field reason "max_wait"|"no_agents"

---@class AgentChange
---@field agent string
---@field from string # logged_out, ready, reserved, on_call, wrap_up, paused
---@field to string
---@field reason string|nil
---@field queue string|nil
---@field call_id string|nil
---@field at_ms integer

---ACD queue hooks: optional.
queue = {}

---What happens to a call that waited too long (or whose queue has nobody
---logged in). Nil, a missing hook or an error: the queue's message, then hang up.
---@param info OverflowInfo
---@return {action: "queue", queue: string}|{action: "voicemail"|"callback"|"hangup", prompt: string|nil}|nil
function queue.on_overflow(info) end

---Agent hooks: optional.
agent = {}

---Told of every agent state change (its return value is ignored).
---@param change AgentChange
function agent.on_state_change(change) end

---Blacklist hook: fill in `check`; `allow` and `deny` are provided.
blacklist = {}

---May `number` be dialled now? Safe default if it fails: deny ("script error").
---@param number string
---@param contact Contact|nil # nil for manual dials
---@param now integer unix seconds
---@return Verdict
function blacklist.check(number, contact, now) end

---@return Verdict
function blacklist.allow() end

---@param reason string # shown in logs and in the dialer's statistics
---@return Verdict
function blacklist.deny(reason) end

agent_script = {}

---Register a branching call script; validated when the version loads.
---@param def AgentScriptDef
function agent_script.define(def) end

---Logging to the switch's tracing output, tagged with the script file and line.
log = {}

---@param msg string
function log.info(msg) end

---@param msg string
function log.warn(msg) end

---@param msg string
function log.error(msg) end

---The stored do-not-call list (kept by the switch, not by scripts).
dnc = {}

---@param number string
---@return boolean
function dnc.contains(number) end

---Native plugins by their configured name: `plugins.crm.lookup(phone)`.
---Arguments and results cross as JSON; a failure (error, timeout, disabled
---plugin) is a Lua error naming the function. Nil for an unknown name.
---@type table<string, table<string, fun(...: any): any>>
plugins = {}

---Self-checks of the file being loaded: the host collects this table after
---the file ran, then calls every function; an error fails the load.
---@type table<string, fun()>|nil
tests = nil
