//! Finding a tag's item in a list without keeping a copy of every tag.

/// The positions of a list's items sorted by their tag, for lookups by
/// binary search. Four bytes an item, where a `HashMap<String, usize>`
/// took a copy of the tag and, at 950 entries, 2,048 buckets of 32 bytes
/// (issue 22).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct TagIndex(Vec<u32>);

impl TagIndex {
    /// Indexes `items` by `tag_of`. The tags of a valid file are unique;
    /// of duplicates (a file with errors), one is found.
    pub(super) fn new<T>(items: &[T], tag_of: impl Fn(&T) -> &str) -> TagIndex {
        let mut order: Vec<u32> = (0..items.len()).filter_map(|i| u32::try_from(i).ok()).collect();
        order.sort_by(|a, b| tag_of(&items[*a as usize]).cmp(tag_of(&items[*b as usize])));
        TagIndex(order)
    }

    /// The item of `items` (the list this index was made from) whose tag
    /// is `tag`.
    pub(super) fn find<'a, T>(&self, items: &'a [T], tag: &str, tag_of: impl Fn(&T) -> &str) -> Option<&'a T> {
        let at = self.0.binary_search_by(|i| items.get(*i as usize).map_or("", &tag_of).cmp(tag)).ok()?;
        items.get(self.0[at] as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::TagIndex;

    #[test]
    fn finds_every_tag_and_no_other() {
        let items = ["web", "db", "cache", "api"];
        let index = TagIndex::new(&items, |s| s);
        for item in &items {
            assert_eq!(index.find(&items, item, |s| *s), Some(item));
        }
        assert_eq!(index.find(&items, "queue", |s| *s), None);
        assert_eq!(index.find(&items, "", |s| *s), None);
        assert_eq!(TagIndex::new::<&str>(&[], |s| s).find(&[] as &[&str], "web", |s| *s), None);
    }
}
