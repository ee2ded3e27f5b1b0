#!/usr/bin/env bash
# Builds the labelled answering-machine-detection clips in tests/amd/clips/
# and tests/amd/labels.csv, deterministically, from espeak-ng and sox.
#
#   tests/amd/make_clips.sh      (needs espeak-ng and sox on PATH)
#
# Every clip is what the detector hears after answer: 8 kHz mono 16-bit
# PCM, starting with 200-800 ms of near-silence (a quiet hiss, as on a
# real line), then what the far end says, then what follows it.
#
# Labels say what a dialer should do with the call:
#   human   - a person answered ("喂?", "Hello?") and is waiting: connect
#             an agent.
#   machine - voicemail or a network announcement: do not connect an
#             agent (leave a message after the beep, or hang up).
#   unsure  - nothing but silence or noise: nobody can tell. For the
#             machine precision/recall this counts as "not machine", like
#             human, because the costly mistake is hanging up on a person.
#
# The fourth column, beep_ms, is when the beep starts (ms from the start
# of the clip), for clips that have one.
#
# The third column splits the set in two: within each label, clips
# alternate between "tune" and "holdout" in the order they are listed
# here. The split was fixed before the detector was tuned; thresholds were
# tuned looking at the "tune" half only.
#
# The clips are synthetic (espeak-ng voices with sox noise and telephone
# band filtering), so the numbers measured on them say how the detector
# treats these cadences, not how it does on a real carrier's calls.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out="$here/clips"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# -R: sox seeds its random generators the same way on every run, so the
# noise (and so every clip) is byte-identical from one run to the next.
SOX=(sox -R -D)
FMT=(-r 8000 -c 1 -b 16 -e signed-integer)

rm -rf "$out"
mkdir -p "$out"
echo "file,label,set,beep_ms" > "$here/labels.csv"

# Noise pools, 90 s each; clips take slices at different offsets so that
# no two clips carry the same noise.
for kind in pinknoise brownnoise whitenoise; do
    "${SOX[@]}" -n "${FMT[@]}" "$work/pool_$kind.wav" synth 90 "$kind"
done
# The line's own hiss, for "near-silence": about -66 dBFS.
"${SOX[@]}" "$work/pool_whitenoise.wav" "$work/pool_hiss.wav" sinc 300-3400 vol -60dB

slice=0
# take POOL SECONDS OUT: a slice of a noise pool.
take() {
    local ms
    slice=$((slice + 1))
    ms=$((slice * 1370 % 80000))
    "${SOX[@]}" "$work/pool_$1.wav" "$3" trim "$((ms / 1000)).$(printf %03d $((ms % 1000)))" "$2"
}

# Parts of a clip, each written to $work/part_N.wav:
#   q SECONDS                        near-silence (line hiss)
#   z SECONDS                        digital silence
#   say VOICE SPEED PITCH PEAK TEXT  espeak-ng speech, peak-normalised to
#                                    PEAK dBFS, leading and trailing
#                                    silence trimmed
#   beep HZ SECONDS PEAK             a sine tone with 5 ms fades
part_no=0
part() {
    part_no=$((part_no + 1))
    local f="$work/part_$part_no.wav"
    local kind=$1
    shift
    case "$kind" in
        q) take hiss "$1" "$f" ;;
        z) "${SOX[@]}" -n "${FMT[@]}" "$f" trim 0 "$1" ;;
        say)
            local voice=$1 speed=$2 pitch=$3 peak=$4
            shift 4
            espeak-ng -v "$voice" -s "$speed" -p "$pitch" -w "$work/tts.wav" "$*"
            "${SOX[@]}" "$work/tts.wav" "${FMT[@]}" "$f" \
                silence 1 0.01 0.5% reverse silence 1 0.01 0.5% reverse \
                gain -n "$peak"
            ;;
        beep)
            "${SOX[@]}" -n "${FMT[@]}" "$f" synth "$2" sine "$1" fade t 0.005 "$2" 0.005 gain -n "$3"
            ;;
        *)
            echo "unknown part $kind" >&2
            exit 1
            ;;
    esac
    if [[ $kind == beep ]]; then
        beep_ms=$((samples / 8))
    fi
    samples=$((samples + $(soxi -s "$f")))
    parts+=("$f")
}

