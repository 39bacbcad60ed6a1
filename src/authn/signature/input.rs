//! `Signature-Input` and `Signature` (RFC 9421 §4) parsed with sfv's
//! visitors into views that borrow from the header: a request is verified
//! without copying every component name and parameter into owned maps.

use sfv::visitor::{
    DictionaryVisitor, EntryVisitor, Ignored, InnerListVisitor, ItemVisitor, ParameterVisitor,
};
use sfv::{BareItemFromInput, KeyRef};
use std::convert::Infallible;

/// Parameters in order; a repeated key keeps its last value (RFC 8941 §4.2.3.2).
pub type Params<'a> = Vec<(&'a KeyRef, BareItemFromInput<'a>)>;

/// One covered component identifier: a string and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Component<'a> {
    pub name: BareItemFromInput<'a>,
    pub params: Params<'a>,
}

/// The covered components of one signature and its signature parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Covered<'a> {
    pub items: Vec<Component<'a>>,
    pub params: Params<'a>,
}

pub fn param<'p, 'a>(params: &'p Params<'a>, key: &str) -> Option<&'p BareItemFromInput<'a>> {
    params
        .iter()
        .find(|(k, _)| k.as_str() == key)
        .map(|(_, v)| v)
}

impl<'a> Component<'a> {
    pub fn param(&self, key: &str) -> Option<&BareItemFromInput<'a>> {
        param(&self.params, key)
    }
}

/// A dictionary member: an inner list (a `Signature-Input` entry) or an item
/// (a `Signature` byte sequence).
#[derive(Debug, Default)]
pub struct Member<'a> {
    pub list: Option<Covered<'a>>,
    pub item: Option<BareItemFromInput<'a>>,
}

/// A parsed dictionary, members in order, a repeated key keeping its last value.
pub type Dictionary<'a> = Vec<(&'a KeyRef, Member<'a>)>;

/// Parses a dictionary field; `None` when it is not a valid dictionary.
pub fn dictionary(text: &str) -> Option<Dictionary<'_>> {
    let mut d = Dict::default();
    sfv::Parser::new(text)
        .parse_dictionary_with_visitor(&mut d)
        .ok()?;
    Some(d.members)
}

#[derive(Default)]
struct Dict<'de> {
    members: Dictionary<'de>,
}

impl<'de> DictionaryVisitor<'de> for Dict<'de> {
    type Error = Infallible;

    fn entry(&mut self, key: &'de KeyRef) -> Result<impl EntryVisitor<'de>, Infallible> {
        self.members.retain(|(k, _)| *k != key);
        self.members.push((key, Member::default()));
        Ok(Slot(self.members.last_mut().map(|(_, m)| m)))
    }
}

struct Slot<'s, 'de>(Option<&'s mut Member<'de>>);

impl<'de> ItemVisitor<'de> for Slot<'_, 'de> {
    type Error = Infallible;

    fn bare_item(
        self,
        bare_item: BareItemFromInput<'de>,
    ) -> Result<impl ParameterVisitor<'de>, Infallible> {
        if let Some(m) = self.0 {
            m.item = Some(bare_item);
        }
        Ok(Ignored)
    }
}

impl<'de> EntryVisitor<'de> for Slot<'_, 'de> {
    fn inner_list(self) -> Result<impl InnerListVisitor<'de>, Infallible> {
        Ok(ListSlot(self.0.map(|m| m.list.insert(Covered::default()))))
    }
}

struct ListSlot<'s, 'de>(Option<&'s mut Covered<'de>>);

impl<'de> InnerListVisitor<'de> for ListSlot<'_, 'de> {
    type Error = Infallible;

    fn item(&mut self) -> Result<impl ItemVisitor<'de>, Infallible> {
        Ok(ComponentSlot(self.0.as_deref_mut().map(|c| &mut c.items)))
    }

    fn finish(self) -> Result<impl ParameterVisitor<'de>, Infallible> {
        Ok(ParamSlot(self.0.map(|c| &mut c.params)))
    }
}

struct ComponentSlot<'s, 'de>(Option<&'s mut Vec<Component<'de>>>);

impl<'de> ItemVisitor<'de> for ComponentSlot<'_, 'de> {
    type Error = Infallible;

    fn bare_item(
        self,
        bare_item: BareItemFromInput<'de>,
    ) -> Result<impl ParameterVisitor<'de>, Infallible> {
        let params = self.0.and_then(|items| {
            items.push(Component {
                name: bare_item,
                params: Vec::new(),
            });
            items.last_mut().map(|c| &mut c.params)
        });
        Ok(ParamSlot(params))
    }
}

struct ParamSlot<'s, 'de>(Option<&'s mut Params<'de>>);

impl<'de> ParameterVisitor<'de> for ParamSlot<'_, 'de> {
    type Error = Infallible;

    fn parameter(
        &mut self,
        key: &'de KeyRef,
        value: BareItemFromInput<'de>,
    ) -> Result<(), Infallible> {
        if let Some(p) = self.0.as_deref_mut() {
            p.retain(|(k, _)| *k != key);
            p.push((key, value));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_inner_lists_items_and_keeps_the_last_duplicate() {
        let d = dictionary(
            r#"a=("@method" "x";key="k");created=1;keyid="id", b=:AAE=:, a=("@path");created=2"#,
        )
        .unwrap();
        assert_eq!(d.len(), 2);
        let (k, a) = &d[1];
        assert_eq!(k.as_str(), "a");
        let list = a.list.as_ref().unwrap();
        assert_eq!(list.items.len(), 1);
        assert_eq!(
            param(&list.params, "created").and_then(|v| v.as_integer()),
            Some(2.into())
        );
        assert_eq!(
            d[0].1.item.as_ref().and_then(|i| i.as_byte_sequence()),
            Some(&[0u8, 1][..])
        );
        assert!(dictionary("a=(").is_none());
    }
}
