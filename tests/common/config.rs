//! The one way tests write a gateway.toml: a small builder of TOML tables that
//! renders valid TOML. Every string, value or key, is quoted and escaped in one
//! place, [`toml_str`], so paths and URLs never need hand-written quotes.
//!
//! ```ignore
//! let cfg = Config::new(&pki) // [listen] + [admin] on ephemeral ports
//!     .upstream("app", &up.url()) // [upstreams.app] targets = ["http://..."]
//!     .authenticator("es", "jwt", &[("issuer", s("https://issuer.test")), ("keys", file(&jwks))])
//!     .route(Route::new("api", "/api", "app").auth(&["es"]).extra(&[("single_use", boolean(true))]))
//!     .set("listen.tls.client_auth", s("optional")); // a key inside an existing table
//! let (gw, _dir) = start_gateway(&cfg).await;
//! ```
//!
//! Keys are dotted paths (`"tls.cert"`, `"require.scopes"`): each `.`-separated
//! segment is written bare when TOML allows it, quoted otherwise.

use super::Pki;
use std::fmt;
use std::path::Path;

/// A TOML value.
#[derive(Clone, Debug, PartialEq)]
pub enum TomlValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Array(Vec<TomlValue>),
    /// An inline table `{ k = v, ... }`, keys in order.
    Inline(Vec<(String, TomlValue)>),
}

/// A string.
pub fn s(v: &str) -> TomlValue {
    TomlValue::Str(v.to_string())
}

/// An integer.
pub fn n(v: i64) -> TomlValue {
    TomlValue::Int(v)
}

/// A float (always written with a decimal point).
pub fn float(v: f64) -> TomlValue {
    TomlValue::Float(v)
}

/// A boolean.
pub fn boolean(v: bool) -> TomlValue {
    TomlValue::Bool(v)
}

/// An array of strings.
pub fn list(items: &[&str]) -> TomlValue {
    TomlValue::Array(items.iter().map(|i| s(i)).collect())
}

/// An array of any values (for example inline tables).
pub fn array(items: Vec<TomlValue>) -> TomlValue {
    TomlValue::Array(items)
}

