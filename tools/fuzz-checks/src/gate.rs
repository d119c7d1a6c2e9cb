//! The console's gate (`psc_cli::console`): the `Host` header, the token,
//! the API path and the query. The input is up to four lines: a `Host`,
//! a given token, the path after `/api/`, a query; the port and the
//! expected token are fixed.
//!
//! * Only `127.0.0.1:<port>` and `localhost:<port>` (any case) pass.
//! * A token passes exactly when it equals the expected one (never empty).
//! * A path passes only as one of the API's routes, with values that are
//!   neither empty, `.`, `..` nor hide `/`, `\` or a control character, and
//!   the API's router then finds a route for it: the console forwards
//!   nothing the API would not route.
//! * A query value read back from its percent-encoding is itself.

use eligibility_api::{RouteMatch, match_route};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use psc_cli::console::{api_path, host_is_loopback, query_param, same_token};

const PORT: u16 = 8123;
const TOKEN: &str = "0123456789abcdef0123456789abcdef";

pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let host = lines.next().unwrap_or("");
    let token = lines.next().unwrap_or("");
    let rest = lines.next().unwrap_or("");
    let query = lines.next().unwrap_or("");

    let loopback = host_is_loopback(host, PORT);
    let expected = host == format!("127.0.0.1:{PORT}") || host.eq_ignore_ascii_case(&format!("localhost:{PORT}"));
    assert_eq!(loopback, expected, "host {host:?}");

    assert_eq!(same_token(token, TOKEN), token == TOKEN, "token {token:?}");
    assert!(!same_token(token, ""), "an empty expected token let {token:?} in");

    if let Some(forwarded) = api_path(rest) {
        assert_eq!(forwarded, rest, "the path is forwarded as given");
        for segment in rest.split('/') {
            let decoded =
                percent_encoding::percent_decode_str(segment).decode_utf8().expect("a passed segment is UTF-8");
            assert!(
                !decoded.is_empty()
                    && decoded != "."
                    && decoded != ".."
                    && !decoded.chars().any(|c| c == '/' || c == '\\' || c.is_control()),
                "segment {segment:?} passed"
            );
        }
        assert!(
            matches!(match_route("GET", &format!("/{rest}")), RouteMatch::Found(..)),
            "the gate passed /api/{rest}, the API routes no such path"
        );
    }

    for name in ["token", "email", "account"] {
        if let Some(value) = query_param(query, name) {
            let encoded = format!("{name}={}", utf8_percent_encode(&value, NON_ALPHANUMERIC));
            assert_eq!(query_param(&encoded, name).as_deref(), Some(value.as_str()), "query {query:?}");
        }
    }
}
