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
i=0
# 零 一 二 三 四 五 六 七 八 九
for w in ling2 yi1 er4 san1 si4 wu3 liu4 qi1 ba1 jiu3; do
    zh "digits/$i" "$w"
    i=$((i + 1))
done
