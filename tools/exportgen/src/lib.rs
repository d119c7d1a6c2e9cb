//! Synthetic Product Support Connection exports, for benchmarks.
//!
//! [`generate`] streams an export of any number of rows to any [`Write`], in
//! constant memory, and the same [`Config`] (seed included) always gives the
//! same bytes. The file looks like a real CAS export:
//!
//! * the guide's 16-column header, CRLF line ends, RFC 4180 quoting (only
//!   where needed: organizations and titles sometimes hold commas or quotes);
//! * realistic field lengths: names of 3-20 characters, organizations up to
//!   ~60, e-mail addresses, phone numbers, optional titles, 2-letter country
//!   codes, 5-digit ZIP codes and 12-digit account ids with leading zeroes,
//!   36-character GUIDs, 25-character product codes, ISO 8601 UTC timestamps
//!   with milliseconds, increasing through the file;
//! * about 70% CREATE, 20% UPDATE and 10% DELETE rows (an UPDATE or DELETE
//!   names a contact created earlier in the file; a DELETE carries no contact
//!   field), a few accounts with many contacts and many accounts with few;
//! * optionally a fraction of bad rows (one defect each, see [`Defect`]).
//!
//! [`metadata_json`] writes the metadata file CAS puts beside an export.
//!
//! ```
//! let cfg = exportgen::Config { rows: 3, ..Default::default() };
//! let mut out = Vec::new();
//! let stats = exportgen::generate(&cfg, &mut out).unwrap();
//! let text = String::from_utf8(out).unwrap();
//! assert!(text.starts_with("Product Id,Product Code,Customer Guid,"));
//! assert_eq!(text.matches("\r\n").count(), 4);
//! assert_eq!(stats.rows, 3);
//! ```

use std::io::{self, Write};

/// The guide's header, in its order.
pub const HEADER: [&str; 16] = [
    "Product Id",
    "Product Code",
    "Customer Guid",
    "Subscription Guid",
    "Subscription Start Date",
    "Organization",
    "AWS Customer Id",
    "Given Name",
    "Surname",
    "Telephone Number",
    "Email",
    "Title",
    "Country Code",
    "ZIP Code",
    "Operation Time",
    "Operation Type",
];

/// What to generate.
#[derive(Debug, Clone)]
pub struct Config {
    /// Data rows (the header not counted).
    pub rows: u64,
    /// Same seed, same file.
    pub seed: u64,
    /// Fraction of rows, 0.0 to 1.0, given one defect each (rejected by a validating reader).
    pub bad_fraction: f64,
    /// Operation time of the first row, in Unix milliseconds (UTC).
    pub start_ms: i64,
}

/// 2016-01-04T00:00:00.000Z: operation times start here.
pub const DEFAULT_START_MS: i64 = 1_451_865_600_000;

impl Default for Config {
    fn default() -> Self {
        Self { rows: 1000, seed: 42, bad_fraction: 0.0, start_ms: DEFAULT_START_MS }
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub rows: u64,
    pub creates: u64,
    pub updates: u64,
    pub deletes: u64,
    /// Rows written with a defect (counted here, not under their operation).
    pub bad: u64,
    /// Distinct contacts (Customer Guids) created.
    pub contacts: u64,
    /// Bytes written, header included.
    pub bytes: u64,
    /// Operation time of the first and last row, Unix milliseconds.
    pub first_op_ms: i64,
    pub last_op_ms: i64,
}

/// The defects a bad row may carry, one per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    /// An 11-digit account id.
    ShortAccountId,
    /// An operation time that is not ISO 8601.
    BadTimestamp,
    /// An operation type other than CREATE/UPDATE/DELETE.
    UnknownOperation,
    /// A CREATE without an e-mail address.
    MissingEmail,
    /// A given name over 100 characters.
    LongGivenName,
    /// A 4-digit ZIP code.
    BadZip,
    /// Two fields short.
    MissingFields,
    /// A Customer Guid that is not a GUID.
    BadGuid,
}

