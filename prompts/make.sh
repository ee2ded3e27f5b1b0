#!/bin/sh
# Regenerates the shipped prompts: espeak-ng speaks each text, sox trims
# the silence around it and converts it to 8 kHz mono 16-bit WAV, the
# format waihu plays without resampling.
#
# Needs espeak-ng and sox (Debian/Ubuntu: apt-get install espeak-ng sox).
# The results are committed, so building waihu does not need either tool.
set -eu

cd "$(dirname "$0")"

for tool in espeak-ng sox; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "make.sh: $tool is not installed" >&2
        exit 1
    }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# say VOICE SPEED OUT TEXT
say() {
    voice=$1 speed=$2 out=$3 text=$4
    mkdir -p "$(dirname "$out")"
    espeak-ng -v "$voice" -s "$speed" -w "$tmp/raw.wav" -- "$text"
    # silence 1 ... trims the start; the reverse pair trims the end the
    # same way. Normalising to -4 dBFS before resampling leaves headroom
    # for the resampler's overshoot, the G.711 encoders and the phone's
    # own gain. "rate -v" is sox's very-high-quality resampler; -R makes
    # its dither repeatable, so regenerating changes no bytes.
    sox -R "$tmp/raw.wav" -b 16 -c 1 "$out" \
        silence 1 0.01 0.5% reverse silence 1 0.01 0.5% reverse \
        norm -4 rate -v 8000
    echo "$out"
}

en() { say en-us 160 "en/$1.wav" "$2"; }
zh() { say cmn-latn-pinyin 160 "zh/$1.wav" "$2"; }

en welcome "Welcome to waihu."
en menu "Press 1 for an echo test, 2 to hear a recording, 3 to enter digits and hear them back, 4 to record a message."
en goodbye "Goodbye."
en please_hold "Please hold."
en you_entered "You entered"
en enter_digits "Please enter some digits, then press the pound key."
en echo_intro "Echo test. Speak and hear yourself. Press the pound key to end."
en record_intro "Record your message after the tone. Press the pound key when you are done."
en invalid "Sorry, that is not a valid choice."
en queue_position "Thank you for waiting. You are caller number"
en queue_busy "All our agents are busy. Please call again later. Goodbye."
en leave_message "All our agents are busy. Please leave a message after the tone, and press the pound key when you are done."
en callback_ok "All our agents are busy. We have your number and will call you back. Goodbye."
en agent_login "You are logged in and ready."
en agent_logout "You are logged out."
en agent_pause "You are paused."
en agent_ready "You are ready."
i=0
for w in zero one two three four five six seven eight nine; do
    en "digits/$i" "$w"
    i=$((i + 1))
done

