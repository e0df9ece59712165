//! Renders an encoded AnyValue as one line of text: strings as they are, the rest
//! JSON-like. Record texts in the index and the detail pane both show values so.

use oculus_store::field;
use oculus_store::wire::{Reader, WireError, WireType};

use crate::model::TextWriter;

/// Why a value could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("a value could not be formatted")]
    Format(#[from] std::fmt::Error),
    #[error(transparent)]
    Metric(#[from] oculus_otlp::metric::MetricError),
}

/// Where a rendered value goes.
pub trait ValueText: std::fmt::Write {
    /// Appends text as it is stored: UTF-8, not checked.
    fn text_bytes(&mut self, text: &[u8]);

    /// Appends an integer in decimal.
    fn integer(&mut self, value: i64) -> std::fmt::Result {
        write!(self, "{value}")
    }
}

impl ValueText for TextWriter<'_> {
    fn text_bytes(&mut self, text: &[u8]) {
        TextWriter::text_bytes(self, text);
    }

    fn integer(&mut self, value: i64) -> std::fmt::Result {
        // Without the formatting machinery: record texts are written on every load.
        TextWriter::integer(self, value);
        Ok(())
    }
}

impl ValueText for String {
    fn text_bytes(&mut self, text: &[u8]) {
        self.push_str(&String::from_utf8_lossy(text));
    }
}

/// Renders an encoded AnyValue; one without a value renders as nothing.
pub fn render_value(bytes: &[u8], out: &mut impl ValueText) -> Result<(), RenderError> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut reader = Reader::new(bytes);
    // A oneof: the last value present wins, as in prost.
    let mut value = None;
    while let Some((number, wire)) = reader.field()? {
        match (number, wire) {
            (field::any_value::STRING_VALUE..=field::any_value::BYTES_VALUE, _) => {
                let start = reader.position();
                reader.skip(wire)?;
                value = Some((number, wire, start));
            }
            _ => reader.skip(wire)?,
        }
    }
    let Some((number, wire, start)) = value else {
        return Ok(());
    };
    let mut reader = Reader::new(&bytes[start..]);
    match (number, wire) {
        (field::any_value::STRING_VALUE, WireType::Len) => out.text_bytes(reader.bytes()?),
        (field::any_value::BOOL_VALUE, WireType::Varint) => {
            let text: &[u8] = if reader.varint()? != 0 {
                b"true"
            } else {
                b"false"
            };
            out.text_bytes(text);
        }
        (field::any_value::INT_VALUE, WireType::Varint) => out.integer(reader.varint()? as i64)?,
        (field::any_value::DOUBLE_VALUE, WireType::Fixed64) => {
            write!(out, "{}", f64::from_bits(reader.fixed64()?))?;
        }
        (field::any_value::ARRAY_VALUE, WireType::Len) => {
            let mut array = Reader::new(reader.bytes()?);
            out.text_bytes(b"[");
            let mut first = true;
            while let Some((number, wire)) = array.field()? {
                if (number, wire) != (field::array_value::VALUES, WireType::Len) {
                    array.skip(wire)?;
                    continue;
                }
                if !first {
                    out.text_bytes(b", ");
                }
                first = false;
                render_value(array.bytes()?, out)?;
            }
            out.text_bytes(b"]");
        }
        (field::any_value::KVLIST_VALUE, WireType::Len) => {
            let mut list = Reader::new(reader.bytes()?);
            out.text_bytes(b"{");
            let mut first = true;
            while let Some((number, wire)) = list.field()? {
                if (number, wire) != (field::key_value_list::VALUES, WireType::Len) {
                    list.skip(wire)?;
                    continue;
                }
                if !first {
                    out.text_bytes(b", ");
                }
                first = false;
                let (key, value) = key_value(list.bytes()?)?;
                // Keys show as their string reference, as they always have.
                write!(out, "#{key}: ")?;
                if let Some(value) = value {
                    render_value(value, out)?;
                }
            }
            out.text_bytes(b"}");
        }
        (field::any_value::BYTES_VALUE, WireType::Len) => {
            for &b in reader.bytes()? {
                out.text_bytes(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
            }
        }
        _ => return Err(WireError("AnyValue field of the wrong wire type").into()),
    }
    Ok(())
}

/// Whether an encoded AnyValue holds a value (an empty one is "not set").
pub fn has_value(bytes: &[u8]) -> bool {
    let mut reader = Reader::new(bytes);
    while let Ok(Some((number, wire))) = reader.field() {
        if (field::any_value::STRING_VALUE..=field::any_value::BYTES_VALUE).contains(&number) {
            return true;
        }
        if reader.skip(wire).is_err() {
            return false;
        }
    }
    false
}

/// A KeyValue's key reference and encoded value.
pub fn key_value(bytes: &[u8]) -> Result<(u64, Option<&[u8]>), WireError> {
    let mut reader = Reader::new(bytes);
    let (mut key, mut value) = (0, None);
    while let Some((number, wire)) = reader.field()? {
        match (number, wire) {
            (field::key_value::KEY, WireType::Varint) => key = reader.varint()?,
            (field::key_value::VALUE, WireType::Len) => value = Some(reader.bytes()?),
            _ => reader.skip(wire)?,
        }
    }
    Ok((key, value))
}
