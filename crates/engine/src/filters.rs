//! docker's `filters` arguments (`--filter k=v` on the command line, `?filters=` in the API)
//! with docker's matching rules, shared by the listings and prunes of the CLI and the API:
//! values of one key are alternatives, keys must all match, `label` values must all hold.

use crate::error::{Error, Result};
use std::collections::BTreeMap;

/// Filter name → accepted values (the API's parsed `filters`).
pub type Filters = BTreeMap<String, Vec<String>>;

/// `--filter k=v` flags as a filter map.
pub fn from_flags(flags: &[String]) -> Result<Filters> {
    let mut out = Filters::new();
    for f in flags {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| Error::Invalid(format!("invalid filter '{f}'")))?;
        out.entry(k.trim().to_ascii_lowercase())
            .or_default()
            .push(v.to_string());
    }
    Ok(out)
}

/// A filter map from (key, value) pairs.
pub fn pairs(pairs: &[(&str, &str)]) -> Filters {
    let mut m = Filters::new();
    for (k, v) in pairs {
        m.entry(k.to_string()).or_default().push(v.to_string());
    }
    m
}

/// Refuse keys outside `allowed`, in docker's words.
pub fn validate(f: &Filters, allowed: &[&str]) -> Result<()> {
    for k in f.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(Error::Invalid(format!("invalid filter '{k}'")));
        }
    }
    Ok(())
}

/// docker's ExactMatch: no such filter, or one value equals `source`.
pub fn exact(f: &Filters, key: &str, source: &str) -> bool {
    f.get(key).is_none_or(|vs| vs.iter().any(|v| v == source))
}

/// docker's FuzzyMatch: no such filter, or `source` starts with one value.
pub fn fuzzy(f: &Filters, key: &str, source: &str) -> bool {
    f.get(key)
        .is_none_or(|vs| vs.iter().any(|v| source.starts_with(v.as_str())))
}

/// docker's Match for names and ids (a pattern found anywhere in `source`).
pub fn contains(f: &Filters, key: &str, source: &str) -> bool {
    f.get(key)
        .is_none_or(|vs| vs.iter().any(|v| source.contains(v.as_str())))
}

/// docker's MatchKVList: every `k` / `k=v` value of `key` holds in `labels`.
pub fn labels(f: &Filters, key: &str, labels: &BTreeMap<String, String>) -> bool {
    let Some(vs) = f.get(key) else {
        return true;
    };
    vs.iter().all(|want| match want.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(want.as_str()),
    })
}

/// `label!`: none of the values holds.
pub fn no_labels(f: &Filters, key: &str, labels: &BTreeMap<String, String>) -> bool {
    let Some(vs) = f.get(key) else {
        return true;
    };
    !vs.iter().any(|want| match want.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(want.as_str()),
    })
}

/// A boolean filter (`dangling`, `all`): None when absent; `true`/`1` and `false`/`0` only.
pub fn boolean(f: &Filters, key: &str) -> Result<Option<bool>> {
    let Some(vs) = f.get(key) else {
        return Ok(None);
    };
    let mut out = None;
    for v in vs {
        let b = match v.to_ascii_lowercase().as_str() {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => {
                return Err(Error::Invalid(format!(
                    "invalid filter '{key}={v}': expected true, false, 1 or 0"
                )))
            }
        };
        if out.is_some_and(|o| o != b) {
            return Err(Error::Invalid(format!(
                "invalid filter '{key}': conflicting values"
            )));
        }
        out = Some(b);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use pairs as f;

    #[test]
    fn docker_matching_rules() {
        let none = Filters::new();
        assert!(exact(&none, "type", "x") && fuzzy(&none, "c", "x") && contains(&none, "n", ""));
        let t = f(&[("type", "container"), ("type", "network")]);
        assert!(exact(&t, "type", "network"));
        assert!(!exact(&t, "type", "volume"));
        let c = f(&[("container", "abc")]);
        assert!(fuzzy(&c, "container", "abcdef"));
        assert!(!fuzzy(&c, "container", "xabc"));
        assert!(contains(&f(&[("name", "web")]), "name", "my-web-1"));
        let mut l = BTreeMap::new();
        l.insert("a".to_string(), "1".to_string());
        l.insert("b".to_string(), "".to_string());
        assert!(labels(&f(&[("label", "a=1"), ("label", "b")]), "label", &l));
        assert!(!labels(
            &f(&[("label", "a=1"), ("label", "c")]),
            "label",
            &l
        ));
        assert!(!labels(&f(&[("label", "a=2")]), "label", &l));
        assert!(no_labels(&f(&[("label!", "c")]), "label!", &l));
        assert!(!no_labels(&f(&[("label!", "a")]), "label!", &l));
    }

    #[test]
    fn booleans_and_keys() {
        assert_eq!(
            boolean(&f(&[("dangling", "1")]), "dangling").unwrap(),
            Some(true)
        );
        assert_eq!(
            boolean(&f(&[("dangling", "False")]), "dangling").unwrap(),
            Some(false)
        );
        assert_eq!(boolean(&Filters::new(), "dangling").unwrap(), None);
        assert!(boolean(&f(&[("dangling", "maybe")]), "dangling").is_err());
        assert!(validate(&f(&[("bogus", "x")]), &["name"]).is_err());
        assert!(validate(&f(&[("name", "x")]), &["name"]).is_ok());
        let m = from_flags(&["label=a=b".into(), "name=x".into()]).unwrap();
        assert_eq!(m["label"], vec!["a=b"]);
        assert!(from_flags(&["nokey".into()]).is_err());
    }
}
