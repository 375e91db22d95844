//! Request bodies decoded as Go decodes them: a JSON object key names a struct field whatever
//! its case (`CPURealtimePeriod` is `CpuRealtimePeriod`), an exact match first. The field
//! names come from the serde types themselves (the list `deserialize_struct` is given), at
//! every depth, so nothing here can drift from them; map keys (labels, sysctls...) are data
//! and stay as sent. A small adapter over `serde_json::Value`: serde_path_to_error-style
//! wrappers are far bigger than this one rule needs.

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{DeserializeOwned, IntoDeserializer, Visitor};
use serde::{forward_to_deserialize_any, Deserializer};
use serde_json::{Error, Map, Value};

/// `T` from `v`, object keys matched to `T`'s fields (at any depth) case-insensitively.
pub fn from_value<T: DeserializeOwned>(v: Value) -> Result<T, Error> {
    T::deserialize(Ci(v))
}

/// The key of `m` that names the field `name` as Go reads it: exactly, else ignoring case.
/// Two keys naming one field (`"Privileged"` and `"privileged"`) are an error: Go takes the
/// later one in the document, an order this map no longer has, so neither is guessed.
pub fn key_of(m: &Map<String, Value>, name: &str) -> Result<Option<String>, Error> {
    let mut found = m.keys().filter(|k| k.eq_ignore_ascii_case(name));
    match (found.next(), found.next()) {
        (Some(a), Some(b)) => Err(duplicate(name, a, b)),
        (a, _) => Ok(a.cloned()),
    }
}

/// `m`'s value of the field `name` (see [`key_of`]), taken out.
pub fn take(m: &mut Map<String, Value>, name: &str) -> Result<Option<Value>, Error> {
    Ok(key_of(m, name)?.and_then(|k| m.remove(&k)))
}

fn duplicate(field: &str, a: &str, b: &str) -> Error {
    serde::de::Error::custom(format!(
        "keys {a:?} and {b:?} both name the field {field:?}"
    ))
}

/// The keys of `m` renamed to the field of `fields` they name ignoring case, when not one
/// exactly (Go's rule); others kept (unknown fields stay unknown). Two keys naming one field
/// are an error (see [`key_of`]).
fn canonical(m: Map<String, Value>, fields: &[&str]) -> Result<Map<String, Value>, Error> {
    let mut out = Map::new();
    // field -> the key that named it
    let mut sent: std::collections::BTreeMap<String, String> = Default::default();
    for (k, v) in m {
        // an exact match first, as Go
        let field = if fields.contains(&k.as_str()) {
            k.clone()
        } else {
            match fields.iter().find(|f| f.eq_ignore_ascii_case(&k)) {
                Some(f) => f.to_string(),
                None => k.clone(),
            }
        };
        if let Some(first) = sent.get(&field) {
            return Err(duplicate(&field, first, &k));
        }
        sent.insert(field.clone(), k);
        out.insert(field, v);
    }
    Ok(out)
}

/// A JSON value whose structs, at any depth, take their keys case-insensitively.
struct Ci(Value);

impl<'de> IntoDeserializer<'de, Error> for Ci {
    type Deserializer = Ci;
    fn into_deserializer(self) -> Ci {
        self
    }
}

fn visit_object<'de, V: Visitor<'de>>(m: Map<String, Value>, v: V) -> Result<V::Value, Error> {
    let mut d = MapDeserializer::new(m.into_iter().map(|(k, x)| (k, Ci(x))));
    let out = v.visit_map(&mut d)?;
    d.end()?;
    Ok(out)
}

fn visit_array<'de, V: Visitor<'de>>(a: Vec<Value>, v: V) -> Result<V::Value, Error> {
    let mut d = SeqDeserializer::new(a.into_iter().map(Ci));
    let out = v.visit_seq(&mut d)?;
    d.end()?;
    Ok(out)
}

impl<'de> Deserializer<'de> for Ci {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.0.deserialize_any(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => v.visit_none(),
            x => v.visit_some(Ci(x)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(m) => visit_object(canonical(m, fields)?, v),
            x => x.deserialize_struct(name, fields, v),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(m) => visit_object(m, v),
            x => x.deserialize_map(v),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(a) => visit_array(a, v),
            x => x.deserialize_seq(v),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(a) => visit_array(a, v),
            x => x.deserialize_tuple(len, v),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        self.0.deserialize_enum(name, variants, v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        v: V,
    ) -> Result<V::Value, Error> {
        self.0.deserialize_tuple_struct(name, len, v)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        self.0.deserialize_unit_struct(name, v)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::types::{Config, HostConfig};
    use serde_json::json;

    /// Go takes the later of two keys naming one field, an order a JSON map here has lost:
    /// such a body is refused rather than one of them dropped (a stricter setting among them).
    #[test]
    fn two_keys_naming_one_field_are_refused() {
        let e = from_value::<HostConfig>(json!({"ReadonlyRootfs": false, "readonlyrootfs": true}))
            .unwrap_err();
        assert!(e.to_string().contains("ReadonlyRootfs"), "{e}");
        let mut m = json!({"HostConfig": {}, "hostconfig": {"Privileged": false}});
        let e = take(m.as_object_mut().unwrap(), "HostConfig").unwrap_err();
        assert!(e.to_string().contains("both name the field"), "{e}");
        // one key, any case, is still read; map keys differing in case are data
        let mut m = json!({"hostCONFIG": {"Sysctls": {"a": "1", "A": "2"}}});
        let h = take(m.as_object_mut().unwrap(), "HostConfig")
            .unwrap()
            .unwrap();
        assert_eq!(from_value::<HostConfig>(h).unwrap().sysctls.len(), 2);
    }

    #[test]
    fn keys_match_fields_whatever_their_case() {
        let h: HostConfig = from_value(json!({
            "CPURealtimePeriod": 1000, "cpurealtimeruntime": 500, "MEMORY": 64,
            "restartpolicy": {"name": "always", "MAXIMUMRETRYCOUNT": 0},
            "Ulimits": [{"name": "nofile", "soft": 10, "hard": 20}],
            "utsmode": "host",
            // map keys are data: kept as sent
            "Sysctls": {"net.IPv4.ip_forward": "1"},
        }))
        .unwrap();
        assert_eq!((h.cpu_realtime_period, h.cpu_realtime_runtime), (1000, 500));
        assert_eq!(h.memory, 64);
        assert_eq!(h.restart_policy.name, "always");
        assert_eq!(
            (h.ulimits[0].name.as_str(), h.ulimits[0].hard),
            ("nofile", 20)
        );
        assert_eq!(h.uts_mode, "host");
        assert!(h.sysctls.contains_key("net.IPv4.ip_forward"));
        let c: Config = from_value(json!({"image": "busybox", "CMD": ["true"]})).unwrap();
        assert_eq!(
            (c.image.as_str(), c.cmd.as_deref()),
            ("busybox", Some(&["true".to_string()][..]))
        );
    }

    #[test]
    fn an_exact_match_wins_and_bad_values_are_errors() {
        let h: HostConfig = from_value(json!({"Memory": 64, "PidsLimit": null})).unwrap();
        assert_eq!((h.memory, h.pids_limit), (64, None));
        assert!(from_value::<HostConfig>(json!({"memory": "lots"})).is_err());
        assert!(from_value::<HostConfig>(json!({"Binds": "notalist"})).is_err());
    }
}
