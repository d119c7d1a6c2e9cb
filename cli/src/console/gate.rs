//! What the console lets through: the loopback `Host`, this launch's token,
//! and the API's own routes.

/// True for `127.0.0.1:<port>` and `localhost:<port>` (any case), the only
/// names the page is served under: a page of another site whose name was
/// rebound to 127.0.0.1 sends its own name and is refused.
pub fn host_is_loopback(host: &str, port: u16) -> bool {
    let Some((name, p)) = host.rsplit_once(':') else { return false };
    p == port.to_string() && (name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost"))
}

/// Compares two tokens in time that depends only on their lengths.
pub fn same_token(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    if a.len() != b.len() || b.is_empty() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// `rest` (the path after `/api/`) when it is one of the API's routes:
/// `sync`, `contacts`, `contacts/{guid}`, `accounts/{id}`,
/// `accounts/{id}/products/{code}`, `accounts/{id}/instances/{instanceId}`,
/// `products/{code}/subscribers`.
/// The values are left for the API to judge (its 400 names the field), but
/// none may be empty, `.` or `..`, or hide a `/` or `\` in an escape.
pub fn api_path(rest: &str) -> Option<&str> {
    let segments: Vec<&str> = rest.split('/').collect();
    let shape_ok = match segments.as_slice() {
        ["sync"] | ["contacts"] => true,
        ["contacts", guid] => value_ok(guid),
        ["accounts", id] => value_ok(id),
        ["accounts", id, "products" | "instances", other] => value_ok(id) && value_ok(other),
        ["products", code, "subscribers"] => value_ok(code),
        _ => false,
    };
    shape_ok.then_some(rest)
}

fn value_ok(segment: &str) -> bool {
    let Some(decoded) = percent_decode(segment) else { return false };
    !decoded.is_empty()
        && decoded != "."
        && decoded != ".."
        && !decoded.chars().any(|c| c == '/' || c == '\\' || c.is_control())
}

/// The percent-decoded value of `name` in a query string (`+` is a space).
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k)? == name).then(|| percent_decode(&v.replace('+', " "))).flatten()
    })
}

/// Decodes `%XX` escapes (percent-encoding); `None` for a malformed escape
/// (`%` without two hexadecimal digits) or a result that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let well_formed = b
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == b'%')
        .all(|(i, _)| b.get(i + 1..i + 3).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)));
    well_formed.then(|| percent_encoding::percent_decode_str(s).decode_utf8().ok().map(|d| d.into_owned()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_loopback_names_with_this_port() {
        assert!(host_is_loopback("127.0.0.1:8123", 8123));
        assert!(host_is_loopback("localhost:8123", 8123));
        assert!(host_is_loopback("LocalHost:8123", 8123));
        assert!(!host_is_loopback("127.0.0.1:8124", 8123));
        assert!(!host_is_loopback("127.0.0.1", 8123));
        assert!(!host_is_loopback("evil.example:8123", 8123));
        assert!(!host_is_loopback("127.0.0.1.evil.example:8123", 8123));
        assert!(!host_is_loopback("[::1]:8123", 8123));
    }

    #[test]
    fn tokens_must_match_exactly() {
        let t = "0123456789abcdef0123456789abcdef";
        assert!(same_token(t, t));
        assert!(!same_token("0123456789abcdef0123456789abcdee", t));
        assert!(!same_token("", t));
        assert!(!same_token(&t[..31], t));
        assert!(!same_token("", ""));
    }

    #[test]
    fn only_the_apis_routes_are_forwarded() {
        for ok in [
            "sync",
            "contacts",
            "contacts/ba1d75cc-d984-4f07-bb14-ae04b952afbc",
            "accounts/000011112222",
            "accounts/12345",
            "accounts/12%2034",
            "accounts/000011112222/products/4gzp2symm0v9zidfrn9f854w6",
            "accounts/000011112222/instances/i-0a1b2c3d4e5f60718",
            "products/4gzp2symm0v9zidfrn9f854w6/subscribers",
        ] {
            assert_eq!(api_path(ok), Some(ok), "{ok}");
        }
        for refused in [
            "",
            "health",
            "sync/",
            "accounts",
            "accounts/",
            "accounts/000011112222/",
            "accounts/..",
            "accounts/%2e%2E",
            "accounts/000011112222/../../x",
            "accounts/a%2Fb",
            "accounts/a%5cb",
            "accounts/%zz",
            "accounts/1/other/2",
            "contacts/a/b",
            "../sync",
            "products",
            "products/4gzp2symm0v9zidfrn9f854w6",
            "products//subscribers",
            "products/..%2F/subscribers",
            "products/a/subscribers/b",
        ] {
            assert_eq!(api_path(refused), None, "{refused}");
        }
    }

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(query_param("account=1&token=abc", "token").as_deref(), Some("abc"));
        assert_eq!(query_param("email=a%40b.c", "email").as_deref(), Some("a@b.c"));
        assert_eq!(query_param("token", "token").as_deref(), Some(""));
        assert_eq!(query_param("x=1", "token"), None);
    }
}
