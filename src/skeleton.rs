//! Checks a `weights.bin` against the network its `config.json` describes before burn decodes
//! it. burn trusts a record's tensor shapes and element types: a corrupt file that declares
//! another element type and a huge shape makes the decoder allocate the shape's size to convert
//! it, and the process aborts (found by fuzzing: 266 bytes asked for 9·10¹⁵). So the record of a
//! fresh network of the same configuration is serialized into its skeleton (every integer,
//! length, tag and variant, which a configuration fixes, and the kinds of the values, which it
//! does not), and the file is walked along it with bincode's own decoding of each primitive:
//! any difference is a file that does not fit the network, said as an error. Only the contents
//! of strings (parameter ids, metadata) and floating-point values may differ.

use serde::ser::{self, Serialize};

/// One step of the skeleton.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    /// An unsigned integer (bincode: a single byte for `u8`, else a varint) that must match.
    Unsigned { value: u128, byte: bool },
    /// A signed integer (zigzag varint; a single byte for `i8`) that must match.
    Signed { value: i128, byte: bool },
    /// A bool that must match.
    Bool(bool),
    /// A float of this many bytes: any value.
    Float(usize),
    /// A char: any value.
    Char,
    /// A string: any length and content.
    Str,
    /// A byte string of exactly this length (a tensor's data).
    Bytes(usize),
    /// `None` or `Some` (the value follows).
    Option(bool),
    /// An enum variant's index.
    Variant(u32),
    /// A sequence or map of this many entries.
    Len(usize),
}

/// A serde serializer that writes the skeleton of a value.
#[derive(Default)]
pub(crate) struct Skeleton {
    pub tokens: Vec<Token>,
}

/// Errors never occur while recording; the type serde requires.
#[derive(Debug)]
pub(crate) struct Never(String);

impl std::fmt::Display for Never {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Never {}

impl ser::Error for Never {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Never(msg.to_string())
    }
}

type R = Result<(), Never>;

impl Skeleton {
    fn push(&mut self, t: Token) -> R {
        self.tokens.push(t);
        Ok(())
    }
}

