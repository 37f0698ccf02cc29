//! A serde Deserializer over `serde_json::Value` whose errors describe a wrong value instead of quoting it.
//!
//! serde_json's own errors quote the input ("invalid type: string \"hunter2…\",
//! expected a sequence"); when a template renders a list of users as text, that
//! text holds their passwords. Here every error that would show an input value
//! says what kind of value it was and how long ("a string of 48 characters").

use serde::de::value::{MapDeserializer, SeqDeserializer, StringDeserializer};
use serde::de::{self, DeserializeSeed, Expected, IntoDeserializer, Unexpected, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};
use std::fmt;

/// A parameter error whose text never contains an input value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParamError(pub(crate) String);

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParamError {}

/// What an unexpected value was, without the value.
fn kind(u: &Unexpected) -> String {
    match u {
        Unexpected::Bool(_) => "a boolean".into(),
        Unexpected::Unsigned(_) | Unexpected::Signed(_) => "an integer".into(),
        Unexpected::Float(_) => "a number with a fraction".into(),
        Unexpected::Char(_) => "a character".into(),
        Unexpected::Str(s) => format!("a string of {} characters", s.chars().count()),
        Unexpected::Bytes(b) => format!("{} bytes", b.len()),
        Unexpected::Unit => "null".into(),
        Unexpected::Option => "an optional value".into(),
        Unexpected::NewtypeStruct => "a value".into(),
        Unexpected::Seq => "a list".into(),
        Unexpected::Map => "a mapping".into(),
        Unexpected::Enum => "a choice".into(),
        Unexpected::UnitVariant
        | Unexpected::NewtypeVariant
        | Unexpected::TupleVariant
        | Unexpected::StructVariant => "a choice".into(),
        // `Other` is a description chosen by the Deserialize impl, not an input value.
        Unexpected::Other(o) => (*o).to_owned(),
    }
}

impl de::Error for ParamError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ParamError(msg.to_string())
    }
    fn invalid_type(unexp: Unexpected, exp: &dyn Expected) -> Self {
        ParamError(format!("invalid type: {}, expected {exp}", kind(&unexp)))
    }
    fn invalid_value(unexp: Unexpected, exp: &dyn Expected) -> Self {
        ParamError(format!("invalid value: {}, expected {exp}", kind(&unexp)))
    }
    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let choices: Vec<String> = expected.iter().map(|c| format!("`{c}`")).collect();
        ParamError(format!(
            "unknown choice ({} characters), expected one of {}",
            variant.chars().count(),
            choices.join(", ")
        ))
    }
}

/// Deserializes a `serde_json::Value` with [`ParamError`] errors.
pub(crate) struct ValueDe(pub(crate) Value);

impl<'de> IntoDeserializer<'de, ParamError> for ValueDe {
    type Deserializer = ValueDe;
    fn into_deserializer(self) -> ValueDe {
        self
    }
}

fn visit_map<'de, V: Visitor<'de>>(m: Map<String, Value>, v: V) -> Result<V::Value, ParamError> {
    let mut access = MapDeserializer::new(m.into_iter().map(|(k, x)| (k, ValueDe(x))));
    let out = v.visit_map(&mut access)?;
    access.end()?;
    Ok(out)
}

fn visit_seq<'de, V: Visitor<'de>>(a: Vec<Value>, v: V) -> Result<V::Value, ParamError> {
    let mut access = SeqDeserializer::new(a.into_iter().map(ValueDe));
    let out = v.visit_seq(&mut access)?;
    access.end()?;
    Ok(out)
}

impl<'de> de::Deserializer<'de> for ValueDe {
    type Error = ParamError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ParamError> {
        match self.0 {
            Value::Null => v.visit_unit(),
            Value::Bool(b) => v.visit_bool(b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    v.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    v.visit_i64(i)
                } else {
                    v.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => v.visit_string(s),
            Value::Array(a) => visit_seq(a, v),
            Value::Object(m) => visit_map(m, v),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ParamError> {
        match self.0 {
            Value::Null => v.visit_none(),
            other => v.visit_some(ValueDe(other)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, ParamError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, ParamError> {
        match self.0 {
            Value::String(s) => v.visit_enum(StringDeserializer::<ParamError>::new(s)),
            Value::Object(m) if m.len() == 1 => v.visit_enum(OneKeyEnum(m)),
            other => Err(de::Error::invalid_type(unexpected(&other), &"a choice")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ParamError> {
        v.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

fn unexpected(v: &Value) -> Unexpected<'_> {
    match v {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match n.as_u64() {
            Some(u) => Unexpected::Unsigned(u),
            None => Unexpected::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// `{"variant": content}`: the externally tagged form of an enum with data.
struct OneKeyEnum(Map<String, Value>);

impl<'de> de::EnumAccess<'de> for OneKeyEnum {
    type Error = ParamError;
    type Variant = ValueDe;
    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, ValueDe), ParamError> {
        let Some((k, v)) = self.0.into_iter().next() else {
            return Err(de::Error::custom("expected a mapping with one key"));
        };
        let variant = seed.deserialize(StringDeserializer::<ParamError>::new(k))?;
        Ok((variant, ValueDe(v)))
    }
}

impl<'de> de::VariantAccess<'de> for ValueDe {
    type Error = ParamError;
    fn unit_variant(self) -> Result<(), ParamError> {
        match self.0 {
            Value::Null => Ok(()),
            other => Err(de::Error::invalid_type(unexpected(&other), &"no value")),
        }
    }
    fn newtype_variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<S::Value, ParamError> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, ParamError> {
        de::Deserializer::deserialize_any(self, v)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, ParamError> {
        de::Deserializer::deserialize_any(self, v)
    }
}
