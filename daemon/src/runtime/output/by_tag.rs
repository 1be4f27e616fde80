//! The output actor's per-tag state, in one vector sorted by tag.

use super::TagSet;

/// Values by tag, as a vector sorted by tag and looked up by binary
/// search: at 950 tags a `HashMap<String, TagOutput>` had 2,048 buckets of
/// 104 bytes (215 kB); this has 950 of 96 (issue 22). It changes only when
/// the runtime's tag set does, and then as one pass over both.
#[derive(Debug)]
pub(super) struct ByTag<V>(Vec<(Box<str>, V)>);

impl<V> Default for ByTag<V> {
    fn default() -> Self {
        ByTag(Vec::new())
    }
}

impl<V> ByTag<V> {
    fn find(&self, tag: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(t, _)| (**t).cmp(tag))
    }

    pub(super) fn contains_key(&self, tag: &str) -> bool {
        self.find(tag).is_ok()
    }

    pub(super) fn get_mut(&mut self, tag: &str) -> Option<&mut V> {
        let at = self.find(tag).ok()?;
        Some(&mut self.0[at].1)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.0.iter().map(|(t, v)| (&**t, v))
    }

    pub(super) fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(t, _)| &**t)
    }

    /// Becomes exactly `tags`: values of tags that left are dropped, tags
    /// that came get `new(tag)`, the others keep theirs. Returns the tags
    /// that came.
    pub(super) fn follow<'t>(&mut self, tags: &'t TagSet, mut new: impl FnMut(&str) -> V) -> Vec<&'t str> {
        let mut old = std::mem::take(&mut self.0).into_iter().peekable();
        let mut merged = Vec::with_capacity(tags.len());
        let mut came = Vec::new();
        for tag in tags.iter() {
            while old.next_if(|(t, _)| **t < **tag).is_some() {}
            match old.next_if(|(t, _)| **t == **tag) {
                Some(kept) => merged.push(kept),
                None => {
                    merged.push((tag.as_str().into(), new(tag)));
                    came.push(tag.as_str());
                }
            }
        }
        self.0 = merged;
        came
    }
}

#[cfg(test)]
mod tests {
    use super::ByTag;
    use std::sync::Arc;

    fn set(tags: &[&str]) -> super::TagSet {
        Arc::new(tags.iter().map(|t| t.to_string()).collect())
    }

    #[test]
    fn follows_the_tag_set_keeping_what_stays() {
        let mut map = ByTag::default();
        let first = set(&["web", "db", "api"]);
        assert_eq!(map.follow(&first, |t| t.len()), ["api", "db", "web"]);
        *map.get_mut("db").unwrap() = 100;
        let came: Vec<String> =
            map.follow(&set(&["db", "cache", "zz"]), |_| 0).into_iter().map(str::to_string).collect();
        assert_eq!(came, ["cache", "zz"]);
        assert_eq!(map.iter().collect::<Vec<_>>(), [("cache", &0), ("db", &100), ("zz", &0)]);
        assert!(!map.contains_key("web") && !map.contains_key("api") && map.get_mut("web").is_none());
        map.follow(&set(&[]), |_| 0);
        assert_eq!(map.keys().count(), 0);
    }
}
