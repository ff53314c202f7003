//! Building the engine's values straight from Rust data, without JSON text in between.
//!
//! A decision's input (1,000 components, 300 findings) used to be serialized to JSON and
//! parsed again by regorus: two passes over a few megabytes of text for every new evidence set.
//! [`to_value`] is a `serde::Serializer` whose output is a [`regorus::Value`], so the input is
//! walked once. No crate does this (regorus only deserializes), hence this module.
//!
//! The result is the value the JSON round trip gives, value for value: `None` and unit are
//! `null`, non-finite floats are `null` (as serde_json writes them), an `f32` is the shortest
//! decimal that reads back as it (as serde_json writes it), map keys must be strings, chars,
//! booleans or integers (written as strings, as serde_json does), enums take serde_json's
//! external tagging. `tests::matches_json_round_trip` and the tests of
//! `crates/firewall/tests/reuse.rs` (every corpus evidence file's input) hold it to that.

use std::collections::HashMap;
use std::fmt;

use regorus::{Rc, Value};
use serde::ser::{self, Serialize};

/// Why a value could not be converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError(String);

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValueError {}

impl ser::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

/// `value` as the engine's [`Value`], as if written as JSON and read back.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, ValueError> {
    let mut keys = Keys::default();
    value.serialize(Builder { keys: &mut keys })
}

/// Object keys met so far: struct field names are few and repeated on every element, so each
/// is allocated once per conversion and shared (as regorus's own JSON reader interns keys).
#[derive(Default)]
struct Keys {
    fields: HashMap<&'static str, Value>,
}

impl Keys {
    fn field(&mut self, name: &'static str) -> Value {
        self.fields
            .entry(name)
            .or_insert_with(|| Value::String(Rc::from(name)))
            .clone()
    }
}

struct Builder<'k> {
    keys: &'k mut Keys,
}

fn string(s: &str) -> Value {
    Value::String(Rc::from(s))
}

fn float(v: f64) -> Value {
    if v.is_finite() {
        Value::from(v)
    } else {
        Value::Null
    }
}

fn signed(v: i64) -> Value {
    // serde_json reads a non-negative integer as u64: keep the same representation.
    match u64::try_from(v) {
        Ok(u) => Value::from(u),
        Err(_) => Value::from(v),
    }
}

impl<'k> ser::Serializer for Builder<'k> {
    type Ok = Value;
    type Error = ValueError;
    type SerializeSeq = Seq<'k>;
    type SerializeTuple = Seq<'k>;
    type SerializeTupleStruct = Seq<'k>;
    type SerializeTupleVariant = TaggedSeq<'k>;
    type SerializeMap = Map<'k>;
    type SerializeStruct = Map<'k>;
    type SerializeStructVariant = TaggedMap<'k>;