const DEFECTS: [Defect; 8] = [
    Defect::ShortAccountId,
    Defect::BadTimestamp,
    Defect::UnknownOperation,
    Defect::MissingEmail,
    Defect::LongGivenName,
    Defect::BadZip,
    Defect::MissingFields,
    Defect::BadGuid,
];

// ---- deterministic randomness ------------------------------------------------

/// SplitMix64: tiny, fast, good enough for test data, and stable forever
/// (the files must not change when a dependency does).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    /// Uniform in `0..n` (n > 0; the bias is negligible for small n).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64) < p
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A generator for one entity (`kind`, `id`) of the file with seed `seed`:
/// the same entity always gets the same values, wherever it appears.
fn rng_for(seed: u64, kind: u64, id: u64) -> Rng {
    Rng::new(mix(seed ^ mix(kind.wrapping_mul(0xA24B_AED4_963E_E407) ^ mix(id))))
}

const K_CONTACT: u64 = 1;
const K_ACCOUNT: u64 = 2;
const K_PRODUCT: u64 = 3;
const K_SUBSCRIPTION: u64 = 4;
const K_ROWS: u64 = 5;

// ---- value shapes ------------------------------------------------------------

fn push_guid(out: &mut String, r: &mut Rng) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let (a, b) = (r.next_u64(), r.next_u64());
    let mut nibbles = (0..16).map(|i| (a >> (i * 4)) & 15).chain((0..16).map(|i| (b >> (i * 4)) & 15));
    for (i, len) in [8, 4, 4, 4, 12].into_iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        for _ in 0..len {
            out.push(HEX[nibbles.next().expect("32 nibbles") as usize] as char);
        }
    }
}

fn push_product_code(out: &mut String, r: &mut Rng) {
    const ALNUM: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    for _ in 0..25 {
        out.push(ALNUM[r.below(36) as usize] as char);
    }
}

/// `YYYY-MM-DDTHH:mm:ss.sssZ` for Unix milliseconds (proleptic Gregorian, UTC).
pub fn iso_ms(ms: i64) -> String {
    let mut s = String::with_capacity(24);
    push_iso_ms(&mut s, ms);
    s
}

fn push_iso_ms(out: &mut String, ms: i64) {
    use std::fmt::Write as _;
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, sec, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    let _ = write!(out, "{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{sec:02}.{milli:03}Z");
}