# The Debian/Ubuntu espeak-ng Mandarin dictionary lacks most characters
# (it spells them out), so the zh prompts are fed as tone-numbered pinyin
# to the cmn-latn-pinyin voice. The text each one says is in the comment.
zh welcome "huan1 ying2 shi3 yong4 wai4 hu1."                        # 欢迎使用外呼。
zh menu "hui2 sheng1 ce4 shi4 qing3 an4 yi1, shou1 ting1 lu4 yin1 qing3 an4 er4, shu1 ru4 shu4 zi4 bing4 ting1 qu3 hui2 fang4 qing3 an4 san1, lu4 zhi4 liu2 yan2 qing3 an4 si4."
#   回声测试请按1，收听录音请按2，输入数字并听取回放请按3，录制留言请按4。
zh goodbye "zai4 jian4."                                              # 再见。
zh please_hold "qing3 shao1 hou4."                                    # 请稍候。
zh you_entered "nin2 shu1 ru4 de5 shi4"                               # 您输入的是
zh enter_digits "qing3 shu1 ru4 shu4 zi4, ran2 hou4 an4 jing3 hao4 jian4."
#   请输入数字，然后按井号键。
zh echo_intro "hui2 sheng1 ce4 shi4. qing3 shuo1 hua4, nin2 hui4 ting1 dao4 zi4 ji3 de5 sheng1 yin1. an4 jing3 hao4 jian4 jie2 shu4."
#   回声测试。请说话，您会听到自己的声音。按井号键结束。
zh record_intro "qing3 zai4 ti2 shi4 yin1 hou4 lu4 zhi4 nin2 de5 liu2 yan2, lu4 wan2 qing3 an4 jing3 hao4 jian4."
#   请在提示音后录制您的留言，录完请按井号键。
zh invalid "dui4 bu4 qi3, nin2 de5 xuan3 ze2 wu2 xiao4."              # 对不起，您的选择无效。
zh queue_position "gan3 xie4 nin2 de5 nai4 xin1 deng3 dai4, nin2 qian2 mian4 de5 pai2 dui4 wei4 zhi4 shi4 di4"
#   感谢您的耐心等待，您的排队位置是第
zh queue_busy "zuo4 xi2 quan2 bu4 zhan4 xian4, qing3 shao1 hou4 zai4 bo1. zai4 jian4."
#   坐席全部占线，请稍后再拨。再见。
zh leave_message "zuo4 xi2 quan2 bu4 zhan4 xian4, qing3 zai4 ti2 shi4 yin1 hou4 liu2 yan2, liu2 yan2 wan2 bi4 qing3 an4 jing3 hao4 jian4."
#   坐席全部占线，请在提示音后留言，留言完毕请按井号键。
zh callback_ok "zuo4 xi2 quan2 bu4 zhan4 xian4, wo3 men5 yi3 ji4 lu4 nin2 de5 hao4 ma3, jiang1 wei4 nin2 hui2 dian4. zai4 jian4."
#   坐席全部占线，我们已记录您的号码，将为您回电。再见。
zh agent_login "nin2 yi3 deng1 lu4 bing4 jiu4 xu4."                   # 您已登录并就绪。
zh agent_logout "nin2 yi3 tui4 chu1."                                 # 您已退出。
zh agent_pause "nin2 yi3 zan4 ting2."                                 # 您已暂停。
zh agent_ready "nin2 yi3 jiu4 xu4."                                   # 您已就绪。
# The shipped broadcasts (scripts/billing_reminder.lua,
# scripts/broadband_renewal.lua): the fixed phrases around the figures
# said from num/ fragments. Each opens by saying who calls.
en bill_intro "Hello, this is waihu customer service with your bill. Your bill this month is"
en bill_due "It is due on"
en bill_menu "To hear this again, press 1. To speak to an agent, press 0. To stop these calls, press 9."
en optout_ok "Your number is on our do not call list. We will not call you again. Goodbye."
en transfer "Please hold, we are connecting you to an agent."
en renewal_intro "Hello, this is waihu customer service. Your broadband contract ends on"
en renewal_offer "Renew now and pay only, per month,"
en renewal_menu "To accept the offer and speak to an agent, press 1. To stop these calls, press 9."
zh bill_intro "nin2 hao3, zhe4 li3 shi4 wai4 hu1 ke4 fu2 zhong1 xin1. nin2 ben3 yue4 de5 hua4 fei4 shi4"  # 您好，这里是外呼客服中心。您本月的话费是
zh bill_due "jiao3 fei4 jie2 zhi3 ri4 qi1 shi4"  # 缴费截止日期是
zh bill_menu "chong2 ting1 qing3 an4 yi1, zhuan3 ren2 gong1 fu2 wu4 qing3 an4 ling2, bu4 zai4 jie1 shou1 ci3 lei4 lai2 dian4 qing3 an4 jiu3."  # 重听请按1，转人工服务请按0，不再接收此类来电请按9。
zh optout_ok "nin2 de5 hao4 ma3 yi3 jia1 ru4 mian3 da3 rao3 ming2 dan1, wo3 men5 jiang1 bu4 zai4 lai2 dian4. zai4 jian4."  # 您的号码已加入免打扰名单，我们将不再来电。再见。
zh transfer "qing3 shao1 hou4, zheng4 zai4 wei4 nin2 zhuan3 jie1 ren2 gong1 fu2 wu4."  # 请稍候，正在为您转接人工服务。
zh renewal_intro "nin2 hao3, zhe4 li3 shi4 wai4 hu1 ke4 fu2 zhong1 xin1. nin2 de5 kuan1 dai4 he2 yue1 dao4 qi1 ri4 shi4"  # 您好，这里是外呼客服中心。您的宽带合约到期日是
zh renewal_offer "xian4 zai4 xu4 yue1, mei3 yue4 jin3 xu1"  # 现在续约，每月仅需
zh renewal_menu "jie1 shou4 you1 hui4 bing4 zhuan3 ren2 gong1 qing3 an4 yi1, bu4 zai4 jie1 shou1 ci3 lei4 lai2 dian4 qing3 an4 jiu3."  # 接受优惠并转人工请按1，不再接收此类来电请按9。

