//! Just enough of the protobuf wire format to read OTLP and blocks and to write
//! blocks, without materializing any of them as structs.
//!
//! Every function is `#[inline]`: the collector's transcoder and the viewer's scanner
//! call them per field from other crates, where only inline functions can be inlined.

/// A protobuf wire type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireType {
    Varint,
    Fixed64,
    Len,
    Fixed32,
    /// The start of a group (proto2's deprecated nesting, never written here): only
    /// ever skipped, to its end, as prost skips it.
    StartGroup,
}

/// How deep groups may nest in a field that is skipped; prost allows less, counting
/// messages and groups together.
const MAX_GROUP_DEPTH: u32 = 100;

/// Malformed protobuf input.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid protobuf: {0}")]
pub struct WireError(pub &'static str);

/// Reads fields from one message's bytes.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// The number of the last field read, for skipping it when it is a group.
    number: u32,
}

impl<'a> Reader<'a> {
    #[inline]
    pub fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            pos: 0,
            number: 0,
        }
    }

    /// The next field's number and wire type, or `None` at the end of the message.
    #[inline(always)]
    pub fn field(&mut self) -> Result<Option<(u32, WireType)>, WireError> {
        let Some(&byte) = self.data.get(self.pos) else {
            return Ok(None);
        };
        // Fields 1 to 15 have one-byte keys: nearly every field of OTLP and of blocks.
        let key = if byte < 0x80 {
            self.pos += 1;
            u64::from(byte)
        } else {
            self.varint()?
        };
        let (number, wire) = field_key(key)?;
        self.number = number;
        Ok(Some((number, wire)))
    }

    /// Whether every byte was read.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The offset of the next byte to read.
    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }

    #[inline(always)]
    pub fn varint(&mut self) -> Result<u64, WireError> {
        // Most varints here (tags, lengths, small numbers) are one byte.
        if let Some(&byte) = self.data.get(self.pos)
            && byte < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(byte));
        }
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = *self
                .data
                .get(self.pos)
                .ok_or(WireError("truncated varint"))?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(WireError("varint longer than 10 bytes"))
    }

    #[inline(always)]
    fn take(&mut self, len: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|end| *end <= self.data.len())
            .ok_or(WireError("truncated field"))?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    #[inline]
    pub fn fixed64(&mut self) -> Result<u64, WireError> {
        let bytes = self.take(8)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(array))
    }

    #[inline]
    pub fn fixed32(&mut self) -> Result<u32, WireError> {
        let bytes = self.take(4)?;
        let mut array = [0u8; 4];
        array.copy_from_slice(bytes);
        Ok(u32::from_le_bytes(array))
    }

    #[inline(always)]
    pub fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = usize::try_from(self.varint()?).map_err(|_| WireError("length out of range"))?;
        self.take(len)
    }

    #[inline]
    pub fn string(&mut self) -> Result<&'a str, WireError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| WireError("string is not UTF-8"))
    }

    /// A string field's bytes, checked to be UTF-8, for callers that only copy them.
    #[inline]
    pub fn utf8(&mut self) -> Result<&'a [u8], WireError> {
        let bytes = self.bytes()?;
        check_utf8(bytes)?;
        Ok(bytes)
    }

    /// Skips the value of the field just read.
    #[inline]
    pub fn skip(&mut self, wire: WireType) -> Result<(), WireError> {
        match wire {
            WireType::Varint => self.varint().map(drop),
            WireType::Fixed64 => self.take(8).map(drop),
            WireType::Len => self.bytes().map(drop),
            WireType::Fixed32 => self.take(4).map(drop),
            WireType::StartGroup => self.skip_group(self.number, 1),
        }
    }

    /// Skips the fields of group `number` and its end, `depth` groups deep.
    fn skip_group(&mut self, number: u32, depth: u32) -> Result<(), WireError> {
        if depth > MAX_GROUP_DEPTH {
            return Err(WireError("groups nested too deep"));
        }
        loop {
            let key = self.varint()?;
            if key & 7 == END_GROUP {
                return if key >> 3 == u64::from(number) {
                    Ok(())
                } else {
                    Err(WireError("a group ends with another's number"))
                };
            }
            match field_key(key)? {
                (inner, WireType::StartGroup) => self.skip_group(inner, depth + 1)?,
                (_, wire) => self.skip(wire)?,
            }
        }
    }
}

/// The wire type of a group's end.
const END_GROUP: u64 = 4;

