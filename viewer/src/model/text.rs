//! Each record's searchable text: written once, cut and cleaned, into append-only
//! chunks that a search scans whole.

/// Separates one attribute from the next in a record's text.
pub const FIELD_SEPARATOR: u8 = 0x1f;
/// Separates an attribute's key from its value in a record's text.
pub const VALUE_SEPARATOR: u8 = 0x1e;
/// Text chunks are this large; a record's text never spans two.
const CHUNK_BYTES: usize = 16 << 20;
/// Longer texts are cut, so one record cannot fill a chunk.
const MAX_TEXT_BYTES: usize = 64 << 10;

/// Where a record's text lives, in 12 bytes: a 40-bit arena offset, a 24-bit length
/// (the whole text: the display text, then the attributes) and the display text's
/// length (message or span name). Entries are most of the index, so every byte counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TextRef {
    words: [u32; 3],
}

impl TextRef {
    fn new(start: u64, len: u32, display_len: u32) -> Self {
        let packed = (start << 24) | u64::from(len & 0xff_ffff);
        Self {
            words: [(packed >> 32) as u32, packed as u32, display_len],
        }
    }

    fn packed(self) -> u64 {
        (u64::from(self.words[0]) << 32) | u64::from(self.words[1])
    }

    /// Global arena offset.
    pub fn start(self) -> u64 {
        self.packed() >> 24
    }

    pub fn len(self) -> u32 {
        (self.packed() & 0xff_ffff) as u32
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    pub fn display_len(self) -> u32 {
        self.words[2]
    }
}

/// Append-only text in chunks, so growing never copies what is already there.
#[derive(Debug)]
pub struct TextArena {
    chunks: Vec<Vec<u8>>,
    chunk_bytes: usize,
}

impl Default for TextArena {
    fn default() -> Self {
        Self::with_chunk_bytes(CHUNK_BYTES)
    }
}

impl TextArena {
    /// An arena of smaller chunks, for tests of what crosses from one to the next.
    /// Every record's text must then fit in half a chunk.
    pub fn with_chunk_bytes(chunk_bytes: usize) -> Self {
        Self {
            chunks: Vec::new(),
            chunk_bytes,
        }
    }

    /// Appends one record's text, written by a [`TextWriter`]; returns where it went.
    pub fn push(&mut self, text: &[u8], display_len: u32) -> TextRef {
        // Room for the longest text a record can have, so it never grows a chunk.
        let room = (2 * MAX_TEXT_BYTES).min(self.chunk_bytes / 2);
        if self
            .chunks
            .last()
            .is_none_or(|c| c.len() + room > self.chunk_bytes)
        {
            self.chunks.push(Vec::with_capacity(self.chunk_bytes));
        }
        let chunk_index = self.chunks.len() - 1;
        let chunk = &mut self.chunks[chunk_index];
        let begin = chunk.len();
        chunk.extend_from_slice(text);
        // A newline between records keeps a search from matching across two.
        chunk.push(b'\n');
        debug_assert!(
            chunk.len() <= self.chunk_bytes,
            "a text larger than its room"
        );
        TextRef::new(
            (chunk_index * self.chunk_bytes + begin) as u64,
            text.len() as u32,
            display_len.min(text.len() as u32),
        )
    }

    pub fn bytes(&self, text: TextRef) -> &[u8] {
        let chunk = (text.start() / self.chunk_bytes as u64) as usize;
        let offset = (text.start() % self.chunk_bytes as u64) as usize;
        self.chunks
            .get(chunk)
            .and_then(|c| c.get(offset..offset + text.len() as usize))
            .unwrap_or_default()
    }

    /// The display part (message or span name) as text, up to any invalid byte.
    pub fn display(&self, text: TextRef) -> &str {
        let bytes = self.bytes(text);
        let bytes = &bytes[..(text.display_len() as usize).min(bytes.len())];
        match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => std::str::from_utf8(&bytes[..error.valid_up_to()]).unwrap_or(""),
        }
    }

    pub fn chunks(&self) -> &[Vec<u8>] {
        &self.chunks
    }

    pub fn chunk_bytes(&self) -> u64 {
        self.chunk_bytes as u64
    }

    pub fn heap_bytes(&self) -> usize {
        self.chunks.iter().map(Vec::capacity).sum()
    }

    /// Bytes of text actually stored.
    pub fn text_bytes(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum()
    }
}

/// Writes one record's text into the arena, cut at [`MAX_TEXT_BYTES`].
pub struct TextWriter<'a> {
    out: &'a mut Vec<u8>,
    begin: usize,
    display_len: Option<usize>,
}

impl TextWriter<'_> {
    pub fn text(&mut self, text: &str) {
        self.text_bytes(text.as_bytes());
    }

    /// Text as it is stored: UTF-8, not checked here (a block's frame checksum already
    /// vouches for it, and the display stops at the first invalid byte).
    pub fn text_bytes(&mut self, text: &[u8]) {
        let room = MAX_TEXT_BYTES.saturating_sub(self.out.len() - self.begin);
        let mut cut = text.len().min(room);
        // Back to a character boundary: continuation bytes are 0b10xx_xxxx.
        while cut > 0 && cut < text.len() && text[cut] & 0xc0 == 0x80 {
            cut -= 1;
        }
        let text = &text[..cut];
        let start = self.out.len();
        self.out.extend_from_slice(text);
        // Newlines stay out: they separate records. Separators stay out of values.
        if memchr::memchr3(b'\n', FIELD_SEPARATOR, VALUE_SEPARATOR, text).is_some() {
            for byte in &mut self.out[start..] {
                if matches!(*byte, b'\n' | FIELD_SEPARATOR | VALUE_SEPARATOR) {
                    *byte = b' ';
                }
            }
        }
    }

    /// An integer in decimal, as `Display` writes it, without the formatting machinery.
    pub fn integer(&mut self, value: i64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = value.unsigned_abs();
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if value < 0 {
            self.text_bytes(b"-");
        }
        self.text_bytes(&digits[at..]);
    }

    /// Ends the display part; what follows is searchable but not shown in the row.
    pub fn end_display(&mut self) {
        self.display_len = Some(self.out.len() - self.begin);
    }

    /// Starts an attribute; its value is written next. False when the text is full.
    pub fn attribute_start(&mut self, key: &str) -> bool {
        if self.out.len() - self.begin + key.len() + 2 > MAX_TEXT_BYTES {
            return false;
        }
        self.out.push(FIELD_SEPARATOR);
        self.text(key);
        self.out.push(VALUE_SEPARATOR);
        true
    }
}

impl std::fmt::Write for TextWriter<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.text(text);
        Ok(())
    }
}

/// Writes one record's text at the end of `buffer`; returns (end, display length).
pub fn write_text(buffer: &mut Vec<u8>, write: impl FnOnce(&mut TextWriter<'_>)) -> (u32, u32) {
    let begin = buffer.len();
    let mut writer = TextWriter {
        out: buffer,
        begin,
        display_len: None,
    };
    write(&mut writer);
    let display_len = writer.display_len.unwrap_or(buffer.len() - begin) as u32;
    (buffer.len() as u32, display_len)
}
