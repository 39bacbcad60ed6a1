//! The RFC 9421 signature base (section 2.5), built exactly as the RFC says:
//! one line per covered component, `"<component identifier>": <value>`, then
//! the `@signature-params` line. Component values come from the message: the
//! derived components of section 2.2, and HTTP fields with their `sf`, `key`,
//! `bs` and `req` parameters (section 2.1). Anything not covered by the RFC
//! (trailers, unknown derived components, an absent field) is refused.

use super::input::{Component, Covered};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::{HeaderMap, Method, StatusCode, Uri};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use sfv::{FieldType, Item, ListEntry};
use std::borrow::Cow;

/// HTML's application/x-www-form-urlencoded percent-encode set, with spaces as
/// `%20` (RFC 9421 §2.2.8, re-encoding `@query-param` names and values).
const QUERY_PARAM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_');

/// The request side of a message (also what `req` components read).
pub struct RequestParts<'a> {
    pub method: &'a Method,
    pub target: &'a Uri,
    pub authority: &'a str,
    pub headers: &'a HeaderMap,
}

/// The message a signature covers: a request, or a response to `request`.
pub struct Message<'a> {
    pub request: RequestParts<'a>,
    pub response: Option<(StatusCode, &'a HeaderMap)>,
}

/// Why no signature base could be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseError {
    /// A covered component is absent from the message.
    Missing,
    /// A component identifier or value the RFC does not allow.
    Invalid,
}

/// Builds the signature base for the covered components `covered` (with its
/// parameters), as section 2.5 specifies. Values are written straight into
/// the base: one allocation for the base, a few for unusual components.
pub fn signature_base(covered: &Covered<'_>, msg: &Message<'_>) -> Result<String, BaseError> {
    let mut base = String::with_capacity(256);
    for (i, component) in covered.items.iter().enumerate() {
        if covered.items[..i].contains(component) {
            return Err(BaseError::Invalid);
        }
        let mut line = |value: &str| {
            write_component(component, &mut base);
            base.push_str(": ");
            base.push_str(value);
            base.push('\n');
        };
        match values(component, msg)? {
            Values::One(v) => line(&v),
            Values::Many(vs) => vs.iter().for_each(|v| line(v)),
        }
    }
    base.push_str("\"@signature-params\": ");
    write_inner_list(covered, &mut base);
    Ok(base)
}

/// The covered components and parameters as they appear in `Signature-Input`.
pub fn serialize_covered(covered: &Covered<'_>) -> String {
    let mut out = String::new();
    write_inner_list(covered, &mut out);
    out
}

fn write_inner_list(covered: &Covered<'_>, out: &mut String) {
    let mut ser = sfv::ListSerializer::with_buffer(out);
    let mut inner = ser.inner_list();
    for c in &covered.items {
        let mut p = inner.bare_item(&c.name);
        for (k, v) in &c.params {
            p = p.parameter(k, v);
        }
    }
    let mut p = inner.finish();
    for (k, v) in &covered.params {
        p = p.parameter(k, v);
    }
}

fn write_component(c: &Component<'_>, out: &mut String) {
    let mut p = sfv::ItemSerializer::with_buffer(out).bare_item(&c.name);
    for (k, v) in &c.params {
        p = p.parameter(k, v);
    }
}

/// An sfv inner list (a dictionary member selected with `key`) serialized.
fn serialize_inner_list(list: &sfv::InnerList) -> Option<String> {
    let mut s = sfv::ListSerializer::new();
    s.members([&ListEntry::InnerList(list.clone())]);
    s.finish()
}

/// A component's value: one line, borrowed from the message where it can be,
/// or several (a repeated `@query-param`).
enum Values<'m> {
    One(Cow<'m, str>),
    Many(Vec<String>),
}

/// The component's value (several lines only for a repeated `@query-param`).
fn values<'m>(component: &Component<'_>, msg: &'m Message<'m>) -> Result<Values<'m>, BaseError> {
    let name = component
        .name
        .as_string()
        .ok_or(BaseError::Invalid)?
        .as_str();
    let flag = |p: &str| component.param(p).map(|v| v.as_boolean() == Some(true));
    let req = match flag("req") {
        None => false,
        Some(true) if msg.response.is_some() => true,
        _ => return Err(BaseError::Invalid),
    };
    if flag("tr").is_some() {
        return Err(BaseError::Invalid); // trailers are not signed here
    }
    if let Some(derived) = name.strip_prefix('@') {
        let allowed: &[&str] = if derived == "query-param" {
            &["name", "req"]
        } else {
            &["req"]
        };
        if component
            .params
            .iter()
            .any(|(k, _)| !allowed.contains(&k.as_str()))
        {
            return Err(BaseError::Invalid);
        }
        return derived_value(derived, component, msg, req);
    }
    if name.is_empty() || name.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(BaseError::Invalid);
    }
    let headers = match (&msg.response, req) {
        (Some((_, h)), false) => *h,
        _ => msg.request.headers,
    };
    field_value(name, component, headers).map(Values::One)
}

