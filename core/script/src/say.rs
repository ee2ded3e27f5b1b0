//! `call:say_number`, `call:say_amount`, `call:say_digits`,
//! `call:say_date`, `call:say_time`: a customer's own figures spoken from
//! fragment prompts (`waihu_media::say`), as one `Play` command.
//!
//! Each takes the value and an options table `{ lang = "zh"|"en",
//! barge_in = bool }` (`say_amount` also `currency`, `say_date` also
//! `year`); the language defaults to the call's `lang` variable, else
//! Mandarin.

use mlua::{MultiValue, Value};
use waihu_call::{Command, PlayItem};
use waihu_media::say::{self, Lang};

fn arg(args: &MultiValue, i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Nil)
}

fn text(v: &Value, what: &str) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.to_str().map_err(|e| e.to_string())?.to_owned()),
        Value::Integer(i) => Ok(i.to_string()),
        Value::Number(n) if n.is_finite() => Ok(format!("{n}")),
        other => Err(format!(
            "{what} must be a string or a number, got {}",
            other.type_name()
        )),
    }
}

fn opt(opts: Option<&mlua::Table>, key: &str) -> Value {
    opts.and_then(|t| t.raw_get::<Value>(key).ok())
        .unwrap_or(Value::Nil)
}

/// Builds the `Play` of say method `name` (without its `say_` prefix).
/// Arguments: the value, the options, and the call's `lang` variable
/// (added by the method itself).
pub(crate) fn command(name: &str, args: &MultiValue) -> Result<Command, String> {
    let opts = match arg(args, 1) {
        Value::Nil => None,
        Value::Table(t) => Some(t.clone()),
        other => {
            return Err(format!(
                "argument #2 (options) must be a table, got {}",
                other.type_name()
            ));
        }
    };
    let opts = opts.as_ref();
    let lang_text = match opt(opts, "lang") {
        Value::Nil => match arg(args, 2) {
            Value::String(s) => s.to_str().map_err(|e| e.to_string())?.to_owned(),
            _ => "zh".to_owned(),
        },
        v => text(&v, "lang")?,
    };
    let lang: Lang = lang_text.parse().map_err(|_| {
        format!(
            "lang must be \"zh\" or \"en\", got \"{}\"",
            lang_text.escape_debug()
        )
    })?;
    let barge_in = match opt(opts, "barge_in") {
        Value::Nil => false,
        Value::Boolean(b) => b,
        other => {
            return Err(format!(
                "barge_in must be a boolean, got {}",
                other.type_name()
            ));
        }
    };
    let value = arg(args, 0);
    let names = match name {
        "number" => {
            let n = match value {
                Value::Integer(i) => *i,
                Value::Number(f) if f.fract() == 0.0 && f.abs() < 1e15 => *f as i64,
                Value::String(s) => s
                    .to_str()
                    .ok()
                    .and_then(|s| s.trim().parse::<i64>().ok())
                    .ok_or("argument #1 must be a whole number")?,
                _ => return Err("argument #1 must be a whole number".to_owned()),
            };
            say::say_number(lang, n)
        }
        "amount" => {
            let currency = match opt(opts, "currency") {
                Value::Nil => "CNY".to_owned(),
                v => text(&v, "currency")?,
            };
            say::say_amount(lang, &text(value, "argument #1 (amount)")?, &currency)
        }
        "digits" => say::say_digits(lang, &text(value, "argument #1 (digits)")?),
        "date" => {
            let date = text(value, "argument #1 (date)")?;
            let mut parts = date.split('-').map(|p| p.trim().parse::<i64>());
            let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d)), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(format!(
                    "the date must be YYYY-MM-DD, got \"{}\"",
                    date.escape_debug()
                ));
            };
            let with_year = match opt(opts, "year") {
                Value::Nil => true,
                Value::Boolean(b) => b,
                other => return Err(format!("year must be a boolean, got {}", other.type_name())),
            };
            let (Ok(y), Ok(m), Ok(d)) = (i32::try_from(y), u8::try_from(m), u8::try_from(d)) else {
                return Err(format!("no such date \"{date}\""));
            };
            say::say_date(lang, y, m, d, with_year)
        }
        "time" => {
            let time = text(value, "argument #1 (time)")?;
            let Some((h, m)) = time.split_once(':') else {
                return Err(format!(
                    "the time must be HH:MM, got \"{}\"",
                    time.escape_debug()
                ));
            };
            let (Ok(h), Ok(m)) = (h.trim().parse::<u8>(), m.trim().parse::<u8>()) else {
                return Err(format!(
                    "the time must be HH:MM, got \"{}\"",
                    time.escape_debug()
                ));
            };
            say::say_time(lang, h, m)
        }
        other => return Err(format!("unknown call method say_{other}")),
    }
    .map_err(|e| e.to_string())?;
    Ok(Command::Play {
        items: names
            .into_iter()
            .map(|name| PlayItem::Prompt { name })
            .collect(),
        barge_in,
    })
}