const GIVEN: &[&str] = &[
    "Ana",
    "Ben",
    "Eva",
    "Lin",
    "Ravi",
    "Omar",
    "Nina",
    "Yuki",
    "Sofia",
    "Lukas",
    "Amara",
    "Mateo",
    "Chloe",
    "Diego",
    "Fatima",
    "Hannah",
    "Isabella",
    "Jonathan",
    "Katarzyna",
    "Maximilian",
    "Alexandra",
    "Christopher",
    "Guadalupe",
    "Oluwaseun",
    "Bartholomew",
    "Anneliese",
    "Eugene",
    "Angela",
    "Nathan",
    "Abdul",
    "Priya",
    "Mei",
    "Sean",
    "Zoe",
];
const SURNAMES: &[&str] = &[
    "Doe",
    "Lee",
    "Kim",
    "Smith",
    "Alves",
    "Nguyen",
    "Garcia",
    "Muller",
    "Okafor",
    "Tanaka",
    "Kowalski",
    "Johansson",
    "Fernandez",
    "Papadopoulos",
    "Van der Berg",
    "Rodriguez",
    "Thietmar",
    "Zhenyuan",
    "Abernathy",
    "Wojciechowski",
    "Nakamura",
    "O'Brien",
    "Schwarzenegger",
    "Bianchi",
    "Haddad",
    "Ivanova",
    "Petrov",
    "Laurent",
    "Moreau",
];
const SYLLABLES: &[&str] = &[
    "ka", "ri", "to", "mel", "an", "dra", "vi", "son", "el", "la", "mar", "quez", "ber", "tin", "o", "us", "ha", "ne",
];
const ORG_WORDS: &[&str] = &[
    "Example",
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Tailspin",
    "Wingtip",
    "Blue Yonder",
    "Proseware",
    "Litware",
    "Adventure Works",
    "Coho",
    "Lucerne",
    "Margie's",
    "Trey",
    "Woodgrove",
    "Fourth Coffee",
    "Alpine",
    "Datum",
    "Graphic",
    "Humongous",
    "Southridge",
    "Wide World",
];
const ORG_KINDS: &[&str] = &[
    "Systems",
    "Software",
    "Analytics",
    "Logistics",
    "Health",
    "Financial",
    "Media",
    "Energy",
    "Robotics",
    "Labs",
    "Consulting",
    "Networks",
    "Security",
    "Cloud Services",
    "Manufacturing",
    "Retail Group",
];
const ORG_SUFFIXES: &[&str] = &["Inc", "Inc.", "LLC", "Ltd", "GmbH", "S.A.", "Corp.", "Pty Ltd", "AG", "B.V.", "KK"];
const DIVISIONS: &[&str] = &[
    "Service Division",
    "European Sales Division",
    "Design Division",
    "IT Operations",
    "Platform Engineering",
    "Customer Success",
    "Research & Development",
    "Procurement",
];
const TITLES: &[&str] = &[
    "Head of IT",
    "Sr. Program Manager",
    "CTO",
    "DevOps Engineer",
    "Cloud Architect",
    "VP, Engineering",
    "Director, IT Operations",
    "Site Reliability Engineer",
    "Procurement Specialist",
    "IT Manager",
    "Principal Software Engineer",
    "Head of \"Platform\" Team",
];
const COUNTRIES: &[&str] =
    &["US", "US", "US", "US", "GB", "DE", "FR", "ES", "JP", "IN", "BR", "CA", "AU", "NL", "SE", "SG", "KR", "MX", "IE"];
const DOMAINS: &[&str] = &["com", "org", "net", "io", "co.uk", "de", "example"];

fn push_name(out: &mut String, r: &mut Rng, list: &[&str]) {
    if r.chance(0.8) {
        out.push_str(r.pick(list));
    } else {
        // Made-up names cover the whole 3-20 range.
        let target = r.range(3, 20) as usize;
        let start = out.len();
        while out.len() - start < target {
            out.push_str(r.pick(SYLLABLES));
        }
        out.truncate(start + target);
        let first = out[start..start + 1].to_ascii_uppercase();
        out.replace_range(start..start + 1, &first);
    }
}

/// An organization name, 5 to ~60 characters; about a quarter hold a comma
/// and a few a double quote, so the writer has to quote them.
fn organization(r: &mut Rng) -> String {
    let mut s = String::with_capacity(64);
    s.push_str(r.pick(ORG_WORDS));
    if r.chance(0.6) {
        s.push(' ');
        s.push_str(r.pick(ORG_KINDS));
    }
    match r.below(10) {
        0..=2 => {
            s.push_str(", ");
            s.push_str(r.pick(ORG_SUFFIXES));
        }
        3..=5 => {
            s.push(' ');
            s.push_str(r.pick(ORG_SUFFIXES));
        }
        _ => {}
    }
    if r.chance(0.3) {
        s.push_str(" -- ");
        s.push_str(r.pick(DIVISIONS));
    }
    if r.chance(0.03) {
        s.push_str(" \"Legacy\"");
    }
    s
}

fn account_id(r: &mut Rng) -> String {
    // Leading zeroes are common (older accounts): keep them.
    let n = match r.below(10) {
        0..=2 => r.below(1_000_000_000),
        3..=4 => r.below(100_000_000_000),
        _ => r.below(1_000_000_000_000),
    };
    format!("{n:012}")
}