/// An inline table.
pub fn inline(entries: &[(&str, TomlValue)]) -> TomlValue {
    TomlValue::Inline(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

/// A filesystem path, as a string.
pub fn path(p: impl AsRef<Path>) -> TomlValue {
    s(utf8(p.as_ref()))
}

/// `file:<path>`: how the gateway is told to read keys and secrets from a file.
pub fn file(p: impl AsRef<Path>) -> TomlValue {
    TomlValue::Str(format!("file:{}", utf8(p.as_ref())))
}

fn utf8(p: &Path) -> &str {
    p.to_str()
        .unwrap_or_else(|| panic!("a test path is not UTF-8: {p:?}"))
}

/// `v` as a TOML basic string: in double quotes, with the quote, the backslash
/// and every control character escaped (TOML 1.0, "String").
pub fn toml_str(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A dotted key or table name: each segment bare when TOML allows
/// (`A-Za-z0-9_-`), else quoted by [`toml_str`].
fn key(dotted: &str) -> String {
    dotted
        .split('.')
        .map(|seg| {
            let bare = !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if bare {
                seg.to_string()
            } else {
                toml_str(seg)
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

impl fmt::Display for TomlValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TomlValue::Str(v) => f.write_str(&toml_str(v)),
            TomlValue::Int(v) => write!(f, "{v}"),
            TomlValue::Float(v) => write!(f, "{v:?}"),
            TomlValue::Bool(v) => write!(f, "{v}"),
            TomlValue::Array(items) => {
                let items: Vec<String> = items.iter().map(TomlValue::to_string).collect();
                write!(f, "[{}]", items.join(", "))
            }
            TomlValue::Inline(entries) if entries.is_empty() => f.write_str("{}"),
            TomlValue::Inline(entries) => {
                let entries: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{} = {v}", key(k)))
                    .collect();
                write!(f, "{{ {} }}", entries.join(", "))
            }
        }
    }
}

/// Sets `k` in `entries`: in place when present, else appended.
fn put(entries: &mut Vec<(String, TomlValue)>, k: &str, v: TomlValue) {
    match entries.iter_mut().find(|(have, _)| have == k) {
        Some(entry) => entry.1 = v,
        None => entries.push((k.to_string(), v)),
    }
}

#[derive(Clone, Debug)]
enum Item {
    /// `[name]`, or `[[name]]` when `array`, with its keys in order.
    Table {
        name: String,
        array: bool,
        entries: Vec<(String, TomlValue)>,
    },
    /// Text written as is.
    Raw(String),
}

/// A gateway.toml under construction; tables render in the order first added.
#[derive(Clone, Debug, Default)]
pub struct Config {
    items: Vec<Item>,
}

impl Config {
    /// No tables at all (for `sealgate check` cases built key by key).
    pub fn empty() -> Config {
        Config::default()
    }

    /// `[listen]` and `[admin]` on 127.0.0.1 ephemeral ports, the listener
    /// presenting the PKI's `gateway` certificate.
    pub fn new(pki: &Pki) -> Config {
        Config::empty()
            .table(
                "listen",
                &[
                    ("address", s("127.0.0.1:0")),
                    ("tls.cert", path(pki.path("gateway.crt"))),
                    ("tls.key", path(pki.path("gateway.key"))),
                ],
            )
            .table("admin", &[("address", s("127.0.0.1:0"))])
    }

    /// Adds `entries` to `[name]`, creating the table (last) when missing; a key
    /// already there is replaced in place.
    pub fn table(mut self, name: &str, entries: &[(&str, TomlValue)]) -> Config {
        let i = self.find(name).unwrap_or_else(|| {
            self.items.push(Item::Table {
                name: name.to_string(),
                array: false,
                entries: Vec::new(),
            });
            self.items.len() - 1
        });
        for (k, v) in entries {
            self.put(i, k, v.clone());
        }
        self
    }

    /// Appends one `[[name]]` entry of an array of tables (`[[envelope.keys]]`).
    pub fn array_table(mut self, name: &str, entries: &[(&str, TomlValue)]) -> Config {
        self.items.push(Item::Table {
            name: name.to_string(),
            array: true,
            entries: Vec::new(),
        });
        let i = self.items.len() - 1;
        for (k, v) in entries {
            self.put(i, k, v.clone());
        }
        self
    }

    /// Sets the dotted `key` in the longest `[table]` it starts with:
    /// `"listen.tls.client_auth"` lands in `[listen]` as `tls.client_auth`,
    /// `"upstreams.app.protocol"` in `[upstreams.app]`. With no such table, a
    /// new one is named by the first segment (`"limits.max_header_count"`).
    pub fn set(mut self, key: &str, value: TomlValue) -> Config {
        let found = self
            .items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| match item {
                Item::Table {
                    name, array: false, ..
                } => key
                    .strip_prefix(name.as_str())
                    .and_then(|rest| rest.strip_prefix('.'))
                    .map(|rest| (name.len(), i, rest)),
                _ => None,
            })
            .max_by_key(|(len, ..)| *len)
            .map(|(_, i, rest)| (i, rest));
        match found {
            Some((i, rest)) => {
                self.put(i, rest, value);
                self
            }
            None => {
                let (table, rest) = key
                    .split_once('.')
                    .unwrap_or_else(|| panic!("Config::set({key:?}) names no table"));
                self.table(table, &[(rest, value)])
            }
        }
    }

    /// `[upstreams.<name>]` with the one target `url`.
    pub fn upstream(self, name: &str, url: &str) -> Config {
        self.table(&format!("upstreams.{name}"), &[("targets", list(&[url]))])
    }

    /// `[upstreams.<name>]` answered by the built-in echo upstream.
    pub fn echo_upstream(self, name: &str) -> Config {
        self.table(&format!("upstreams.{name}"), &[("builtin", s("echo"))])
    }

    /// `[authenticators.<name>]` of `kind`, then `entries`.
    pub fn authenticator(self, name: &str, kind: &str, entries: &[(&str, TomlValue)]) -> Config {
        self.table(&format!("authenticators.{name}"), &[("kind", s(kind))])
            .table(&format!("authenticators.{name}"), entries)
    }

    /// One `[[routes]]` entry.
    pub fn route(mut self, route: Route) -> Config {
        self.items.push(Item::Table {
            name: "routes".to_string(),
            array: true,
            entries: route.entries,
        });
        self
    }

    /// Literal TOML text, written as is after what is there so far: only for a
    /// file whose exact text is the point of a test (say, one that is not TOML).
    pub fn raw(mut self, text: &str) -> Config {
        self.items.push(Item::Raw(text.to_string()));
        self
    }

    /// The TOML text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for item in &self.items {
            if !out.is_empty() && !out.ends_with("\n\n") {
                out.push('\n');
            }
            match item {
                Item::Table {
                    name,
                    array,
                    entries,
                } => {
                    if *array {
                        out.push_str(&format!("[[{}]]\n", key(name)));
                    } else {
                        out.push_str(&format!("[{}]\n", key(name)));
                    }
                    for (k, v) in entries {
                        out.push_str(&format!("{} = {v}\n", key(k)));
                    }
                }
                Item::Raw(text) => {
                    out.push_str(text);
                    if !text.ends_with('\n') {
                        out.push('\n');
                    }
                }
            }
        }
        out
    }

    /// Writes the TOML text to `path`.
    pub fn write(&self, path: impl AsRef<Path>) {
        std::fs::write(path.as_ref(), self.render())
            .unwrap_or_else(|e| panic!("writing {:?}: {e}", path.as_ref()));
    }

    fn find(&self, table: &str) -> Option<usize> {
        self.items.iter().position(
            |item| matches!(item, Item::Table { name, array: false, .. } if name == table),
        )
    }

    fn put(&mut self, i: usize, k: &str, v: TomlValue) {
        match &mut self.items[i] {
            Item::Table { entries, .. } => put(entries, k, v),
            Item::Raw(_) => unreachable!("keys go into tables"),
        }
    }
}

/// One `[[routes]]` entry: `name`, `path_prefix` (unless left out), `upstream`,
/// then `auth` and any other keys in the order given.
#[derive(Clone, Debug)]
pub struct Route {
    entries: Vec<(String, TomlValue)>,
}

impl Route {
    pub fn new(name: &str, path_prefix: &str, upstream: &str) -> Route {
        Route {
            entries: vec![
                ("name".into(), s(name)),
                ("path_prefix".into(), s(path_prefix)),
                ("upstream".into(), s(upstream)),
            ],
        }
    }

    /// A route with no `path_prefix` key at all.
    pub fn without_prefix(name: &str, upstream: &str) -> Route {
        Route {
            entries: vec![("name".into(), s(name)), ("upstream".into(), s(upstream))],
        }
    }

    /// `auth = "anonymous"`: a public route.
    pub fn anonymous(self) -> Route {
        self.extra(&[("auth", s("anonymous"))])
    }

    /// `auth = [...]`: any of these authenticators.
    pub fn auth(self, authenticators: &[&str]) -> Route {
        self.extra(&[("auth", list(authenticators))])
    }

    /// More keys, dotted allowed (`("require.scopes", list(&["admin"]))`); a key
    /// already set is replaced in place.
    pub fn extra(mut self, entries: &[(&str, TomlValue)]) -> Route {
        for (k, v) in entries {
            put(&mut self.entries, k, v.clone());
        }
        self
    }
}
