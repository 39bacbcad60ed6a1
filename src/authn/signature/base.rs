//! The RFC 9421 signature base (section 2.5), built exactly as the RFC says:
//! one line per covered component, `"<component identifier>": <value>`, then
//! the `@signature-params` line. Component values come from the message: the
//! derived components of section 2.2, and HTTP fields with their `sf`, `key`,
//! `bs` and `req` parameters (section 2.1). Anything not covered by the RFC
//! (trailers, unknown derived components, an absent field) is refused.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::{HeaderMap, Method, StatusCode, Uri};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use sfv::{FieldType, InnerList, Item, ListEntry};
use std::fmt::Write;

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
/// parameters), as section 2.5 specifies.
pub fn signature_base(covered: &InnerList, msg: &Message<'_>) -> Result<String, BaseError> {
    let mut base = String::with_capacity(256);
    let mut seen: Vec<String> = Vec::with_capacity(covered.items.len());
    for component in &covered.items {
        let id = component.serialize();
        if seen.contains(&id) {
            return Err(BaseError::Invalid);
        }
        for value in values(component, msg)? {
            let _ = writeln!(base, "{id}: {value}");
        }
        seen.push(id);
    }
    let params = serialize_inner_list(covered).ok_or(BaseError::Invalid)?;
    let _ = write!(base, "\"@signature-params\": {params}");
    Ok(base)
}

/// An inner list on its own, as it appears as a dictionary member value.
pub fn serialize_inner_list(list: &InnerList) -> Option<String> {
    let mut s = sfv::ListSerializer::new();
    s.members([&ListEntry::InnerList(list.clone())]);
    s.finish()
}

/// The component's value (several lines only for a repeated `@query-param`).
fn values(component: &Item, msg: &Message<'_>) -> Result<Vec<String>, BaseError> {
    let name = component
        .bare_item
        .as_string()
        .ok_or(BaseError::Invalid)?
        .as_str();
    let flag = |p: &str| {
        component
            .params
            .get(p)
            .map(|v| v.as_boolean() == Some(true))
    };
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
            .keys()
            .any(|k| !allowed.contains(&k.as_str()))
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
    field_value(name, component, headers).map(|v| vec![v])
}

fn derived_value(
    name: &str,
    component: &Item,
    msg: &Message<'_>,
    req: bool,
) -> Result<Vec<String>, BaseError> {
    let r = &msg.request;
    if msg.response.is_some() && !req && name != "status" {
        return Err(BaseError::Invalid); // request components of a response need `req`
    }
    let scheme = r
        .target
        .scheme_str()
        .unwrap_or("https")
        .to_ascii_lowercase();
    let path = match r.target.path() {
        "" => "/",
        p => p,
    };
    let query = r.target.query();
    let one = |s: String| Ok(vec![s]);
    match name {
        "method" => one(r.method.as_str().to_string()),
        "authority" => one(authority(r.authority, &scheme)),
        "scheme" => one(scheme),
        "target-uri" => one(format!(
            "{scheme}://{}{path}{}",
            authority(r.authority, &scheme),
            query.map(|q| format!("?{q}")).unwrap_or_default()
        )),
        "request-target" => one(format!(
            "{path}{}",
            query.map(|q| format!("?{q}")).unwrap_or_default()
        )),
        "path" => one(path.to_string()),
        "query" => one(format!("?{}", query.unwrap_or(""))),
        "query-param" => query_param(component, query.unwrap_or("")),
        "status" => match (&msg.response, req) {
            (Some((status, _)), false) => one(status.as_str().to_string()),
            _ => Err(BaseError::Invalid),
        },
        _ => Err(BaseError::Invalid),
    }
}

/// `@authority`: lowercase host, the scheme's default port left out (§2.2.3).
fn authority(raw: &str, scheme: &str) -> String {
    let lower = raw.to_ascii_lowercase();
    let default = if scheme == "http" { ":80" } else { ":443" };
    match lower.strip_suffix(default) {
        Some(host) => host.to_string(),
        None => lower,
    }
}

fn query_param(component: &Item, query: &str) -> Result<Vec<String>, BaseError> {
    let wanted = component
        .params
        .get("name")
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
fn field_value(name: &str, component: &Item, headers: &HeaderMap) -> Result<String, BaseError> {
    let allowed = ["sf", "key", "bs", "req"];
    if component
        .params
        .keys()
        .any(|k| !allowed.contains(&k.as_str()))
    {
        return Err(BaseError::Invalid);
    }
    let lines: Vec<&[u8]> = headers.get_all(name).iter().map(|v| v.as_bytes()).collect();
    if lines.is_empty() {
        return Err(BaseError::Missing);
    }
    let sf = component.params.contains_key("sf");
    let key = component.params.get("key");
    let bs = component.params.contains_key("bs");
    if [sf, key.is_some(), bs].iter().filter(|f| **f).count() > 1 {
        return Err(BaseError::Invalid);
    }
    if bs {
        let wrapped: Vec<String> = lines
            .iter()
            .map(|l| format!(":{}:", STANDARD.encode(trim(l))))
            .collect();
        return Ok(wrapped.join(", "));
    }
    let text: Vec<&str> = lines
        .iter()
        .map(|l| std::str::from_utf8(trim(l)).map_err(|_| BaseError::Invalid))
        .collect::<Result<_, _>>()?;
    let combined = text.join(", ");
    if let Some(key) = key {
        let key = key.as_string().ok_or(BaseError::Invalid)?.as_str();
        let dict: sfv::Dictionary = sfv::Parser::new(&combined)
            .parse()
            .map_err(|_| BaseError::Invalid)?;
        let member = dict
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .ok_or(BaseError::Missing)?
            .1;
        return match member {
            ListEntry::Item(i) => Ok(i.serialize()),
            ListEntry::InnerList(l) => serialize_inner_list(l).ok_or(BaseError::Invalid),
        };
    }
    if sf {
        return reserialize(&combined).ok_or(BaseError::Invalid);
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
