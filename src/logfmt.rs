//! Values as log fields: lists comma-joined and absent values empty, so a
//! log line carries `a,b` and `""`, never Rust's `["a", "b"]` or `None`.
//! Imports nothing of the gateway: every module may log through it.

/// A list as a log value: `a,b,c` (empty for none), never `["a", "b"]`.
pub fn list<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let mut out = String::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&item.to_string());
    }
    out
}

/// An optional value as a log value: empty for none, never `None`/`Some(..)`.
pub fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}
