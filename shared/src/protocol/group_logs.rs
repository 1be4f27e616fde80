//! One log for a whole group (SPEC §19, `isinit logs -g GROUP`): the
//! output of its tags interleaved in time order. The daemon merges its
//! tags; a client asking several hosts merges their answers the same way.

use super::OutputLine;
use crate::time::UnixMillis;

/// Most text one merged reply carries: the tags of a group together must
/// fit one frame ([`super::MAX_FRAME_LEN`]) with room to spare.
pub const MERGED_BUDGET: usize = 768 * 1024;

/// Several time-ordered lists as one, ordered by `at`; lines with the
/// same time keep the order of their lists, then their order in a list.
pub fn merge_by_time<T>(lists: Vec<Vec<T>>, at: impl Fn(&T) -> UnixMillis) -> Vec<T> {
    let mut all: Vec<T> = lists.into_iter().flatten().collect();
    // Stable: equal times keep the order of the concatenation.
    all.sort_by_key(|l| at(l));
    all
}

/// The last `n` of `lines` read at or after `since`, fewer if their text
/// would pass `budget` bytes: what a reply of recent output carries, for
/// one tag (`logs TAG`) or a group's merged tags (`logs -g`). Only the
/// lines kept are copied.
pub fn last_lines<'a>(
    lines: impl DoubleEndedIterator<Item = &'a OutputLine>,
    n: usize,
    since: Option<UnixMillis>,
    budget: usize,
) -> Vec<OutputLine> {
    let mut room = budget;
    let mut kept: Vec<OutputLine> = lines
        .rev()
        .filter(|l| since.is_none_or(|s| l.at_ms >= s))
        .take(n)
        .take_while(|l| match room.checked_sub(l.text.len() + l.tag.len() + 32) {
            Some(left) => {
                room = left;
                true
            }
            None => false,
        })
        .cloned()
        .collect();
    kept.reverse();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(tag: &str, at_ms: u64, text: &str) -> OutputLine {
        OutputLine { tag: tag.into(), at_ms, text: text.into() }
    }

    #[test]
    fn tags_interleave_in_time_order_ties_keep_list_order() {
        let a = vec![line("a", 1, "a1"), line("a", 5, "a2"), line("a", 9, "a3")];
        let b = vec![line("b", 2, "b1"), line("b", 5, "b2")];
        let merged = merge_by_time(vec![a, b], |l| l.at_ms);
        let texts: Vec<&str> = merged.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["a1", "b1", "a2", "b2", "a3"]);
    }

    #[test]
    fn the_last_lines_since_a_time_within_a_budget() {
        let lines: Vec<OutputLine> = (1..=10).map(|i| line("t", i, &format!("l{i}"))).collect();
        let texts = |v: Vec<OutputLine>| v.into_iter().map(|l| l.text).collect::<Vec<_>>();
        assert_eq!(texts(last_lines(lines.iter(), 3, None, usize::MAX)), ["l8", "l9", "l10"]);
        assert_eq!(texts(last_lines(lines.iter(), 100, Some(9), usize::MAX)), ["l9", "l10"]);
        // Each line costs its text, its tag and 32 bytes: two (36 + 35) fit in 71.
        assert_eq!(texts(last_lines(lines.iter(), 100, None, 71)), ["l9", "l10"]);
        assert_eq!(texts(last_lines(lines.iter(), 100, None, 70)), ["l10"]);
    }
}