#[inline]
fn field_key(key: u64) -> Result<(u32, WireType), WireError> {
    let wire = match key & 7 {
        0 => WireType::Varint,
        1 => WireType::Fixed64,
        2 => WireType::Len,
        5 => WireType::Fixed32,
        3 => WireType::StartGroup,
        END_GROUP => return Err(WireError("a group ends that was not started")),
        _ => return Err(WireError("unsupported wire type")),
    };
    let number = u32::try_from(key >> 3).map_err(|_| WireError("field number out of range"))?;
    if number == 0 {
        return Err(WireError("field number 0"));
    }
    Ok((number, wire))
}

/// Checks that `bytes` are UTF-8. Most strings in telemetry are ASCII, which is
/// checked a word at a time before the full validation is needed.
#[inline]
pub fn check_utf8(bytes: &[u8]) -> Result<(), WireError> {
    if bytes.is_ascii() || std::str::from_utf8(bytes).is_ok() {
        Ok(())
    } else {
        Err(WireError("string is not UTF-8"))
    }
}

/// Where a length-delimited field's length goes, and the bytes reserved for it.
#[derive(Clone, Copy, Debug)]
pub struct LenMark {
    at: usize,
    width: usize,
}

/// Appends protobuf fields to a buffer.
pub trait Writer {
    fn put_varint(&mut self, value: u64);
    fn put_tag(&mut self, field: u32, wire: WireType);
    /// Starts a length-delimited field; `end_len` finishes it.
    #[inline]
    fn begin_len(&mut self, field: u32) -> LenMark {
        // One byte is reserved for the length: most nested messages are short.
        self.begin_len_sized(field, 0)
    }
    /// Starts a length-delimited field whose content is expected to be about
    /// `expected_len` bytes long: room for that length is reserved, so `end_len`
    /// moves nothing when the guess has the right number of varint bytes.
    fn begin_len_sized(&mut self, field: u32, expected_len: usize) -> LenMark;
    fn end_len(&mut self, mark: LenMark);

    #[inline]
    fn put_uint(&mut self, field: u32, value: u64) {
        if value != 0 {
            self.put_tag(field, WireType::Varint);
            self.put_varint(value);
        }
    }

    /// An `int32` (enum) field; negative values take ten bytes, as protobuf says.
    #[inline]
    fn put_int32(&mut self, field: u32, value: i32) {
        self.put_uint(field, i64::from(value) as u64);
    }

    #[inline]
    fn put_sint64(&mut self, field: u32, value: i64) {
        self.put_uint(field, zigzag_encode(value));
    }

    /// An `optional sint64`: written when present, even as 0.
    #[inline]
    fn put_optional_sint64(&mut self, field: u32, value: Option<i64>) {
        if let Some(value) = value {
            self.put_tag(field, WireType::Varint);
            self.put_varint(zigzag_encode(value));
        }
    }

    fn put_fixed64(&mut self, field: u32, value: u64);
    fn put_fixed32(&mut self, field: u32, value: u32);
    fn put_bytes(&mut self, field: u32, bytes: &[u8]);
}

