//! A reader's own sample, typed as text in the Model lab: a copy string (`s3 s17 s5`) or
//! recall pairs and a query (`s3=v1 s7=v4 ? s7`), in the labels the lab prints
//! ([`super::token_label`]). The result is a [`Sample`] exactly as the task would have drawn it
//! (same layout, same scored positions), or a message saying what is wrong and where.

use super::{BOS, SEP, SYMBOL0, SYMBOLS, Sample, TaskKind, VALUE0, VALUES};

/// Longest input text accepted (characters).
pub const MAX_INPUT_CHARS: usize = 2048;

/// Examples shown as placeholders and in messages.
pub fn example(task: TaskKind) -> &'static str {
    match task {
        TaskKind::Copy => "s3 s17 s5 s42",
        TaskKind::Recall => "s3=v1 s7=v4 s9=v1 ? s7",
    }
}

fn symbol_of(word: &str) -> Result<u32, String> {
    let n = word
        .strip_prefix('s')
        .and_then(|d| d.parse::<usize>().ok())
        .filter(|&n| n < SYMBOLS)
        .ok_or_else(|| format!("'{word}' is not a symbol (s0 … s{})", SYMBOLS - 1))?;
    Ok(SYMBOL0 + n as u32)
}

fn value_of(word: &str) -> Result<u32, String> {
    let n = word
        .strip_prefix('v')
        .and_then(|d| d.parse::<usize>().ok())
        .filter(|&n| n < VALUES)
        .ok_or_else(|| format!("'{word}' is not a value (v0 … v{})", VALUES - 1))?;
    Ok(VALUE0 + n as u32)
}

/// Parses `text` into a sample of `task`; the error says what to fix.
pub fn parse(task: TaskKind, text: &str) -> Result<Sample, String> {
    if text.chars().count() > MAX_INPUT_CHARS {
        return Err(format!("at most {MAX_INPUT_CHARS} characters"));
    }
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    let mut tokens = vec![BOS];
    let sample = match task {
        TaskKind::Copy => {
            let mut string = Vec::with_capacity(words.len());
            for w in &words {
                let s = symbol_of(w)?;
                if string.contains(&s) {
                    return Err(format!("{w} appears twice: a copy string uses distinct symbols"));
                }
                string.push(s);
            }
            if string.is_empty() {
                return Err(format!("type the string to copy, e.g. {}", example(task)));
            }
            tokens.extend(&string);
            let sep_at = tokens.len();
            tokens.push(SEP);
            tokens.extend(&string);
            Sample {
                answer_positions: (sep_at..sep_at + string.len()).collect(),
                tokens,
            }
        }
        TaskKind::Recall => {
            let q_at = words
                .iter()
                .position(|w| w.starts_with('?'))
                .ok_or_else(|| format!("end with the queried key after '?', e.g. {}", example(task)))?;
            let mut pairs: Vec<(u32, u32)> = Vec::new();
            for w in &words[..q_at] {
                let (k, v) = w
                    .split_once('=')
                    .ok_or_else(|| format!("'{w}' is not a pair key=value, e.g. s3=v1"))?;
                let k = symbol_of(k)?;
                if pairs.iter().any(|(pk, _)| *pk == k) {
                    return Err(format!("key {w} appears twice: keys are distinct"));
                }
                pairs.push((k, value_of(v)?));
            }
            // "? s7" or "?s7".
            let rest: Vec<&str> = std::iter::once(words[q_at].trim_start_matches('?'))
                .chain(words[q_at + 1..].iter().copied())
                .filter(|w| !w.is_empty())
                .collect();
            let [query] = rest[..] else {
                return Err("after '?' give exactly one key, e.g. ? s7".into());
            };
            let q = symbol_of(query)?;
            let answer = pairs
                .iter()
                .find(|(k, _)| *k == q)
                .map(|(_, v)| *v)
                .ok_or_else(|| format!("the queried key {query} is not among the pairs"))?;
            if pairs.is_empty() {
                return Err(format!("give at least one pair, e.g. {}", example(task)));
            }
            for (k, v) in &pairs {
                tokens.push(*k);
                tokens.push(*v);
            }
            tokens.push(SEP);
            tokens.push(q);
            let answer_at = tokens.len() - 1;
            tokens.push(answer);
            Sample {
                tokens,
                answer_positions: vec![answer_at],
            }
        }
    };
    task.check_len(sample.tokens.len()).map_err(|e| e.to_string())?;
    Ok(sample)
}