# The safe-harbour message of an abandoned campaign call: who called, and
# how to stop the calls.
en safe_harbour "This is waihu customer service calling about your account. We are sorry, no one is free to speak with you now. We will call again later. To stop these calls, call us back and ask to be put on the do not call list."
zh safe_harbour "nin2 hao3, zhe4 li3 shi4 wai4 hu1 ke4 fu2 zhong1 xin1. hen3 bao4 qian4, zuo4 xi2 zan4 shi2 mang2. wo3 men5 shao1 hou4 zai4 lai2 dian4. ru2 bu4 xi1 wang4 zai4 jie1 dao4 lai2 dian4, qing3 hui2 bo1 bing4 yao1 qiu2 jia1 ru4 mian3 da3 rao3 ming2 dan1."  # 您好，这里是外呼客服中心。很抱歉，座席暂时忙。我们稍后再来电。如不希望再接到来电，请回拨并要求加入免打扰名单。
i=0
# 零 一 二 三 四 五 六 七 八 九
for w in ling2 yi1 er4 san1 si4 wu3 liu4 qi1 ba1 jiu3; do
    zh "digits/$i" "$w"
    i=$((i + 1))
done

# Fragments for spoken figures (waihu_media::say): numbers, money, dates
# and times are played as sequences of these. The names must match
# say::fragments(); core/media/tests/say_prompts.rs checks that they do.
#
# Mandarin, under zh/num/. 一 is recorded in its first tone: the tone
# changes of a real speaker (yì bǎi, yí wàn) depend on the next fragment.
i=0
# 零 一 二 三 四 五 六 七 八 九
for w in ling2 yi1 er4 san1 si4 wu3 liu4 qi1 ba1 jiu3; do
    zh "num/$i" "$w"
    i=$((i + 1))
done
zh num/yao yao1             # 幺, 1 in phone numbers
zh num/liang liang3         # 两
zh num/shi shi2             # 十
zh num/bai bai3             # 百
zh num/qian qian1           # 千
zh num/wan wan4             # 万
zh num/yi4 yi4              # 亿
zh num/fu fu4               # 负
zh num/yuan yuan2           # 元
zh num/jiao jiao3           # 角
zh num/fen fen1             # 分
zh num/meiyuan "mei3 yuan2" # 美元
zh num/meifen "mei3 fen1"   # 美分
zh num/nian nian2           # 年
zh num/yue yue4             # 月
zh num/ri ri4               # 日
zh num/dian dian3           # 点
zh num/lingchen "ling2 chen2"   # 凌晨
zh num/shangwu "shang4 wu3"     # 上午
zh num/zhongwu "zhong1 wu3"     # 中午
zh num/xiawu "xia4 wu3"         # 下午
zh num/wanshang "wan3 shang5"   # 晚上

# English, under en/num/.
i=0
for w in zero one two three four five six seven eight nine ten eleven twelve \
         thirteen fourteen fifteen sixteen seventeen eighteen nineteen; do
    en "num/$i" "$w"
    i=$((i + 1))
done
i=20
for w in twenty thirty forty fifty sixty seventy eighty ninety; do
    en "num/$i" "$w"
    i=$((i + 10))
done
for w in hundred thousand million billion minus oh and yuan fen \
         dollar dollars cent cents; do
    en "num/$w" "$w"
done
en num/am "a.m."
en num/pm "p.m."
i=1
for w in January February March April May June July August September \
         October November December; do
    en "num/month/$i" "$w"
    i=$((i + 1))
done
i=1
for w in first second third fourth fifth sixth seventh eighth ninth tenth \
         eleventh twelfth thirteenth fourteenth fifteenth sixteenth \
         seventeenth eighteenth nineteenth twentieth twenty-first \
         twenty-second twenty-third twenty-fourth twenty-fifth twenty-sixth \
         twenty-seventh twenty-eighth twenty-ninth thirtieth thirty-first; do
    en "num/ord/$i" "$w"
    i=$((i + 1))
done

# Music on hold: a slow progression of soft two-note sine chords (sox
# synth), ten seconds, looped by the queue. Our own, so no licence question.
mkdir -p moh
n=0
for chord in "261.63 329.63" "329.63 392.00" "392.00 523.25" "349.23 440.00" \
             "293.66 349.23" "329.63 392.00" "261.63 392.00" "246.94 293.66"; do
    set -- $chord
    sox -R -n -b 16 -c 1 -r 8000 "$tmp/chord$n.wav" \
        synth 1.25 sine "$1" sine "$2" remix - fade t 0.1 1.25 0.3 vol 0.25
    n=$((n + 1))
done
sox -R "$tmp"/chord[0-7].wav -b 16 -c 1 -r 8000 moh/default.wav
echo moh/default.wav