impl ser::Serializer for &mut Skeleton {
    type Ok = ();
    type Error = Never;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> R {
        self.push(Token::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> R {
        self.push(Token::Signed {
            value: v.into(),
            byte: true,
        })
    }
    fn serialize_i16(self, v: i16) -> R {
        self.serialize_i128(v.into())
    }
    fn serialize_i32(self, v: i32) -> R {
        self.serialize_i128(v.into())
    }
    fn serialize_i64(self, v: i64) -> R {
        self.serialize_i128(v.into())
    }
    fn serialize_i128(self, v: i128) -> R {
        self.push(Token::Signed {
            value: v,
            byte: false,
        })
    }
    fn serialize_u8(self, v: u8) -> R {
        self.push(Token::Unsigned {
            value: v.into(),
            byte: true,
        })
    }
    fn serialize_u16(self, v: u16) -> R {
        self.serialize_u128(v.into())
    }
    fn serialize_u32(self, v: u32) -> R {
        self.serialize_u128(v.into())
    }
    fn serialize_u64(self, v: u64) -> R {
        self.serialize_u128(v.into())
    }
    fn serialize_u128(self, v: u128) -> R {
        self.push(Token::Unsigned {
            value: v,
            byte: false,
        })
    }
    fn serialize_f32(self, _: f32) -> R {
        self.push(Token::Float(4))
    }
    fn serialize_f64(self, _: f64) -> R {
        self.push(Token::Float(8))
    }
    fn serialize_char(self, _: char) -> R {
        self.push(Token::Char)
    }
    fn serialize_str(self, _: &str) -> R {
        self.push(Token::Str)
    }
    fn serialize_bytes(self, v: &[u8]) -> R {
        self.push(Token::Bytes(v.len()))
    }
    fn serialize_none(self) -> R {
        self.push(Token::Option(false))
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> R {
        self.push(Token::Option(true))?;
        value.serialize(self)
    }
    fn serialize_unit(self) -> R {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> R {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, index: u32, _: &'static str) -> R {
        self.push(Token::Variant(index))
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, value: &T) -> R {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        value: &T,
    ) -> R {
        self.push(Token::Variant(index))?;
        value.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self, Never> {
        let len = len.ok_or_else(|| Never("a sequence of unknown length".into()))?;
        self.push(Token::Len(len))?;
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self, Never> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, Never> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, Never> {
        self.push(Token::Variant(index))?;
        Ok(self)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self, Never> {
        self.serialize_seq(len)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Never> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, Never> {
        self.push(Token::Variant(index))?;
        Ok(self)
    }
}

macro_rules! compound {
    ($($tr:ident :: $m:ident),*) => {$(
        impl ser::$tr for &mut Skeleton {
            type Ok = ();
            type Error = Never;
            fn $m<T: ?Sized + Serialize>(&mut self, value: &T) -> R {
                value.serialize(&mut **self)
            }
            fn end(self) -> R {
                Ok(())
            }
        }
    )*};
}

compound!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for &mut Skeleton {
    type Ok = ();
    type Error = Never;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> R {
        key.serialize(&mut **self)
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> R {
        value.serialize(&mut **self)
    }
    fn end(self) -> R {
        Ok(())
    }
}

impl ser::SerializeStruct for &mut Skeleton {
    type Ok = ();
    type Error = Never;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, _: &'static str, value: &T) -> R {
        value.serialize(&mut **self)
    }
    fn end(self) -> R {
        Ok(())
    }
}

impl ser::SerializeStructVariant for &mut Skeleton {
    type Ok = ();
    type Error = Never;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, _: &'static str, value: &T) -> R {
        value.serialize(&mut **self)
    }
    fn end(self) -> R {
        Ok(())
    }
}

/// The skeleton of `value` as serde serializes it.
pub(crate) fn skeleton<T: Serialize>(value: &T) -> Result<Vec<Token>, String> {
    let mut s = Skeleton::default();
    value.serialize(&mut s).map_err(|e| e.0)?;
    Ok(s.tokens)
}

/// Walks `bytes` (bincode, standard configuration) along `tokens`; the first difference as an
/// error naming the byte offset.
pub(crate) fn check(bytes: &[u8], tokens: &[Token]) -> Result<(), String> {
    let cfg = bincode::config::standard();
    let mut pos = 0usize;
    let short = |pos: usize| format!("it ends early (at byte {pos})");
    macro_rules! decode {
        ($t:ty) => {{
            let (v, n): ($t, usize) = bincode::decode_from_slice(&bytes[pos..], cfg)
                .map_err(|_| format!("unreadable at byte {pos}"))?;
            pos += n;
            v
        }};
    }
    let skip = |pos: &mut usize, n: usize| -> Result<(), String> {
        if bytes.len() - *pos < n {
            return Err(short(*pos));
        }
        *pos += n;
        Ok(())
    };
    for t in tokens {
        let at = pos;
        // every token takes at least one byte
        if pos >= bytes.len() {
            return Err(short(pos));
        }
        let same = match *t {
            Token::Unsigned { value, byte: true } => u128::from(decode!(u8)) == value,
            Token::Unsigned { value, byte: false } => decode!(u128) == value,
            Token::Signed { value, byte: true } => i128::from(decode!(i8)) == value,
            Token::Signed { value, byte: false } => decode!(i128) == value,
            Token::Bool(b) => decode!(bool) == b,
            Token::Float(n) => {
                skip(&mut pos, n)?;
                true
            }
            Token::Char => {
                let _: char = decode!(char);
                true
            }
            Token::Str => {
                let n = decode!(u64);
                let n = usize::try_from(n).map_err(|_| short(pos))?;
                skip(&mut pos, n)?;
                true
            }
            Token::Bytes(len) => {
                let n = decode!(u64);
                if n != len as u64 {
                    false
                } else {
                    skip(&mut pos, len)?;
                    true
                }
            }
            Token::Option(some) => decode!(u8) == u8::from(some),
            Token::Variant(i) => decode!(u32) == i,
            Token::Len(n) => decode!(u64) == n as u64,
        };
        if !same {
            return Err(format!(
                "byte {at} does not fit the network of config.json (a tensor's shape, type or \
                 size differs)"
            ));
        }
    }
    if pos != bytes.len() {
        return Err(format!(
            "{} bytes follow the network's last tensor",
            bytes.len() - pos
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A byte string, serialized as bytes (as burn's tensor data is).
    struct Raw(Vec<u8>);

    impl serde::Serialize for Raw {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }

    #[derive(serde::Serialize)]
    struct Tensor {
        bytes: Raw,
        shape: Vec<usize>,
        kind: Kind,
        name: String,
        scale: Option<f32>,
    }

    #[derive(serde::Serialize, Clone, Copy)]
    enum Kind {
        F32,
        F64,
    }

    fn encode(t: &Tensor) -> Vec<u8> {
        bincode::serde::encode_to_vec(t, bincode::config::standard()).unwrap()
    }

    fn tensor(shape: Vec<usize>, kind: Kind, name: &str) -> Tensor {
        let n: usize = shape.iter().product();
        Tensor {
            bytes: Raw(vec![7; n * 4]),
            shape,
            kind,
            name: name.into(),
            scale: Some(0.5),
        }
    }

    #[test]
    fn a_file_of_the_same_network_fits_and_any_other_shape_or_type_does_not() {
        let template = skeleton(&tensor(vec![3, 300], Kind::F32, "a")).unwrap();
        // other values and strings: fits
        let mut other = tensor(vec![3, 300], Kind::F32, "a much longer parameter id");
        other.bytes = Raw(vec![1; 3600]);
        other.scale = Some(-3.0);
        assert_eq!(check(&encode(&other), &template), Ok(()));
        // another shape, type, size or option; trailing or missing bytes: refused
        let bad = [
            encode(&tensor(vec![3, 301], Kind::F32, "a")),
            encode(&tensor(vec![300, 3], Kind::F32, "a")),
            encode(&tensor(vec![3, 300], Kind::F64, "a")),
            encode(&Tensor {
                scale: None,
                ..tensor(vec![3, 300], Kind::F32, "a")
            }),
            [encode(&other), vec![0]].concat(),
            encode(&other)[..100].to_vec(),
            vec![],
        ];
        for (i, b) in bad.iter().enumerate() {
            assert!(check(b, &template).is_err(), "case {i}");
        }
        // a huge shape that burn would try to allocate: refused without allocating
        let mut huge = encode(&tensor(vec![3, 300], Kind::F32, "a"));
        let at = 1 + 2 + 3600 + 1; // bytes' varint length (251 + u16), data, shape's length
        assert_eq!(huge[at], 3);
        huge[at] = 253; // u64 follows
        huge.splice(at + 1..at + 1, u64::MAX.to_le_bytes());
        assert!(check(&huge, &template).is_err());
    }
}
