//! Finding an item of a list by its tag without keeping a copy of every
//! tag: the isinittab's entries, probes and watchdogs, a switch's steps.

/// The positions of a list's items sorted by their tag, for lookups by
/// binary search. Four bytes an item, where a `HashMap<String, usize>`
/// took a copy of the tag and, at 950 entries, 2,048 buckets of 32 bytes
/// (issue 22). `tag_of` must be the same for every call on one index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagIndex(Vec<u32>);

impl TagIndex {
    /// Indexes `items` by `tag_of`. Of items with the same tag (a file
    /// with errors), one is found.
    pub fn new<T>(items: &[T], tag_of: impl Fn(&T) -> &str) -> TagIndex {
        let mut order: Vec<u32> = (0..items.len()).filter_map(|i| u32::try_from(i).ok()).collect();
        order.sort_by(|a, b| tag_of(&items[*a as usize]).cmp(tag_of(&items[*b as usize])));
        TagIndex(order)
    }

    fn search<T>(&self, items: &[T], tag: &str, tag_of: impl Fn(&T) -> &str) -> Result<usize, usize> {
        self.0.binary_search_by(|i| items.get(*i as usize).map_or("", &tag_of).cmp(tag))
    }

    /// The position in `items` (the list this index is of) of the item
    /// whose tag is `tag`.
    pub fn position<T>(&self, items: &[T], tag: &str, tag_of: impl Fn(&T) -> &str) -> Option<usize> {
        self.search(items, tag, tag_of).ok().map(|i| self.0[i] as usize)
    }

    /// The item of `items` whose tag is `tag`.
    pub fn find<'a, T>(&self, items: &'a [T], tag: &str, tag_of: impl Fn(&T) -> &str) -> Option<&'a T> {
        items.get(self.position(items, tag, tag_of)?)
    }

    /// Indexes `items[at]`, just added to the list, unless an item with its
    /// tag is indexed already (that one stays the one found).
    pub fn insert<T>(&mut self, items: &[T], at: usize, tag_of: impl Fn(&T) -> &str) {
        let (Some(item), Ok(at)) = (items.get(at), u32::try_from(at)) else { return };
        if let Err(i) = self.search(items, tag_of(item), &tag_of) {
            self.0.insert(i, at);
        }
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

    #[test]
    fn finds_items_added_in_any_order_and_keeps_the_first_of_a_tag() {
        let mut items = Vec::new();
        let mut index = TagIndex::default();
        for tag in ["web", "db", "zeta", "api", "db2", "db"] {
            items.push(tag);
            index.insert(&items, items.len() - 1, |s| s);
        }
        for (at, tag) in items.iter().enumerate().take(5) {
            assert_eq!(index.position(&items, tag, |s| s), Some(at), "{tag}");
        }
        assert_eq!(index.position(&items, "db", |s| s), Some(1), "the first db");
        assert_eq!(index.position(&items, "queue", |s| s), None);
    }
}
