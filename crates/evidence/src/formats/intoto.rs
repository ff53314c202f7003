use crate::detect::Format;
use crate::error::ParseError;
use crate::{Evidence, Limits};

pub fn parse_dsse(_bytes: &[u8], _limits: &Limits) -> Result<Evidence, ParseError> {
    super::not_yet(Format::Dsse)
}

pub fn parse_statement(_bytes: &[u8], _limits: &Limits) -> Result<Evidence, ParseError> {
    super::not_yet(Format::IntotoStatement)
}

pub fn parse_jsonl(_bytes: &[u8], _limits: &Limits) -> Result<Evidence, ParseError> {
    super::not_yet(Format::IntotoJsonl)
}