/// An `sint64` as its varint: small magnitudes of either sign stay short.
#[inline]
pub fn zigzag_encode(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// The `sint64` a varint read from the wire stands for.
#[inline]
pub fn zigzag_decode(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

#[inline]
fn wire_code(wire: WireType) -> u64 {
    match wire {
        WireType::Varint => 0,
        WireType::Fixed64 => 1,
        WireType::Len => 2,
        WireType::Fixed32 => 5,
        WireType::StartGroup => 3,
    }
}

#[inline]
fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

impl Writer for Vec<u8> {
    #[inline]
    fn put_varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.push(value as u8);
    }

    #[inline]
    fn put_tag(&mut self, field: u32, wire: WireType) {
        self.put_varint((u64::from(field) << 3) | wire_code(wire));
    }

    #[inline]
    fn begin_len_sized(&mut self, field: u32, expected_len: usize) -> LenMark {
        self.put_tag(field, WireType::Len);
        let at = self.len();
        let width = varint_len(expected_len as u64);
        self.resize(at + width, 0);
        LenMark { at, width }
    }

    #[inline]
    fn end_len(&mut self, mark: LenMark) {
        let content_start = mark.at + mark.width;
        let len = self.len() - content_start;
        if mark.width == 1 && len < 0x80 {
            self[mark.at] = len as u8;
            return;
        }
        let width = varint_len(len as u64);
        if width != mark.width {
            // The guess was wrong: move the content so the length stays minimal.
            let content_end = self.len();
            if width > mark.width {
                self.resize(content_end + width - mark.width, 0);
            }
            self.copy_within(content_start..content_end, mark.at + width);
            self.truncate(mark.at + width + len);
        }
        let mut value = len as u64;
        for slot in &mut self[mark.at..mark.at + width] {
            *slot = (value as u8 & 0x7f) | if value >= 0x80 { 0x80 } else { 0 };
            value >>= 7;
        }
    }

    #[inline]
    fn put_fixed64(&mut self, field: u32, value: u64) {
        if value != 0 {
            self.put_tag(field, WireType::Fixed64);
            self.extend_from_slice(&value.to_le_bytes());
        }
    }

    #[inline]
    fn put_fixed32(&mut self, field: u32, value: u32) {
        if value != 0 {
            self.put_tag(field, WireType::Fixed32);
            self.extend_from_slice(&value.to_le_bytes());
        }
    }

    #[inline]
    fn put_bytes(&mut self, field: u32, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.put_tag(field, WireType::Len);
            self.put_varint(bytes.len() as u64);
            self.extend_from_slice(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_lengths_of_every_width_read_back() {
        for len in [0usize, 1, 127, 128, 300, 16_383, 16_384, 2_097_152] {
            let mut out = Vec::new();
            let mark = out.begin_len(3);
            out.extend(std::iter::repeat_n(7u8, len));
            out.end_len(mark);
            let mut reader = Reader::new(&out);
            assert_eq!(reader.field(), Ok(Some((3, WireType::Len))));
            let body = reader.bytes().expect("body");
            assert_eq!(body.len(), len);
            assert!(body.iter().all(|b| *b == 7));
            assert_eq!(reader.field(), Ok(None));
        }
    }

    #[test]
    fn lengths_guessed_wrong_are_still_minimal() {
        for (guess, len) in [
            (0usize, 300usize),
            (300, 5),
            (300, 200),
            (20_000, 100),
            (5, 5),
        ] {
            let mut out = vec![9u8];
            let mark = out.begin_len_sized(3, guess);
            out.extend(std::iter::repeat_n(7u8, len));
            out.end_len(mark);
            out.push(1);
            let mut expected = vec![9u8, 3 << 3 | 2];
            prost::encoding::encode_varint(len as u64, &mut expected);
            expected.extend(std::iter::repeat_n(7u8, len));
            expected.push(1);
            assert_eq!(out, expected, "guess {guess}, length {len}");
        }
    }

    /// Groups in fields a reader skips are skipped as prost skips them (found by
    /// fuzzing the transcoder, FUZZING.md: it refused requests prost decodes).
    #[test]
    fn groups_are_skipped_as_prost_skips_them() {
        fn skips_all(bytes: &[u8]) -> bool {
            let mut reader = Reader::new(bytes);
            loop {
                match reader.field() {
                    Ok(None) => return true,
                    Ok(Some((_, wire))) => {
                        if reader.skip(wire).is_err() {
                            return false;
                        }
                    }
                    Err(_) => return false,
                }
            }
        }
        let start = |number: u8| number << 3 | 3;
        let end = |number: u8| number << 3 | 4;
        let cases: [(&str, Vec<u8>, bool); 7] = [
            ("empty", vec![start(9), end(9)], true),
            (
                "fields inside",
                vec![start(9), 1 << 3, 7, 2 << 3 | 2, 1, 0xff, end(9), 1 << 3, 1],
                true,
            ),
            ("nested", vec![start(9), start(3), end(3), end(9)], true),
            ("ends with another number", vec![start(9), end(8)], false),
            ("ends without a start", vec![end(9)], false),
            ("never ends", vec![start(9), 1 << 3, 7], false),
            ("field number 0 inside", vec![start(9), 0, 0, end(9)], false),
        ];
        for (name, bytes, valid) in cases {
            assert_eq!(skips_all(&bytes), valid, "{name}");
            assert_eq!(
                <() as prost::Message>::decode(bytes.as_slice()).is_ok(),
                valid,
                "{name}"
            );
        }
        let mut deep = vec![start(9); MAX_GROUP_DEPTH as usize + 1];
        deep.extend(vec![end(9); MAX_GROUP_DEPTH as usize + 1]);
        assert!(!skips_all(&deep), "nested deeper than the limit");
    }

    #[test]
    fn varints_and_zigzag_match_prost() {
        for value in [0i64, 1, -1, 63, -64, 64, i64::MAX, i64::MIN] {
            let mut ours = Vec::new();
            ours.put_sint64(1, value);
            let mut theirs = Vec::new();
            if value != 0 {
                prost::encoding::sint64::encode(1, &value, &mut theirs);
            }
            assert_eq!(ours, theirs, "{value}");
            assert_eq!(zigzag_decode(zigzag_encode(value)), value);
        }
        for value in [0i32, 5, -1, i32::MIN] {
            let mut ours = Vec::new();
            ours.put_int32(2, value);
            let mut theirs = Vec::new();
            if value != 0 {
                prost::encoding::int32::encode(2, &value, &mut theirs);
            }
            assert_eq!(ours, theirs, "{value}");
        }
    }
}
