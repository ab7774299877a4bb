//! Labels and selector maps: a few pairs each, kept as a sorted list. A
//! tree map costs a node of a dozen slots for one label; the index holds
//! several per resource, so the list is what keeps memory per resource small.

/// String pairs sorted by key, one value per key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels(Box<[(String, String)]>);

impl Labels {
    pub fn new() -> Labels {
        Labels::default()
    }

    pub fn get(&self, key: &str) -> Option<&String> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| &self.0[i].1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sets `key`, replacing a value it had.
    pub fn insert(&mut self, key: String, value: String) {
        let mut pairs = std::mem::take(&mut self.0).into_vec();
        match pairs.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => pairs[i].1 = value,
            Err(i) => pairs.insert(i, (key, value)),
        }
        self.0 = pairs.into_boxed_slice();
    }
}

impl FromIterator<(String, String)> for Labels {
    /// A later value for a key replaces an earlier one, as in YAML maps.
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Labels {
        let mut pairs: Vec<(String, String)> = pairs.into_iter().collect();
        pairs.reverse();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs.dedup_by(|later, first| later.0 == first.0);
        Labels(pairs.into_boxed_slice())
    }
}

impl<const N: usize> From<[(String, String); N]> for Labels {
    fn from(pairs: [(String, String); N]) -> Labels {
        pairs.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_one_value_per_key_the_last_written() {
        let mut labels: Labels = [
            ("b".to_string(), "1".to_string()),
            ("a".to_string(), "2".to_string()),
            ("b".to_string(), "3".to_string()),
        ]
        .into_iter()
        .collect();
        assert_eq!(labels.get("b").map(String::as_str), Some("3"));
        assert_eq!(labels.get("a").map(String::as_str), Some("2"));
        assert_eq!(labels.get("c"), None);
        labels.insert("c".to_string(), "4".to_string());
        labels.insert("a".to_string(), "5".to_string());
        let pairs: Vec<(&String, &String)> = labels.iter().collect();
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs[0], (&"a".to_string(), &"5".to_string()));
    }
}