/// The text [`parse`] reads back to the same sample (the inverse, for a drawn sample).
pub fn to_text(task: TaskKind, sample: &Sample) -> String {
    let label = super::token_label;
    let at = sample.answer_positions.first().copied().unwrap_or(0);
    let tokens = &sample.tokens;
    match task {
        TaskKind::Copy => tokens
            .get(at + 1..)
            .unwrap_or_default()
            .iter()
            .map(|&t| label(t))
            .collect::<Vec<_>>()
            .join(" "),
        TaskKind::Recall => {
            let body: Vec<u32> = tokens
                .get(..at.saturating_sub(1))
                .unwrap_or_default()
                .iter()
                .copied()
                .filter(|&t| t != BOS && t != SEP)
                .collect();
            let pairs: Vec<String> = body
                .chunks_exact(2)
                .map(|p| format!("{}={}", label(p[0]), label(p[1])))
                .collect();
            let query = tokens.get(at).map_or_else(String::new, |&t| label(t));
            format!("{} ? {query}", pairs.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    #[test]
    fn typed_samples_have_the_tasks_own_layout() {
        let c = parse(TaskKind::Copy, "s3 s17 s5").unwrap();
        assert_eq!(
            c.tokens,
            vec![
                BOS,
                SYMBOL0 + 3,
                SYMBOL0 + 17,
                SYMBOL0 + 5,
                SEP,
                SYMBOL0 + 3,
                SYMBOL0 + 17,
                SYMBOL0 + 5
            ]
        );
        assert_eq!(c.answers(), vec![SYMBOL0 + 3, SYMBOL0 + 17, SYMBOL0 + 5]);
        let r = parse(TaskKind::Recall, "s3=v1, s7=v4 ?s7").unwrap();
        assert_eq!(
            r.tokens,
            vec![
                BOS,
                SYMBOL0 + 3,
                VALUE0 + 1,
                SYMBOL0 + 7,
                VALUE0 + 4,
                SEP,
                SYMBOL0 + 7,
                VALUE0 + 4
            ]
        );
        assert_eq!(r.answers(), vec![VALUE0 + 4]);
    }

    /// Every drawn sample of every (even) length prints to text that parses back to itself.
    #[test]
    fn drawn_samples_round_trip_through_text() {
        let mut rng = SplitMix64::new(3);
        for task in TaskKind::ALL {
            for len in (task.min_len()..=64).filter(|l| l % 2 == 0) {
                let s = task.sample(len, &mut rng).unwrap();
                let text = to_text(task, &s);
                assert_eq!(parse(task, &text).as_ref(), Ok(&s), "{task:?} {len}: {text}");
            }
        }
    }

    #[test]
    fn wrong_input_says_what_to_fix() {
        let bad = [
            (TaskKind::Copy, "", "type the string"),
            (TaskKind::Copy, "s3 s3", "appears twice"),
            (TaskKind::Copy, "s3 x", "not a symbol"),
            (TaskKind::Copy, "s128", "not a symbol"),
            (TaskKind::Recall, "s3=v1 s7=v4", "after '?'"),
            (TaskKind::Recall, "s3=v1 s7 ? s3", "not a pair"),
            (TaskKind::Recall, "s3=v16 ? s3", "not a value"),
            (TaskKind::Recall, "s3=v1 ? s8", "not among the pairs"),
            (TaskKind::Recall, "s3=v1 s3=v2 ? s3", "appears twice"),
            (TaskKind::Recall, "s3=v1 ? s3 s4", "exactly one key"),
            (TaskKind::Recall, "? s3", "not among the pairs"),
        ];
        for (task, text, why) in bad {
            let e = parse(task, text).expect_err(text);
            assert!(e.contains(why), "{text}: {e}");
        }
        assert!(parse(TaskKind::Copy, &"s1 ".repeat(1000)).is_err(), "too long");
        let all: Vec<String> = (0..SYMBOLS).map(|i| format!("s{i}")).collect();
        assert!(
            parse(TaskKind::Copy, &all.join(" ")).is_ok(),
            "every symbol once is the longest copy"
        );
        // A malformed sample prints something, never panics.
        let empty = Sample {
            tokens: Vec::new(),
            answer_positions: vec![5],
        };
        assert_eq!(to_text(TaskKind::Recall, &empty), " ? ");
        assert_eq!(to_text(TaskKind::Copy, &empty), "");
    }
}