fn phone(r: &mut Rng) -> String {
    match r.below(4) {
        0 => format!("+44 20 {:04} {:04}", r.below(10_000), r.below(10_000)),
        1 => format!("+49 {} {:07}", r.range(30, 89), r.below(10_000_000)),
        _ => format!("555-{:03}-{:04}", r.below(1000), r.below(10_000)),
    }
}

// ---- the population: products, accounts, subscriptions, contacts --------------

const PRODUCTS: u64 = 12;
/// A few accounts hold many contacts each.
const BIG_ACCOUNTS: u64 = 5;
const BIG_ACCOUNT_SHARE: f64 = 0.25;
/// The other accounts hold about this many contacts each.
const CONTACTS_PER_SMALL_ACCOUNT: u64 = 3;

struct Product {
    id: String,
    code: String,
}

fn product(seed: u64, p: u64) -> Product {
    let mut r = rng_for(seed, K_PRODUCT, p);
    let mut id = String::with_capacity(36);
    push_guid(&mut id, &mut r);
    let mut code = String::with_capacity(25);
    push_product_code(&mut code, &mut r);
    Product { id, code }
}

struct Account {
    id: String,
    organization: String,
    domain: String,
}

fn account(seed: u64, a: u64) -> Account {
    let mut r = rng_for(seed, K_ACCOUNT, a);
    let id = account_id(&mut r);
    let organization = organization(&mut r);
    let word: String = organization
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| !w.is_empty())
        .unwrap_or("example")
        .to_ascii_lowercase();
    let domain = format!("{word}{}.{}", r.below(100), r.pick(DOMAINS));
    Account { id, organization, domain }
}

/// The fixed part of one contact: who it is, never changing.
struct Contact {
    guid: String,
    account: u64,
    product: u64,
    given: String,
    surname: String,
    country: Option<&'static str>,
    zip: Option<String>,
}

fn contact(seed: u64, c: u64) -> Contact {
    let mut r = rng_for(seed, K_CONTACT, c);
    let mut guid = String::with_capacity(36);
    push_guid(&mut guid, &mut r);
    let account =
        if r.chance(BIG_ACCOUNT_SHARE) { r.below(BIG_ACCOUNTS) } else { BIG_ACCOUNTS + c / CONTACTS_PER_SMALL_ACCOUNT };
    // Products are not equally popular.
    let popular = r.range(1, PRODUCTS);
    let product = r.below(popular);
    let mut given = String::with_capacity(20);
    push_name(&mut given, &mut r, GIVEN);
    let mut surname = String::with_capacity(20);
    push_name(&mut surname, &mut r, SURNAMES);
    let country = if r.chance(0.9) { Some(COUNTRIES[r.below(COUNTRIES.len() as u64) as usize]) } else { None };
    let zip = if country == Some("US") && r.chance(0.85) { Some(format!("{:05}", r.below(100_000))) } else { None };
    Contact { guid, account, product, given, surname, country, zip }
}

fn subscription(seed: u64, account: u64, product: u64) -> (String, i64) {
    let mut r = rng_for(seed, K_SUBSCRIPTION, account.wrapping_mul(PRODUCTS) + product);
    let mut guid = String::with_capacity(36);
    push_guid(&mut guid, &mut r);
    // Midnight of a day in 2014-2015.
    let start_ms = 1_388_534_400_000 + r.below(720) as i64 * 86_400_000;
    (guid, start_ms)
}

// ---- rows ----------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Update,
    Delete,
}

