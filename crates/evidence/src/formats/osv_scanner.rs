use crate::detect::Format;
use crate::error::ParseError;
use crate::{Evidence, Limits};

pub fn parse(_bytes: &[u8], _limits: &Limits) -> Result<Evidence, ParseError> {
    super::not_yet(Format::OsvScannerJson)
}