fn derived_value<'m>(
    name: &str,
    component: &Component<'_>,
    msg: &'m Message<'m>,
    req: bool,
) -> Result<Values<'m>, BaseError> {
    let r = &msg.request;
    if msg.response.is_some() && !req && name != "status" {
        return Err(BaseError::Invalid); // request components of a response need `req`
    }
    let scheme = match r.target.scheme_str() {
        None => "https",
        Some(s) if s.eq_ignore_ascii_case("https") => "https",
        Some(s) if s.eq_ignore_ascii_case("http") => "http",
        Some(_) => return Err(BaseError::Invalid),
    };
    let path = match r.target.path() {
        "" => "/",
        p => p,
    };
    let query = r.target.query();
    let one = |s: Cow<'m, str>| Ok(Values::One(s));
    match name {
        "method" => one(Cow::Borrowed(r.method.as_str())),
        "authority" => one(authority(r.authority, scheme)),
        "scheme" => one(Cow::Borrowed(scheme)),
        // The target URI as the client addressed it (RFC 9110 §7.1): only
        // `@authority` is normalized.
        "target-uri" => one(Cow::Owned(format!(
            "{scheme}://{}{path}{}{}",
            r.authority,
            if query.is_some() { "?" } else { "" },
            query.unwrap_or("")
        ))),
        "request-target" => match query {
            None => one(Cow::Borrowed(path)),
            Some(q) => one(Cow::Owned(format!("{path}?{q}"))),
        },
        "path" => one(Cow::Borrowed(path)),
        "query" => one(Cow::Owned(format!("?{}", query.unwrap_or("")))),
        "query-param" => query_param(component, query.unwrap_or("")).map(Values::Many),
        "status" => match (&msg.response, req) {
            (Some((status, _)), false) => one(Cow::Borrowed(status.as_str())),
            _ => Err(BaseError::Invalid),
        },
        _ => Err(BaseError::Invalid),
    }
}

/// `@authority`: lowercase host, the scheme's default port left out (§2.2.3).
fn authority<'m>(raw: &'m str, scheme: &str) -> Cow<'m, str> {
    let default = if scheme == "http" { ":80" } else { ":443" };
    let host = raw.strip_suffix(default).unwrap_or(raw);
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

fn query_param(component: &Component<'_>, query: &str) -> Result<Vec<String>, BaseError> {
    let wanted = component
        .param("name")
        .and_then(|v| v.as_string())
        .ok_or(BaseError::Invalid)?
        .as_str();
    let encode = |s: &str| percent_encoding::utf8_percent_encode(s, QUERY_PARAM).to_string();
    let found: Vec<String> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| encode(k) == wanted)
        .map(|(_, v)| encode(&v))
        .collect();
    if found.is_empty() {
        return Err(BaseError::Missing);
    }
    Ok(found)
}

/// An HTTP field's value (§2.1): its lines trimmed and joined with ", ", or
/// re-serialized (`sf`), one dictionary member (`key`), or each line wrapped
/// as a byte sequence (`bs`).
fn field_value<'m>(
    name: &str,
    component: &Component<'_>,
    headers: &'m HeaderMap,
) -> Result<Cow<'m, str>, BaseError> {
    let allowed = ["sf", "key", "bs", "req"];
    if component
        .params
        .iter()
        .any(|(k, _)| !allowed.contains(&k.as_str()))
    {
        return Err(BaseError::Invalid);
    }
    let mut lines = headers
        .get_all(name)
        .iter()
        .map(|v| v.as_bytes())
        .peekable();
    if lines.peek().is_none() {
        return Err(BaseError::Missing);
    }
    let sf = component.param("sf").is_some();
    let key = component.param("key");
    let bs = component.param("bs").is_some();
    if [sf, key.is_some(), bs].iter().filter(|f| **f).count() > 1 {
        return Err(BaseError::Invalid);
    }
    if bs {
        let wrapped: Vec<String> = lines
            .map(|l| format!(":{}:", STANDARD.encode(trim(l))))
            .collect();
        return Ok(Cow::Owned(wrapped.join(", ")));
    }
    let text = |l: &'m [u8]| std::str::from_utf8(trim(l)).map_err(|_| BaseError::Invalid);
    let first = text(lines.next().ok_or(BaseError::Missing)?)?;
    let combined = match lines.peek() {
        None => Cow::Borrowed(first),
        Some(_) => {
            let mut all = first.to_string();
            for l in lines {
                all.push_str(", ");
                all.push_str(text(l)?);
            }
            Cow::Owned(all)
        }
    };
    if let Some(key) = key {
        let key = key.as_string().ok_or(BaseError::Invalid)?.as_str();
        let dict: sfv::Dictionary = sfv::Parser::new(combined.as_ref())
            .parse()
            .map_err(|_| BaseError::Invalid)?;
        let member = dict
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .ok_or(BaseError::Missing)?
            .1;
        return match member {
            ListEntry::Item(i) => Ok(Cow::Owned(i.serialize())),
            ListEntry::InnerList(l) => serialize_inner_list(l)
                .map(Cow::Owned)
                .ok_or(BaseError::Invalid),
        };
    }
    if sf {
        return reserialize(&combined)
            .map(Cow::Owned)
            .ok_or(BaseError::Invalid);
    }
    Ok(combined)
}

/// A structured field re-serialized: the field's type is not known here, so
/// dictionary, then list, then item are tried; each serializes canonically.
fn reserialize(value: &str) -> Option<String> {
    if let Ok(d) = sfv::Parser::new(value).parse::<sfv::Dictionary>() {
        return d.serialize();
    }
    if let Ok(l) = sfv::Parser::new(value).parse::<sfv::List>() {
        return l.serialize();
    }
    sfv::Parser::new(value)
        .parse::<Item>()
        .ok()
        .map(|i| i.serialize())
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t'))
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !matches!(c, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &b[start..end]
}