declare -A count
# clip NAME LABEL EXTRAS -- PART ; PART ; ...
#   EXTRAS: comma-separated, any of
#     noise=POOL:DB   mix noise from POOL at DB (sox vol) over the whole clip
#     line            telephone band filter (sinc 300-3400) over the result
clip() {
    local name=$1 label=$2 extras=$3
    shift 4
    parts=()
    samples=0
    beep_ms=
    local spec=() w
    for w in "$@" ";"; do
        if [[ $w == ";" ]]; then
            [[ ${#spec[@]} -gt 0 ]] && part "${spec[@]}"
            spec=()
        else
            spec+=("$w")
        fi
    done
    local f="$work/joined.wav"
    if [[ ${#parts[@]} -eq 1 ]]; then
        cp "${parts[0]}" "$f"
    else
        "${SOX[@]}" "${parts[@]}" "$f"
    fi
    local e
    IFS=',' read -ra ex <<< "$extras"
    for e in "${ex[@]}"; do
        case "$e" in
            noise=*)
                local spec2=${e#noise=} pool db len
                pool=${spec2%%:*}
                db=${spec2#*:}
                len=$(soxi -D "$f")
                take "$pool" "$len" "$work/n.wav"
                "${SOX[@]}" "$work/n.wav" "$work/nv.wav" sinc 200-3600 vol "${db}dB"
                "${SOX[@]}" -m -v 1 "$f" -v 1 "$work/nv.wav" "$work/mixed.wav"
                mv "$work/mixed.wav" "$f"
                ;;
            line)
                "${SOX[@]}" "$f" "$work/lined.wav" sinc 300-3400
                mv "$work/lined.wav" "$f"
                ;;
            tremolo)
                "${SOX[@]}" "$f" "$work/trem.wav" tremolo 0.7 60
                mv "$work/trem.wav" "$f"
                ;;
            -) ;;
            *)
                echo "unknown extra $e" >&2
                exit 1
                ;;
        esac
    done
    "${SOX[@]}" "$f" "${FMT[@]}" "$out/$name.wav"
    local n=${count[$label]:-0}
    count[$label]=$((n + 1))
    local set=tune
    ((n % 2 == 1)) && set=holdout
    echo "$name.wav,$label,$set,$beep_ms" >> "$here/labels.csv"
}

# ---------------------------------------------------------------- human
# A person answers, says a few words and waits for the caller.
clip h01_zh_wei human - -- q 0.4 \; say cmn 160 50 -6 喂？ \; q 3.0
clip h02_zh_wei_nihao human - -- q 0.6 \; say cmn+f2 175 60 -8 喂，你好。 \; q 3.0
clip h03_en_hello human - -- q 0.3 \; say en-us 165 50 -6 Hello? \; q 3.0
clip h04_en_whos_this human - -- q 0.5 \; say en-gb+f3 150 55 -7 "Hello, who's this?" \; q 3.0
clip h05_en_yes human - -- q 0.7 \; say en-us+m3 180 40 -9 Yes? \; q 3.0
clip h06_zh_wei_wei human - -- q 0.5 \; say cmn+m3 150 45 -6 喂？ \; q 1.2 \; say cmn+m3 150 45 -6 喂？ \; q 2.5
clip h07_en_hello_hello human - -- q 0.3 \; say en-us+f4 170 60 -5 Hello? \; q 1.3 \; say en-us+f4 170 60 -5 Hello? \; q 2.5
clip h08_zh_nawei_noise human noise=pinknoise:-24 -- q 0.25 \; say cmn 170 50 -8 喂，哪位？ \; q 3.0
clip h09_en_hello_noise_line human noise=pinknoise:-22,line -- q 0.4 \; say en-gb 160 45 -6 Hello? \; q 3.0
clip h10_zh_nihao human - -- q 0.8 \; say cmn+f4 190 70 -10 你好？ \; q 3.0
clip h11_en_yeah_hello human - -- q 0.35 \; say en-029 170 50 -6 "Yeah, hello?" \; q 3.0
clip h12_zh_wei_nihao_brown human noise=brownnoise:-20 -- q 0.45 \; say cmn+f3 160 50 -7 喂？你好。 \; q 3.0
clip h13_en_hi human - -- q 0.4 \; say en-us-nyc 180 50 -8 Hi. \; q 3.0
clip h14_en_who_is_it human - -- q 0.55 \; say en-gb-scotland 155 50 -6 "Hello, who is it?" \; q 3.0
clip h15_zh_en_wei_line human line -- q 0.6 \; say cmn+m7 140 35 -7 嗯，喂？ \; q 3.0
clip h16_en_hello_anyone human - -- q 0.3 \; say en+f2 150 65 -6 Hello? \; q 1.0 \; say en+f2 150 65 -6 "Anyone there?" \; q 2.5
clip h17_zh_ninhao_white_line human noise=whitenoise:-38,line -- q 0.5 \; say cmn 180 55 -8 喂，您好。 \; q 3.0
clip h18_en_yes_hello_noisy human noise=pinknoise:-18 -- q 0.65 \; say en-us 140 50 -6 "Yes, hello?" \; q 3.0
clip h19_zh_wei_tingdedao human - -- q 0.4 \; say cmn+f5 165 50 -6 喂？ \; q 1.5 \; say cmn+f5 165 50 -6 喂，听得到吗？ \; q 2.5
clip h20_en_speaking human - -- q 0.5 \; say en-gb-x-rp 170 50 -7 Speaking. \; q 3.0
clip h21_en_this_is_mary human - -- q 0.45 \; say en-us+m2 170 50 -6 "Hello, this is Mary speaking." \; q 3.0
clip h22_zh_qingwen_shi_nawei human - -- q 0.3 \; say cmn 165 50 -6 喂，你好，请问是哪位啊？ \; q 3.0
clip h23_en_hello_loud human - -- q 0.7 \; say en-us+f1 200 70 -1 Hello? \; q 3.0
clip h24_zh_wei_quiet human - -- q 0.5 \; say cmn+m2 150 50 -26 喂？ \; q 3.0

# -------------------------------------------------------------- machine
# Voicemail greetings (most followed by a beep) and network announcements.
clip m01_zh_wufa_jietong_beep machine - -- q 0.5 \; say cmn 175 50 -6 您好，您拨打的用户暂时无法接通，请在提示音后留言。 \; q 0.5 \; beep 1000 0.3 -8 \; q 1.0
clip m02_en_david_chen_beep machine - -- q 0.3 \; say en-us 170 50 -6 "Hi, you've reached the voicemail of David Chen. I can't take your call right now, so please leave a message after the tone." \; q 0.4 \; beep 1000 0.4 -6 \; q 1.0
clip m03_zh_bu_fangbian machine - -- q 0.7 \; say cmn+f2 160 55 -7 您好，我现在不方便接听电话，请在嘀声后留下您的姓名和电话，我会尽快给您回复。 \; q 1.5
clip m04_en_number_beep850 machine - -- q 0.4 \; say en-gb+f3 160 50 -6 "Hello, you have reached five five five, zero one four two. Nobody is available to take your call. Please leave a message after the beep." \; q 0.6 \; beep 850 0.5 -10 \; q 1.0
clip m05_zh_wuren_jieting_noise machine noise=pinknoise:-24 -- q 0.3 \; say cmn 190 50 -6 对不起，您拨打的电话暂时无人接听，请在提示音后留言，留言完毕请挂机。 \; q 0.5 \; beep 1400 0.3 -8 \; q 1.0
clip m06_en_not_available_line machine line -- q 0.6 \; say en-us+m3 180 45 -6 "The person you are calling is not available. Please leave a message after the tone." \; q 1.5
clip m07_zh_wang_xiansheng_beep machine - -- q 0.45 \; say cmn+m3 170 45 -7 你好，这里是王先生的语音信箱，有事请留言。 \; q 0.4 \; beep 1000 0.25 -8 \; q 1.0
clip m08_en_thanks_brown machine noise=brownnoise:-20 -- q 0.5 \; say en-029 175 50 -6 "Thanks for calling. Please leave your name and number and I will get back to you as soon as I can." \; q 0.5 \; beep 1000 0.3 -6 \; q 1.0
clip m09_zh_jizhu_beep1200 machine - -- q 0.35 \; say cmn+f4 180 60 -6 您好，机主暂时不能接听您的电话，请在信号音后开始录音。 \; q 0.7 \; beep 1200 0.5 -9 \; q 1.0
clip m10_en_sam_beep machine - -- q 0.25 \; say en-us-nyc 190 50 -6 "Hey, it's Sam. I'm not around right now. Leave me a message and I'll call you back." \; q 0.3 \; beep 1000 0.3 -6 \; q 1.0
clip m11_en_short_leave_message machine - -- q 0.5 \; say en-us+f2 170 60 -6 "Leave a message." \; q 0.4 \; beep 1000 0.3 -6 \; q 1.0
clip m12_zh_short_qing_liuyan machine - -- q 0.6 \; say cmn 180 50 -6 请留言。 \; q 0.5 \; beep 1000 0.4 -6 \; q 1.0
clip m13_en_doctor_patel machine - -- q 0.4 \; say en-gb-x-rp 150 50 -7 "You have reached the office of Doctor Patel. The office is now closed. Our opening hours are nine to five, Monday to Friday." \; q 1.0
clip m14_zh_tonghua_zhong_line machine line -- q 0.55 \; say cmn+f3 150 50 -6 欢迎致电，您所拨打的号码正在通话中，请稍后再拨，或在提示音后留言。 \; q 0.5 \; beep 950 0.35 -8 \; q 1.0
clip m15_en_jennifer_noise machine noise=pinknoise:-26 -- q 0.3 \; say en-us 150 40 -6 "Hi, this is Jennifer. Sorry I missed your call. Please leave a message after the tone and have a great day." \; q 0.5 \; beep 1000 0.3 -6 \; q 1.0
clip m16_zh_yuyin_xinxiang_white machine noise=whitenoise:-40 -- q 0.7 \; say cmn+m7 170 40 -6 您好，您拨打的电话已开通语音信箱服务，请在嘀的一声后留言。 \; q 0.5 \; beep 1000 0.3 -7 \; q 1.0
clip m17_en_scotland_short machine - -- q 0.4 \; say en-gb-scotland 170 50 -6 "Hello. Please leave a message after the tone." \; q 0.5 \; beep 1000 0.6 -6 \; q 1.0
clip m18_zh_kaihui_beep880 machine - -- q 0.5 \; say cmn+f5 200 60 -6 您好，我正在开会，请留言。 \; q 0.4 \; beep 880 0.3 -6 \; q 1.0
clip m19_en_not_available_quiet machine - -- q 0.6 \; say en+f4 165 55 -20 "The number you have dialed is not available at the moment. Please try again later, or leave a message after the tone." \; q 1.0
clip m20_zh_guanji_announcement machine - -- q 0.3 \; say cmn 160 50 -6 您好，您所拨打的用户已关机，请稍后再拨。 \; q 1.0
clip m21_en_leave_for_number machine - -- q 0.5 \; say en-us+m1 175 50 -6 "Please leave your message for five five five, one two three four." \; q 0.5 \; beep 1000 0.3 -6 \; q 1.0
clip m22_zh_wei_then_greeting machine - -- q 0.4 \; say cmn+m2 175 50 -6 喂，你好，我现在不方便接电话，请留言。 \; q 0.6 \; beep 1000 0.3 -6 \; q 1.0
clip m23_beep_only machine - -- q 0.6 \; beep 1000 0.5 -6 \; q 2.0
clip m24_en_anna_tom_line_noise machine noise=pinknoise:-24,line -- q 0.3 \; say en-gb+f2 140 50 -6 "Hi, you've reached Anna and Tom. We can't come to the phone right now. Leave a message after the beep." \; q 0.5 \; beep 1000 0.4 -6 \; q 1.0

# --------------------------------------------------------------- unsure
# Nobody speaks: line hiss, digital silence, or noise of various colours.
clip u01_hiss unsure - -- q 5.0
clip u02_digital_silence unsure - -- z 5.0
clip u03_pink unsure noise=pinknoise:-20 -- q 5.0
clip u04_pink_loud_line unsure noise=pinknoise:-12,line -- q 5.0
clip u05_brown unsure noise=brownnoise:-16 -- q 5.0
clip u06_white_line unsure noise=whitenoise:-30,line -- q 5.0
clip u07_pink_quiet unsure noise=pinknoise:-32 -- q 5.0
clip u08_pink_brown unsure noise=pinknoise:-22,noise=brownnoise:-20 -- q 5.0
clip u09_pink_tremolo unsure noise=pinknoise:-18,tremolo -- q 5.0
clip u10_brown_loud_line unsure noise=brownnoise:-10,line -- q 5.0

echo "$(($(wc -l < "$here/labels.csv") - 1)) clips in $out"
