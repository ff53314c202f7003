use crate::detect::Format;
use crate::error::ParseError;
use crate::{Evidence, Limits};

pub fn parse_xml(_bytes: &[u8], _limits: &Limits) -> Result<Evidence, ParseError> {
    super::not_yet(Format::ZapXml)
}

pub fn parse_json(_bytes: &[u8], _limits: &Limits) -> Result<Evidence, ParseError> {
    super::not_yet(Format::ZapJson)
}