/// Streams an export of `cfg.rows` rows to `out`. Memory is constant: every
/// contact, account and subscription is derived from the seed and its index
/// when needed, never stored.
pub fn generate<W: Write>(cfg: &Config, out: W) -> io::Result<Stats> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .flexible(true)
        .buffer_capacity(256 * 1024)
        .from_writer(CountingWriter { inner: out, bytes: 0 });
    w.write_record(HEADER)?;

    let products: Vec<Product> = (0..PRODUCTS).map(|p| product(cfg.seed, p)).collect();
    let mut r = rng_for(cfg.seed, K_ROWS, 0);
    let mut st = Stats { first_op_ms: cfg.start_ms, last_op_ms: cfg.start_ms, ..Stats::default() };
    let mut op_ms = cfg.start_ms;
    let mut fields: [String; 16] = Default::default();

    for row in 0..cfg.rows {
        // Up to a second between rows: a million rows span about six days.
        if row > 0 {
            op_ms += r.below(1000) as i64;
        }
        let roll = r.below(100);
        let op = if st.contacts == 0 || roll < 70 {
            Op::Create
        } else if roll < 90 {
            Op::Update
        } else {
            Op::Delete
        };
        let index = if op == Op::Create { st.contacts } else { r.below(st.contacts) };
        let c = contact(cfg.seed, index);
        let a = account(cfg.seed, c.account);
        let p = &products[c.product as usize];
        let (sub_guid, sub_start) = subscription(cfg.seed, c.account, c.product);

        for f in &mut fields {
            f.clear();
        }
        fields[0].push_str(&p.id);
        fields[1].push_str(&p.code);
        fields[2].push_str(&c.guid);
        fields[3].push_str(&sub_guid);
        push_iso_ms(&mut fields[4], sub_start);
        fields[6].push_str(&a.id);
        push_iso_ms(&mut fields[14], op_ms);
        fields[15].push_str(match op {
            Op::Create => "CREATE",
            Op::Update => "UPDATE",
            Op::Delete => "DELETE",
        });
        if op != Op::Delete {
            fields[5].push_str(&a.organization);
            fields[7].push_str(&c.given);
            fields[8].push_str(&c.surname);
            // An UPDATE changes what people change: phone, title, e-mail.
            let mut v = if op == Op::Update {
                rng_for(cfg.seed, K_ROWS, row + 1)
            } else {
                rng_for(cfg.seed, K_CONTACT, !index)
            };
            fields[9].push_str(&phone(&mut v));
            fields[10].push_str(&email(&c, &a, &mut v));
            if v.chance(0.7) {
                fields[11].push_str(v.pick(TITLES));
            }
            if let Some(cc) = c.country {
                fields[12].push_str(cc);
            }
            if let Some(z) = &c.zip {
                fields[13].push_str(z);
            }
        }

        let bad = cfg.bad_fraction > 0.0 && r.chance(cfg.bad_fraction);
        let width = if bad { spoil(&mut fields, &mut r) } else { 16 };
        w.write_record(&fields[..width])?;

        st.rows += 1;
        if bad {
            st.bad += 1;
        } else {
            match op {
                Op::Create => st.creates += 1,
                Op::Update => st.updates += 1,
                Op::Delete => st.deletes += 1,
            }
        }
        if op == Op::Create {
            st.contacts += 1;
        }
        st.last_op_ms = op_ms;
    }
    w.flush()?;
    let counting = w.into_inner().map_err(|e| io::Error::other(e.to_string()))?;
    st.bytes = counting.bytes;
    Ok(st)
}

fn email(c: &Contact, a: &Account, r: &mut Rng) -> String {
    let clean = |s: &str| s.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase();
    let (g, s) = (clean(&c.given), clean(&c.surname));
    let mut e = match r.below(4) {
        0 => format!("{g}.{s}"),
        1 => format!("{}{s}", &g[..1.min(g.len())]),
        2 => format!("{g}{}", r.below(1000)),
        _ => format!("{}{}", &g[..4.min(g.len())], &s[..3.min(s.len())]),
    };
    // Some addresses keep their owner's capitals (lookups are case-insensitive).
    if r.chance(0.1) {
        e = format!("{}{}", e[..1].to_ascii_uppercase(), &e[1..]);
    }
    e.push('@');
    e.push_str(&a.domain);
    e
}

