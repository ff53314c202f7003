use crate::detect::Format;
use crate::error::ParseError;
use crate::{Evidence, Limits};

pub fn parse_xml(_bytes: &[u8], _limits: &Limits) -> Result<Evidence, ParseError> {
    crate::formats::not_yet(Format::CyclonedxXml)
}