    fn serialize_bool(self, v: bool) -> Result<Value, ValueError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, ValueError> {
        Ok(signed(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, ValueError> {
        Ok(signed(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, ValueError> {
        Ok(signed(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, ValueError> {
        Ok(signed(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Value, ValueError> {
        Ok(match (u64::try_from(v), i64::try_from(v)) {
            (Ok(u), _) => Value::from(u),
            (_, Ok(i)) => Value::from(i),
            _ => Value::from(v),
        })
    }
    fn serialize_u8(self, v: u8) -> Result<Value, ValueError> {
        Ok(Value::from(u64::from(v)))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, ValueError> {
        Ok(Value::from(u64::from(v)))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, ValueError> {
        Ok(Value::from(u64::from(v)))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result<Value, ValueError> {
        Ok(match u64::try_from(v) {
            Ok(u) => Value::from(u),
            Err(_) => Value::from(v),
        })
    }
    fn serialize_f32(self, v: f32) -> Result<Value, ValueError> {
        if !v.is_finite() {
            return Ok(Value::Null);
        }
        // serde_json writes the shortest decimal of the f32, which reads back as an f64
        // that is not `v as f64` (0.1f32 is written "0.1"): go through that decimal.
        let text = v.to_string();
        text.parse::<f64>()
            .map(float)
            .map_err(|e| ValueError(format!("float {v}: {e}")))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, ValueError> {
        Ok(float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, ValueError> {
        Ok(string(v.encode_utf8(&mut [0; 4])))
    }
    fn serialize_str(self, v: &str) -> Result<Value, ValueError> {
        Ok(string(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, ValueError> {
        Ok(Value::from(
            v.iter()
                .map(|b| Value::from(u64::from(*b)))
                .collect::<Vec<_>>(),
        ))
    }
    fn serialize_none(self) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, ValueError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, ValueError> {
        Ok(self.keys.field(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        let key = self.keys.field(variant);
        let inner = value.serialize(Builder { keys: self.keys })?;
        let mut object = regorus::value::Object::new();
        object.insert(key, inner);
        Ok(Value::from(object))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Seq<'k>, ValueError> {
        Ok(Seq {
            keys: self.keys,
            items: Vec::with_capacity(len.unwrap_or(0)),
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq<'k>, ValueError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Seq<'k>, ValueError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<TaggedSeq<'k>, ValueError> {
        let tag = self.keys.field(variant);
        Ok(TaggedSeq {
            tag,
            seq: Seq {
                keys: self.keys,
                items: Vec::with_capacity(len),
            },
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Map<'k>, ValueError> {
        Ok(Map {
            keys: self.keys,
            object: regorus::value::Object::new(),
            pending: None,
        })
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Map<'k>, ValueError> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<TaggedMap<'k>, ValueError> {
        let tag = self.keys.field(variant);
        Ok(TaggedMap {
            tag,
            map: Map {
                keys: self.keys,
                object: regorus::value::Object::new(),
                pending: None,
            },
        })
    }
}

struct Seq<'k> {
    keys: &'k mut Keys,
    items: Vec<Value>,
}

impl Seq<'_> {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.items
            .push(value.serialize(Builder { keys: self.keys })?);
        Ok(())
    }
}

impl ser::SerializeSeq for Seq<'_> {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::from(self.items))
    }
}

impl ser::SerializeTuple for Seq<'_> {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::from(self.items))
    }
}

impl ser::SerializeTupleStruct for Seq<'_> {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::from(self.items))
    }
}

struct TaggedSeq<'k> {
    tag: Value,
    seq: Seq<'k>,
}

impl ser::SerializeTupleVariant for TaggedSeq<'_> {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.seq.push(value)
    }
    fn end(self) -> Result<Value, ValueError> {
        let mut object = regorus::value::Object::new();
        object.insert(self.tag, Value::from(self.seq.items));
        Ok(Value::from(object))
    }
}

struct Map<'k> {
    keys: &'k mut Keys,
    object: regorus::value::Object,
    /// The key of `serialize_key` until its `serialize_value`.
    pending: Option<Value>,
}

impl Map<'_> {
    fn field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        let key = self.keys.field(name);
        let value = value.serialize(Builder { keys: self.keys })?;
        self.object.insert(key, value);
        Ok(())
    }
}

impl ser::SerializeMap for Map<'_> {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ValueError> {
        self.pending = Some(key.serialize(KeyBuilder)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        let key = self
            .pending
            .take()
            .ok_or_else(|| ValueError("a map value without its key".into()))?;
        let value = value.serialize(Builder { keys: self.keys })?;
        self.object.insert(key, value);
        Ok(())
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::from(self.object))
    }
}

impl ser::SerializeStruct for Map<'_> {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.field(name, value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::from(self.object))
    }
}

struct TaggedMap<'k> {
    tag: Value,
    map: Map<'k>,
}

impl ser::SerializeStructVariant for TaggedMap<'_> {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.map.field(name, value)
    }
    fn end(self) -> Result<Value, ValueError> {
        let mut object = regorus::value::Object::new();
        object.insert(self.tag, Value::from(self.map.object));
        Ok(Value::from(object))
    }
}

/// A map key: a JSON object key is a string, so keys are written as serde_json writes them.
struct KeyBuilder;

fn key_error() -> ValueError {
    ValueError("a map key must be a string, a number, a boolean or a char".into())
}

impl ser::Serializer for KeyBuilder {
    type Ok = Value;
    type Error = ValueError;
    type SerializeSeq = ser::Impossible<Value, ValueError>;
    type SerializeTuple = ser::Impossible<Value, ValueError>;
    type SerializeTupleStruct = ser::Impossible<Value, ValueError>;
    type SerializeTupleVariant = ser::Impossible<Value, ValueError>;
    type SerializeMap = ser::Impossible<Value, ValueError>;
    type SerializeStruct = ser::Impossible<Value, ValueError>;
    type SerializeStructVariant = ser::Impossible<Value, ValueError>;

    fn serialize_bool(self, v: bool) -> Result<Value, ValueError> {
        Ok(string(if v { "true" } else { "false" }))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, ValueError> {
        Ok(string(&v.to_string()))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, ValueError> {
        Ok(string(&v.to_string()))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, ValueError> {
        Ok(string(&v.to_string()))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, ValueError> {
        Ok(string(&v.to_string()))
    }
    fn serialize_i128(self, v: i128) -> Result<Value, ValueError> {
        Ok(string(&v.to_string()))
    }
    fn serialize_u8(self, v: u8) -> Result<Value, ValueError> {
        Ok(string(&v.to_string()))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, ValueError> {
        Ok(string(&v.to_string()))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, ValueError> {
        Ok(string(&v.to_string()))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, ValueError> {
        Ok(string(&v.to_string()))
    }
    fn serialize_u128(self, v: u128) -> Result<Value, ValueError> {
        Ok(string(&v.to_string()))
    }
    fn serialize_f32(self, _v: f32) -> Result<Value, ValueError> {
        Err(key_error())
    }
    fn serialize_f64(self, _v: f64) -> Result<Value, ValueError> {
        Err(key_error())
    }
    fn serialize_char(self, v: char) -> Result<Value, ValueError> {
        Ok(string(v.encode_utf8(&mut [0; 4])))
    }
    fn serialize_str(self, v: &str) -> Result<Value, ValueError> {
        Ok(string(v))
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<Value, ValueError> {
        Err(key_error())
    }
    fn serialize_none(self) -> Result<Value, ValueError> {
        Err(key_error())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<Value, ValueError> {
        Err(key_error())
    }
    fn serialize_unit(self) -> Result<Value, ValueError> {
        Err(key_error())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, ValueError> {
        Err(key_error())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, ValueError> {
        Ok(string(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<Value, ValueError> {
        Err(key_error())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, ValueError> {
        Err(key_error())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, ValueError> {
        Err(key_error())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, ValueError> {
        Err(key_error())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, ValueError> {
        Err(key_error())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, ValueError> {
        Err(key_error())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, ValueError> {
        Err(key_error())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, ValueError> {
        Err(key_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn round_trip<T: Serialize>(v: &T) -> Value {
        let json = serde_json::to_string(v).expect("serializes");
        Value::from_json_str(&json).expect("reads back")
    }

    #[derive(serde::Serialize)]
    enum Kind {
        Unit,
        New(u8),
        Tuple(i32, String),
        Struct { a: Option<bool>, b: f64 },
    }

    #[derive(serde::Serialize)]
    struct Sample {
        name: String,
        count: u64,
        delta: i64,
        ratio: f64,
        small: f32,
        missing: Option<String>,
        nan: f64,
        list: Vec<Kind>,
        by_id: BTreeMap<u32, String>,
        flags: BTreeMap<bool, u8>,
        letter: char,
        nested: serde_json::Value,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
        big: i128,
        unit: (),
    }

    #[test]
    fn matches_json_round_trip() {
        let sample = Sample {
            name: "log4j-core \u{e9}\"\\\n".into(),
            count: u64::MAX,
            delta: -42,
            ratio: 0.1 + 0.2,
            small: 0.1,
            missing: None,
            nan: f64::NAN,
            list: vec![
                Kind::Unit,
                Kind::New(7),
                Kind::Tuple(-1, "x".into()),
                Kind::Struct {
                    a: Some(true),
                    b: 1e300,
                },
                Kind::Struct { a: None, b: -0.0 },
            ],
            by_id: [(3, "c".to_string()), (1, "a".to_string())].into(),
            flags: [(true, 1), (false, 0)].into(),
            letter: '\u{1F600}',
            nested: serde_json::json!({"k": [1, -2, 3.5, null, {"z": "y"}], "": true}),
            skipped: None,
            big: -170_141_183_460_469_231_731_687_303_715_884_105_728,
            unit: (),
        };
        let direct = to_value(&sample).expect("converts");
        assert_eq!(direct, round_trip(&sample));
        // The same in JSON text too, so representation differences that `==` might hide show.
        assert_eq!(
            direct.to_json_str().expect("writes"),
            round_trip(&sample).to_json_str().expect("writes")
        );
    }

    #[test]
    fn refuses_keys_json_cannot_hold() {
        let map: BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into();
        assert!(to_value(&map).is_err());
        assert!(serde_json::to_string(&map).is_err());
    }
}
