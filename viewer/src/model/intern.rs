//! Interning: values many records share, each stored once and named by a `u32`.

use std::sync::Arc;

use rustc_hash::FxHashMap;

/// Interned strings: each distinct string is stored once and named by a `u32`.
#[derive(Debug)]
pub struct Interner {
    ids: FxHashMap<Arc<str>, u32>,
    strings: Vec<Arc<str>>,
}

impl Default for Interner {
    fn default() -> Self {
        let mut interner = Self {
            ids: FxHashMap::default(),
            strings: Vec::new(),
        };
        interner.intern("");
        interner
    }
}

impl Interner {
    pub fn intern(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.ids.get(text) {
            return id;
        }
        let id = self.strings.len() as u32;
        let text: Arc<str> = Arc::from(text);
        self.strings.push(Arc::clone(&text));
        self.ids.insert(text, id);
        id
    }

    pub fn get(&self, id: u32) -> &Arc<str> {
        &self.strings[id as usize]
    }

    pub fn len(&self) -> usize {
        self.strings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }

    /// Heap bytes held, for the memory benchmark.
    pub fn heap_bytes(&self) -> usize {
        self.strings.iter().map(|s| s.len() + 16).sum::<usize>()
            + self.strings.capacity() * 16
            + self.ids.capacity() * 24
    }
}

/// Values shared by many records, each stored once and named by a `u32`.
#[derive(Debug)]
pub struct Table<T> {
    ids: FxHashMap<T, u32>,
    values: Vec<T>,
}

impl<T: Copy + Eq + std::hash::Hash> Table<T> {
    pub(super) fn with_first(first: T) -> Self {
        let mut table = Self {
            ids: FxHashMap::default(),
            values: Vec::new(),
        };
        table.id(first);
        table
    }

    pub(super) fn id(&mut self, value: T) -> u32 {
        let next = self.values.len() as u32;
        let id = *self.ids.entry(value).or_insert(next);
        if id == next {
            self.values.push(value);
        }
        id
    }

    pub fn get(&self, id: u32) -> T {
        self.values[id as usize]
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub(super) fn heap_bytes(&self) -> usize {
        (self.ids.capacity() + self.values.capacity()) * (size_of::<T>() + 8)
    }
}
