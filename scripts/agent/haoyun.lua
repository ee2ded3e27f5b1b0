-- 话术：“好运年年”生活小贴士（每月4元短信服务）外呼营销脚本。
-- The branching call script of seed 002 part 5, as data for the agent
-- desktop. Flow:
--
--   greet ── holder ──────────────────────────────> offer
--     ├─ not the holder ─> can_decide ─ yes ──────> offer
--     │                      └─ no ──> close_not_holder        (unreachable)
--     ├─ elderly person or child ──> close_minor               (unreachable)
--     └─ busy now ──> close_later                              (unreachable)
--   offer ─ accepts ─> confirm   ─ refuses ─> retain   ─ thinks ─> think_offer (interested)
--   retain (one more try, never repeated)
--         ─ accepts ─> confirm   ─ refuses ─> close_declined   ─ thinks ─> think_offer
--   confirm (restates number, product, price, terms; asks for a clear yes)
--         ─ clear yes (好/行/可以/开通) ─> done                  (success)
--         ─ vague (嗯/哦/啊) ─> reconfirm ─ clear yes ─> done
--                                      ─ still vague ─> close_unconfirmed (likely)
--         ─ refuses ─> close_declined                          (declined)
--         ─ thinks ─> think_confirm                            (likely)
--
-- QA rules encoded (DOMAIN.md "Call scripts"): only explicit consent reaches
-- `done`; a vague answer is confirmed again and, if still vague, is not a
-- sale; a sale to an elderly person or a child is void, so the script ends
-- the call before the offer.
--
-- {name} and {phone} are replaced by the customer's fields on screen.

local CONSENT = "明确同意（好 / 行 / 可以 / 开通）"
local VAGUE = "含糊回应（嗯 / 哦 / 啊 / 好了好了）"

local script = {
  name = "haoyun",
  title = "“好运年年”生活小贴士 外呼话术",
  language = "zh",
  start = "greet",
  nodes = {
    greet = {
      say = "您好，这里是中国电信10000号客户服务中心。请问您是{name}吗？{phone}这个号码是登记在您名下、由您本人使用和缴费的吗？",
      options = {
        { label = "是机主本人", next = "offer" },
        { label = "不是机主", next = "can_decide" },
        { label = "接听的是老人或孩子", next = "close_minor" },
        { label = "现在不方便接听", next = "close_later" },
      },
    },
    can_decide = {
      say = "冒昧问一下，这个号码的电信业务，您可以做主办理吗？",
      options = {
        { label = "可以做主", next = "offer" },
        { label = "不能做主", next = "close_not_holder" },
      },
    },
    offer = {
      say = "感谢您一直使用我们的服务。向您介绍“好运年年”生活小贴士：每月4元，"
        .. "通过短信为您发送天气、穿衣和出行建议以及生活常识。开通后前三天不收费，"
        .. "不需要时可随时拨打10000号取消。您愿意开通试用吗？",
      options = {
        { label = "客户同意", next = "confirm" },
        { label = "客户拒绝", next = "retain" },
        { label = "客户要考虑一下", next = "think_offer" },
      },
    },
    retain = {
      say = "理解您的顾虑。每月4元，天气和出行提醒对您和家人安排日常都用得上；"
        .. "而且前三天免费，觉得不合适，拨打10000号随时可以退订。要不您先试用几天？",
      options = {
        { label = "客户同意", next = "confirm" },
        { label = "客户仍然拒绝", next = "close_declined" },
        { label = "客户要考虑一下", next = "think_offer" },
      },
    },
    confirm = {
      say = "我再核对一遍：您是{phone}的机主（或可以为这个号码做主）；为这个号码开通“好运年年”生活小贴士短信服务，"
        .. "每月4元，前三天免费，之后按月收取，随时可拨打10000号退订。您同意开通吗？",
      options = {
        { label = CONSENT, next = "done" },
        { label = VAGUE, next = "reconfirm" },
        { label = "客户拒绝", next = "close_declined" },
        { label = "客户要再考虑", next = "think_confirm" },
      },
    },
    reconfirm = {
      say = "不好意思，为保障您的权益，需要您明确答复：是否同意为{phone}开通“好运年年”服务，每月4元？",
      options = {
        { label = CONSENT, next = "done" },
        { label = "仍然含糊", next = "close_unconfirmed" },
        { label = "客户拒绝", next = "close_declined" },
      },
    },
    done = {
      say = "已为您登记开通，前三天免费。感谢您的支持，祝您生活愉快，再见！",
      outcome = "success",
    },
    think_offer = {
      say = "好的，您可以再考虑一下，有需要也可以随时拨打10000号咨询。感谢您接听，再见！",
      outcome = "interested",
    },
    think_confirm = {
      say = "好的，那先不为您开通，您考虑好后我们再联系您，也可以拨打10000号办理。感谢您接听，再见！",
      outcome = "likely",
    },
    close_unconfirmed = {
      say = "没关系，这次先不为您开通，您方便时可以拨打10000号办理。感谢您接听，再见！",
      outcome = "likely",
    },
    close_declined = {
      say = "好的，不打扰您了。感谢您接听，祝您生活愉快，再见！",
      outcome = "declined",
    },
    close_not_holder = {
      say = "好的，那就不打扰您了。感谢您接听，再见！",
      outcome = "unreachable",
    },
    close_minor = {
      say = "好的，不打扰了，谢谢您，再见！",
      outcome = "unreachable",
    },
    close_later = {
      say = "好的，那我们改天再联系您。打扰了，再见！",
      outcome = "unreachable",
    },
  },
}

agent_script.define(script)

-- Self-checks on the data: the host validates links and outcomes; these pin
-- the QA rules.
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

  retention_line_once = function()
    for _, o in ipairs(script.nodes.retain.options) do
      assert(o.next ~= "retain" and o.next ~= "offer", "the retention line is tried once")
    end
  end,

  confirmation_restates_terms = function()
    local say = script.nodes.confirm.say
    for _, part in ipairs({ "{phone}", "好运年年", "每月4元", "三天", "10000" }) do
      assert(say:find(part, 1, true), "confirmation lacks " .. part)
    end
  end,
}
