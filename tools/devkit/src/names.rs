//! Per-test names and buckets.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Result, anyhow};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name no other test of this run uses: `<prefix>-<random>-<counter>`,
/// lower-case, at most 63 characters of `[a-z0-9-]`, starting and ending with
/// a letter or digit. It is both a valid S3 bucket name and a valid DynamoDB
/// table name.
///
/// ```
/// let a = devkit::unique_name("Contacts_Table");
/// let b = devkit::unique_name("Contacts_Table");
/// assert_ne!(a, b);
/// assert!(a.starts_with("contacts-table-"));
/// ```
pub fn unique_name(prefix: &str) -> String {
    let mut clean: String = prefix
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' }
        })
        .collect();
    // Collapse runs of '-' and trim them from both ends.
    while clean.contains("--") {
        clean = clean.replace("--", "-");
    }
    let mut clean = clean.trim_matches('-').to_owned();
    clean.truncate(36);
    let clean = clean.trim_end_matches('-');
    let clean = if clean.is_empty() { "t" } else { clean };
    let random = uuid::Uuid::new_v4().simple().to_string();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // 36 + 1 + 12 + 1 + up to 13 digits of base 36 <= 63.
    format!("{clean}-{}-{}", &random[..12], to_base36(n))
}

fn to_base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii")
}

/// Creates bucket `name` (in `us-east-1`, so with no location constraint).
pub async fn create_bucket(s3: &aws_sdk_s3::Client, name: &str) -> Result<()> {
    s3.create_bucket()
        .bucket(name)
        .send()
        .await
        .map_err(|e| anyhow!("creating bucket {name}: {}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_valid_bucket_name(n: &str) -> bool {
        (3..=63).contains(&n.len())
            && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && n.as_bytes()[0].is_ascii_alphanumeric()
            && n.as_bytes()[n.len() - 1].is_ascii_alphanumeric()
    }

    #[test]
    fn names_are_unique_and_valid_bucket_names() {
        let long = "x".repeat(200);
        for prefix in ["contacts", "Export Bucket", "--weird__PREFIX..", "", "---", long.as_str(), "a-", "ünïcödé"]
        {
            let a = unique_name(prefix);
            let b = unique_name(prefix);
            assert_ne!(a, b);
            assert!(is_valid_bucket_name(&a), "{a:?} from {prefix:?}");
            assert!(!a.contains("--"), "{a:?}");
        }
        assert!(unique_name("Export Bucket").starts_with("export-bucket-"));
    }

    #[test]
    fn base36() {
        assert_eq!(to_base36(0), "0");
        assert_eq!(to_base36(35), "z");
        assert_eq!(to_base36(36), "10");
        assert!(to_base36(u64::MAX).len() <= 13);
    }
}
