//! The cursor codec: a query's `LastEvaluatedKey` (string attributes only)
//! as URL-safe base64 of a JSON object, checked on the way back in.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::item::{Item, s};

/// The attributes a `ByAccount` start key has.
const KEY_ATTRIBUTES: [&str; 4] = ["pk", "sk", "gsi1pk", "gsi1sk"];

pub fn encode(key: &Item) -> Option<String> {
    let map: serde_json::Map<String, serde_json::Value> = key
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|s| (k.clone(), serde_json::Value::String(s.clone()))))
        .collect();
    Some(URL_SAFE_NO_PAD.encode(serde_json::to_vec(&map).ok()?))
}

/// Decodes a cursor, checking it can only name keys of the listing whose
/// index partition key is `expected_gsi1pk`.
pub fn decode(cursor: &str, expected_gsi1pk: &str) -> Option<Item> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let map: HashMap<String, String> = serde_json::from_slice(&bytes).ok()?;
    if map.len() != KEY_ATTRIBUTES.len()
        || !map.keys().all(|k| KEY_ATTRIBUTES.contains(&k.as_str()))
        || map.get("gsi1pk")? != expected_gsi1pk
    {
        return None;
    }
    Some(map.into_iter().map(|(k, v)| (k, s(v))).collect())
}

/// Decodes a cursor of a table scan: the table's own key, `pk` and `sk`.
pub fn decode_table_key(cursor: &str) -> Option<Item> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let map: HashMap<String, String> = serde_json::from_slice(&bytes).ok()?;
    if map.len() != 2 || !map.contains_key("pk") || !map.contains_key("sk") {
        return None;
    }
    Some(map.into_iter().map(|(k, v)| (k, s(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(gsi1pk: &str) -> Item {
        KEY_ATTRIBUTES.iter().map(|k| (k.to_string(), s(if *k == "gsi1pk" { gsi1pk } else { "x" }))).collect()
    }

    #[test]
    fn round_trips_and_refuses_other_listings() {
        let c = encode(&key("ACCOUNT#000011112222")).unwrap();
        assert!(c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{c}");
        assert_eq!(decode(&c, "ACCOUNT#000011112222"), Some(key("ACCOUNT#000011112222")));
        assert_eq!(decode(&c, "ACCOUNT#999999999999"), None, "another account's cursor");
        assert_eq!(decode("not base64!", "ACCOUNT#000011112222"), None);
        let extra = URL_SAFE_NO_PAD.encode(br#"{"pk":"a","sk":"b","gsi1pk":"ACCOUNT#1","gsi1sk":"c","x":"d"}"#);
        assert_eq!(decode(&extra, "ACCOUNT#1"), None, "only the key attributes");
    }

    #[test]
    fn scan_cursors_hold_the_table_key_only() {
        let key: Item = [("pk".to_owned(), s("CONTACT#x")), ("sk".to_owned(), s("CONTACT"))].into_iter().collect();
        let c = encode(&key).unwrap();
        assert_eq!(decode_table_key(&c), Some(key));
        assert_eq!(decode_table_key(&encode(&super::tests::key("ACCOUNT#1")).unwrap()), None);
        assert_eq!(decode_table_key("%%%"), None);
    }
}