/// Gives a row one defect; returns how many of its fields to write.
fn spoil(fields: &mut [String; 16], r: &mut Rng) -> usize {
    match DEFECTS[r.below(DEFECTS.len() as u64) as usize] {
        Defect::ShortAccountId => {
            fields[6].remove(0);
        }
        Defect::BadTimestamp => {
            let t = fields[14].replace('T', " ").replace(".", ",");
            fields[14] = t;
        }
        Defect::UnknownOperation => fields[15] = "MODIFY".into(),
        Defect::MissingEmail => {
            fields[15] = "CREATE".into();
            fields[5] = "Example Corp".into();
            fields[7] = "Someone".into();
            fields[8] = "Somebody".into();
            fields[9] = "555-000-0000".into();
            fields[10].clear();
        }
        Defect::LongGivenName => {
            fields[15] = "UPDATE".into();
            fields[5] = "Example Corp".into();
            fields[7] = "Bartholomew".repeat(10);
            fields[8] = "Somebody".into();
            fields[9] = "555-000-0000".into();
            fields[10] = "someone@example.com".into();
        }
        Defect::BadZip => {
            fields[15] = "CREATE".into();
            fields[5] = "Example Corp".into();
            fields[7] = "Someone".into();
            fields[8] = "Somebody".into();
            fields[9] = "555-000-0000".into();
            fields[10] = "someone@example.com".into();
            fields[12] = "US".into();
            fields[13] = "2201".into();
        }
        Defect::MissingFields => return 14,
        Defect::BadGuid => {
            fields[2].truncate(35);
        }
    }
    16
}

struct CountingWriter<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// CPU seconds (user + system) the calling thread has used so far. On a
/// busy machine, CPU time is steadier than wall time for a single-threaded
/// loop: it leaves out the time the thread waited for a core.
pub fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we pass; the clock id is valid on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// Where an export and its metadata file sit in S3.
#[derive(Debug, Clone)]
pub struct Placement<'a> {
    pub request_id: &'a str,
    pub bucket: &'a str,
    pub csv_key: &'a str,
    pub meta_key: &'a str,
}

/// The metadata file CAS writes beside an export (coverage from `start` to
/// `end`, ISO 8601).
pub fn metadata_json(at: &Placement<'_>, start: &str, end: &str) -> String {
    serde_json::json!({
        "dataSetRequestId": at.request_id,
        "dataSetCoverageRange": {"startDateTime": start, "endDateTime": end},
        "dataSetRequestParameters": {
            "fromDate": start,
            "dataSetType": "customer_support_contacts_data",
            "roleNameArn": "arn:aws:iam::123456789012:role/MarketplaceCommerceAnalyticsRole",
            "destinationS3BucketName": at.bucket,
            "destinationS3Prefix": "psc",
            "snsTopicArn": "arn:aws:sns:us-east-1:123456789012:psc"
        },
        "dataSetS3Location": {"bucketName": at.bucket, "key": at.csv_key},
        "dataSetMetaDataS3Location": {"bucketName": at.bucket, "key": at.meta_key},
        "requestReceivedDateTime": end,
        "requestCompletedDateTime": end
    })
    .to_string()
}

/// The SNS message CAS publishes once the export is in S3.
pub fn notification_json(at: &Placement<'_>) -> String {
    serde_json::json!({
        "dataSetS3Location": {"bucketName": at.bucket, "key": at.csv_key},
        "dataSetMetaDataS3Location": {"bucketName": at.bucket, "key": at.meta_key},
        "dataSetRequestId": at.request_id,
        "success": true
    })
    .to_string()
}

