//! `docker container prune`.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::types::Container;
use std::collections::BTreeMap;

/// The filters `container prune` takes.
pub const PRUNE_FILTERS: &[&str] = &["until", "label", "label!"];

/// Does a stopped container go with these prune filters (dockerd's rules: created before
/// `until`; every `label` holds; not every `label!` holds)? `until` is parsed already.
fn prune_selects(
    c: &Container,
    filters: &BTreeMap<String, Vec<String>>,
    until: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<bool> {
    if let Some(u) = until {
        let created = chrono::DateTime::parse_from_rfc3339(&c.created)
            .map(|t| t.with_timezone(&chrono::Utc))
            .ok();
        if created.is_none_or(|t| t > u) {
            return Ok(false);
        }
    }
    let holds = |k: &str| -> Result<Option<bool>> {
        let Some(vs) = filters.get(k) else {
            return Ok(None);
        };
        let mut all = true;
        for v in vs {
            all &= crate::query::matches(c, "label", v)?;
        }
        Ok(Some(all))
    };
    Ok(holds("label")? != Some(false) && holds("label!")? != Some(true))
}

impl Engine {
    /// `docker container prune`, `POST /containers/prune`: remove the stopped containers the
    /// filters select; their ids and the space their writable layers took. A container that
    /// cannot be removed is skipped, as dockerd does.
    pub fn prune_containers(
        &self,
        filters: &BTreeMap<String, Vec<String>>,
    ) -> Result<(Vec<String>, u64)> {
        if let Some(k) = filters
            .keys()
            .find(|k| !PRUNE_FILTERS.contains(&k.as_str()))
        {
            return Err(Error::Invalid(format!("invalid filter '{k}'")));
        }
        let until = match filters.get("until").map(Vec::as_slice) {
            None | Some([]) => None,
            Some([u]) => Some(crate::logs::parse_time(u, chrono::Utc::now())?),
            Some(_) => {
                return Err(Error::Invalid(
                    "more than one until filter specified".into(),
                ))
            }
        };
        let mut ids = Vec::new();
        let mut bytes = 0;
        for c in self.list_reconciled()? {
            if c.state.status.is_live() || !prune_selects(&c, filters, until)? {
                continue;
            }
            let size = self
                .images()
                .map(|i| crate::volumes::du(&i.snapshots.upper_dir(&c.id)))
                .unwrap_or(0);
            if self.remove(&c.id, false, false).is_ok() {
                bytes += size;
                ids.push(c.id);
            }
        }
        let reclaimed = bytes.to_string();
        let attrs = crate::events::attrs(&[("reclaimed", &reclaimed)]);
        crate::events::emit(self, crate::events::Type::Container, "prune", "", attrs);
        Ok((ids, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::stats::{net_io, parse_net_dev};
    use serde_json::json;

    #[test]
    fn net_dev_and_prune_filters() {
        let text = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0\n  eth0:     736       8    1    2    0     0          0         0      516       6    3    4    0     0       0          0\n";
        let m = parse_net_dev(text);
        assert_eq!(m.len(), 1);
        assert_eq!(
            m["eth0"],
            json!({"rx_bytes": 736, "rx_packets": 8, "rx_errors": 1, "rx_dropped": 2,
                   "tx_bytes": 516, "tx_packets": 6, "tx_errors": 3, "tx_dropped": 4})
        );
        let v = json!({"networks": {"eth0": m["eth0"], "eth1": {"rx_bytes": 4, "tx_bytes": 1}}});
        assert_eq!(net_io(&v), (740, 517));
        assert_eq!(net_io(&json!({})), (0, 0));

        let mut c = Container {
            created: "2026-01-01T00:00:00Z".into(),
            ..Default::default()
        };
        c.config.labels.insert("team".into(), "a".into());
        c.config.labels.insert("tier".into(), "web".into());
        let f = |pairs: &[(&str, &str)]| {
            let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (k, v) in pairs {
                m.entry(k.to_string()).or_default().push(v.to_string());
            }
            m
        };
        let at = |s: &str| {
            Some(
                chrono::DateTime::parse_from_rfc3339(s)
                    .unwrap()
                    .with_timezone(&chrono::Utc),
            )
        };
        let sel = |m, u| prune_selects(&c, &m, u).unwrap();
        assert!(sel(f(&[]), None));
        assert!(sel(f(&[("label", "team=a"), ("label", "tier")]), None));
        assert!(!sel(f(&[("label", "team=a"), ("label", "other")]), None));
        assert!(!sel(f(&[("label!", "team")]), None));
        // label!: skipped only when every value holds
        assert!(sel(f(&[("label!", "team"), ("label!", "other")]), None));
        assert!(sel(f(&[]), at("2026-06-01T00:00:00Z")));
        assert!(!sel(f(&[]), at("2025-06-01T00:00:00Z")));
    }
}