/// Coverage of a generated export as its metadata states it: from the
/// initial from-date (a full export) to one second after the last row.
pub fn coverage(stats: &Stats) -> (String, String) {
    ("2010-01-01T00:00:00.000Z".to_owned(), iso_ms(stats.last_op_ms + 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen_text(cfg: &Config) -> (String, Stats) {
        let mut out = Vec::new();
        let st = generate(cfg, &mut out).unwrap();
        (String::from_utf8(out).unwrap(), st)
    }

    #[test]
    fn iso_formatting() {
        assert_eq!(iso_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_ms(DEFAULT_START_MS), "2016-01-04T00:00:00.000Z");
        assert_eq!(iso_ms(1_460_037_915_275), "2016-04-07T14:05:15.275Z");
        assert_eq!(iso_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn deterministic_and_seed_dependent() {
        let cfg = Config { rows: 2000, bad_fraction: 0.05, ..Config::default() };
        let (a, sa) = gen_text(&cfg);
        let (b, _) = gen_text(&cfg);
        assert_eq!(a, b);
        assert_eq!(sa.bytes as usize, a.len());
        let (c, _) = gen_text(&Config { seed: 7, ..cfg });
        assert_ne!(a, c);
    }

    #[test]
    fn shape_of_the_rows() {
        let cfg = Config { rows: 20_000, ..Config::default() };
        let (text, st) = gen_text(&cfg);
        assert_eq!(st.rows, 20_000);
        assert_eq!(st.bad, 0);
        assert_eq!(st.creates + st.updates + st.deletes, 20_000);
        let pct = |n: u64| n * 100 / st.rows;
        assert!((67..=73).contains(&pct(st.creates)), "{st:?}");
        assert!((17..=23).contains(&pct(st.updates)), "{st:?}");
        assert!((8..=12).contains(&pct(st.deletes)), "{st:?}");
        assert!(text.split("\n").all(|l| l.is_empty() || l.ends_with('\r')), "CRLF everywhere");

        let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        assert_eq!(rdr.headers().unwrap().iter().collect::<Vec<_>>(), HEADER);
        let mut quoted_orgs = 0;
        let mut accounts = std::collections::HashMap::<String, u64>::new();
        let mut lens = [usize::MAX, 0];
        for rec in rdr.records() {
            let rec = rec.unwrap();
            assert_eq!(rec.len(), 16);
            for i in [0, 2, 3] {
                assert_eq!(rec[i].len(), 36);
            }
            assert_eq!(rec[1].len(), 25);
            assert!(rec[6].len() == 12 && rec[6].bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(rec[14].len(), 24);
            *accounts.entry(rec[6].to_owned()).or_default() += 1;
            if &rec[15] == "DELETE" {
                assert!((5..14).all(|i| i == 6 || rec[i].is_empty()), "DELETE rows carry no contact fields");
                continue;
            }
            if rec[5].contains(',') || rec[5].contains('"') {
                quoted_orgs += 1;
            }
            assert!(rec[5].len() <= 80, "{}", &rec[5]);
            for name in [&rec[7], &rec[8]] {
                lens = [lens[0].min(name.len()), lens[1].max(name.len())];
            }
            assert!(rec[10].contains('@'));
            assert!(rec[12].is_empty() || rec[12].len() == 2);
            assert!(rec[13].is_empty() || (rec[13].len() == 5 && rec[13].bytes().all(|b| b.is_ascii_digit())));
        }
        assert!(lens[0] <= 3 && (18..=20).contains(&lens[1]), "{lens:?}");
        assert!(quoted_orgs > 1000, "{quoted_orgs}");
        assert!(text.contains(",0"), "leading zeroes");
        let mut sizes: Vec<u64> = accounts.values().copied().collect();
        sizes.sort_unstable();
        assert!(sizes[sizes.len() - 1] > 500, "a few big accounts");
        assert!(sizes[sizes.len() / 2] <= 5, "most accounts are small");
    }

    #[test]
    fn bad_rows_are_counted() {
        let (text, st) = gen_text(&Config { rows: 10_000, bad_fraction: 0.1, ..Config::default() });
        assert!((800..1200).contains(&st.bad), "{st:?}");
        assert!(text.contains("MODIFY"));
        assert_eq!(st.creates + st.updates + st.deletes + st.bad, 10_000);
    }
}
