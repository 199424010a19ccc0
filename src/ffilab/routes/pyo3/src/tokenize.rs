//! The tokenizer kernel `tokenize_batch`: Python's Unicode database for the truth, Rust for the scan.
//!
//! Three phases per batch, so that Python is entered once per non-ASCII text and never per token:
//!
//! 1. With the GIL: check the batch (`contract::check_texts`) and fold every text.  An ASCII str
//!    is used as it is, because NFKC leaves ASCII unchanged and `str.casefold` of ASCII is ASCII
//!    lowercase, which Rust applies to each token; any other str goes through Python's own
//!    `unicodedata.normalize("NFKC", ...)` and `str.casefold`, exactly as the reference does.
//! 2. With the GIL released (`Python::detach`; small batches keep it): scan the folded code
//!    points in place, in their PEP 393 storage (1, 2 or 4 bytes a code point), with the class
//!    table of `ffilab.contract.char_classes()`, and give every token the number of an earlier
//!    equal one when a small cache of recent tokens has it (`Recent`).  Reading code points
//!    rather than UTF-8 is what keeps lone surrogates ("\ud800") exact: they are ordinary code
//!    points here, where `to_str()` would refuse them.
//! 3. With the GIL again: build one list per text, one new str per distinct token number, shared
//!    by its repetitions; "<num>" is `ffilab.contract.NUM_TOKEN` itself, shared by every
//!    all-digit token.
//!
//! The scanner is Rust's own (not the C core's `ffl_tokenize_spans`): the reference's loop in
//! `src/ffilab/routes/python/__init__.py`, written over code points and class bytes.

use std::cell::Cell;

use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::string::PyStringData;
use pyo3::types::{PyBytes, PyList, PyString};

use crate::contract::check_texts;

/// `ffilab.contract.TOKEN_MAX_CHARS`: longer tokens (in code points, after folding) are dropped.
const TOKEN_MAX_CHARS: usize = 64;
/// Bits of `ffilab.contract.char_classes()`: CHAR_WORD, CHAR_DIGIT, CHAR_JOINER.
const CHAR_WORD: u8 = 1;
const CHAR_DIGIT: u8 = 2;
const CHAR_JOINER: u8 = 4;
/// One class byte per code point, U+0000 to U+10FFFF.
const TABLE_LEN: usize = 0x11_0000;
/// Batches of fewer code units are scanned without releasing the GIL (CPython's hashlib
/// releases it from 2048 bytes of data on, HASHLIB_GIL_MINSIZE).
const GIL_RELEASE_MIN_UNITS: usize = 2048;

/// What the tokenizer takes from Python, fetched once per process.
struct Unicode {
    /// `char_classes()`; held here for the life of the process, so its buffer can be lent as a
    /// `'static` slice to the scanner while the GIL is released.
    table: Py<PyBytes>,
    /// `unicodedata.normalize` and its first argument, `"NFKC"`.
    normalize: Py<PyAny>,
    nfkc: Py<PyString>,
    /// `str.casefold`, unbound: called as `str.casefold(s)`, so a str subclass's own `casefold`
    /// is never used (the reference calls it the same way).
    casefold: Py<PyAny>,
    /// `ffilab.contract.NUM_TOKEN`, the one object every all-digit token becomes.
    num_token: Py<PyString>,
}

static UNICODE: PyOnceLock<Unicode> = PyOnceLock::new();

/// The process's `Unicode`, built at the first call (`char_classes()` takes about 0.4 s once).
///
/// The contract's constants are compared with this file's: a contract changed without this
/// route is a RuntimeError here, never silently different tokens.
fn unicode(py: Python<'_>) -> PyResult<&'static Unicode> {
    UNICODE.get_or_try_init(py, || {
        let contract = py.import("ffilab.contract")?;
        let int = |name: &str| -> PyResult<usize> { contract.getattr(name)?.extract() };
        let expected = [
            ("TOKEN_MAX_CHARS", TOKEN_MAX_CHARS),
            ("CHAR_WORD", CHAR_WORD.into()),
            ("CHAR_DIGIT", CHAR_DIGIT.into()),
            ("CHAR_JOINER", CHAR_JOINER.into()),
        ];
        for (name, value) in expected {
            let found = int(name)?;
            if found != value {
                return Err(PyRuntimeError::new_err(format!(
                    "tokenize_batch: ffilab.contract.{name} is {found}, this build of the pyo3 \
                     route expects {value}: rebuild it"
                )));
            }
        }
        let table = contract
            .getattr("char_classes")?
            .call0()?
            .cast_into::<PyBytes>()?;
        if table.as_bytes().len() != TABLE_LEN {
            return Err(PyRuntimeError::new_err(format!(
                "tokenize_batch: ffilab.contract.char_classes() returned {} bytes, not {TABLE_LEN}",
                table.as_bytes().len()
            )));
        }
        let str_type = py.get_type::<PyString>();
        Ok(Unicode {
            table: table.unbind(),
            normalize: py.import("unicodedata")?.getattr("normalize")?.unbind(),
            nfkc: PyString::intern(py, "NFKC").unbind(),
            casefold: str_type.getattr("casefold")?.unbind(),
            num_token: contract
                .getattr("NUM_TOKEN")?
                .cast_into::<PyString>()?
                .unbind(),
        })
    })
}

/// A text ready to scan: its folded code points, borrowed from a str kept alive by the caller.
#[derive(Clone, Copy)]
enum Folded<'a> {
    /// An ASCII str not yet lowercased: its tokens are lowercased as they are collected (the
    /// classes of 'A' and 'a' are the same, so the scan itself does not need to).
    Ascii(&'a [u8]),
    /// The result of `str.casefold(unicodedata.normalize("NFKC", text))`, in its own storage.
    Ucs1(&'a [u8]),
    Ucs2(&'a [u16]),
    Ucs4(&'a [u32]),
}

/// Call `token(start, len, num)` for every kept token of `text`, in order: `len` code points
/// from `start`, `num` if every one of them is a digit.
///
/// The reference's loop: a token starts at a word character and runs over word characters; a
/// joiner followed by a word character continues it ("don't"), any other character ends it.
/// All-digit means the CHAR_DIGIT bit on every code point (a joiner has none), which is
/// `str.isdigit()` of the token.
#[inline]
fn scan<T: Copy + Into<u32>>(
    text: &[T],
    table: &[u8; TABLE_LEN],
    mut token: impl FnMut(usize, usize, bool),
) {
    // Every str code point is below 0x110000, so indexing cannot fail; for 1- and 2-byte storage
    // the compiler can see that and drops the bounds check.
    let class = |i: usize| table[text[i].into() as usize];
    let n = text.len();
    let mut i = 0;
    while i < n {
        let first = class(i);
        if first & CHAR_WORD == 0 {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = first & CHAR_DIGIT;
        i += 1;
        loop {
            while i < n {
                let c = class(i);
                if c & CHAR_WORD == 0 {
                    break;
                }
                digits &= c;
                i += 1;
            }
            if i + 1 < n && class(i) & CHAR_JOINER != 0 && class(i + 1) & CHAR_WORD != 0 {
                // The joiner is part of the token and is not a digit; the word character after
                // it is taken by the next round.
                digits = 0;
                i += 1;
                continue;
            }
            break;
        }
        if i - start <= TOKEN_MAX_CHARS {
            token(start, i - start, digits != 0);
        }
    }
}

/// A token that phase 3 makes one str of: `len` code points from `start` of text number `text`.
struct Entry {
    text: usize,
    start: usize,
    len: usize,
    /// How many tokens are this one (counted in its slot of `Recent`; phase 3 counts them down).
    uses: usize,
}

/// How many recent tokens `Recent` remembers at most: 2**14 slots of 32 bytes (512 KiB), about
/// what an L2 cache holds.  Measured on the mixed corpus, 2**14 found enough more repeats than
/// 2**13 to pay for its extra cache misses.
const RECENT_MAX_BITS: u32 = 14;
// `Recent` shifts a hash right by 64 - bits, which must stay below 64.
const _: () = assert!(RECENT_MAX_BITS >= 4 && RECENT_MAX_BITS < 32);

/// The tokens seen recently in a batch, to find repeated ones with the GIL released.
///
/// Prose repeats its words (Zipf's law): "the" comes thousands of times in a batch.  A token
/// found here is given the number of its earlier occurrence, so phase 3 creates one str for it
/// and shares that object, which costs a reference count instead of a new object (allocated now,
/// freed later by the caller).  The result is still equal to the reference's (strs are
/// immutable; only `is` could tell), as "<num>" is one shared object too.
///
/// A direct-mapped cache, not a full dictionary: a slot holds the latest token whose hash picked
/// it, so its memory and cache footprint stay fixed however many distinct tokens a batch has
/// (text of rare words pays one lookup per token); the frequent words, which are most of the
/// tokens of prose, stay in it.  A slot holds all that a repeated token needs (the folded code
/// points to compare with, in `chars`, and the count of uses), so that a hit reads no entry.
struct Recent {
    slots: Vec<Slot>,
    /// `64 - log2(slots.len())`: the top bits of a hash pick its slot.
    shift: u32,
    /// The folded code points of every token that was put in a slot, one after the other.
    chars: Vec<u32>,
}

/// One token remembered by `Recent`.
#[derive(Clone, Copy)]
struct Slot {
    hash: u64,
    /// Its entry; `EMPTY` for a slot never used.
    id: usize,
    /// Where its code points start in `Recent::chars` (shifted left by `LEN_BITS`) and how many
    /// there are (the low `LEN_BITS`), in one word to keep a slot at 32 bytes.
    chars: usize,
    /// Its tokens counted while it is here: stored in the entry's `uses` when the slot is taken
    /// by another token or the batch ends, so that a hit writes to the slot only.
    uses: usize,
}

/// Bits for the length of a token (at most TOKEN_MAX_CHARS) in `Slot::chars`.
const LEN_BITS: u32 = 7;
const _: () = assert!(TOKEN_MAX_CHARS < 1 << LEN_BITS);

impl Recent {
    /// Room for about one token per two code units of the batch, up to `RECENT_MAX_BITS` (a
    /// small batch does not pay for clearing 512 KiB), in the buffers of `scratch`.
    fn for_units(units: usize, scratch: &mut Scratch) -> Self {
        let bits = (units / 2)
            .max(16)
            .next_power_of_two()
            .trailing_zeros()
            .min(RECENT_MAX_BITS);
        let empty = Slot {
            hash: 0,
            id: EMPTY,
            chars: 0,
            uses: 0,
        };
        let mut slots = std::mem::take(&mut scratch.slots);
        slots.clear();
        slots.resize(1 << bits, empty);
        let mut chars = std::mem::take(&mut scratch.chars);
        chars.clear();
        Recent {
            slots,
            shift: 64 - bits,
            chars,
        }
    }
}

/// The `id` of a slot of `Recent` that holds no token yet.
const EMPTY: usize = usize::MAX;
/// The number of a digits-only token, which becomes `NUM_TOKEN` and is never an entry.
const NUM: usize = usize::MAX;

/// A multiply-rotate hash of the code points (FxHash's step); the last step is a multiply, so
/// the top bits, which pick the slot, depend on every code point.
fn hash(token: &[u32]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = token.len() as u64;
    for &c in token {
        h = (h.rotate_left(5) ^ u64::from(c)).wrapping_mul(K);
    }
    h
}

/// Whether two folded tokens of the same length are equal.
///
/// Called when the hashes are equal, so the answer is nearly always yes: every code point is
/// compared, without stopping at the first difference, which lets the compiler vectorise it.
fn same(a: &[u32], b: &[u32]) -> bool {
    a.iter().zip(b).fold(true, |equal, (x, y)| equal & (x == y))
}

/// What phase 2 finds in a batch: for every token in order the number of its entry (`NUM` for
/// "<num>"), how many tokens each text has, and the entries, one per token that was not found
/// among the recent ones (each becomes one str in phase 3).
struct Scanned {
    ids: Vec<usize>,
    counts: Vec<usize>,
    entries: Vec<Entry>,
    /// The other buffers phase 2 used, to be kept for the next call.
    spare: Scratch,
}

/// The buffers of phase 2, kept by each thread from one call to the next.
///
/// A batch of 20,000 records needs several MiB of them; allocating them afresh each call costs
/// page faults (the kernel hands out zeroed pages) and copies as the vectors grow: keeping them
/// made such a batch 5 to 10 % faster.  A call takes them out of the thread's cell and puts them
/// back when done, so a nested call (a finalizer run by a garbage collection during phase 1 or
/// 3) finds the cell empty and simply allocates its own.
#[derive(Default)]
struct Scratch {
    ids: Vec<usize>,
    counts: Vec<usize>,
    entries: Vec<Entry>,
    slots: Vec<Slot>,
    chars: Vec<u32>,
}

thread_local! {
    static SCRATCH: Cell<Scratch> = Cell::new(Scratch::default());
}

/// Buffers bigger than this (all together) are freed rather than kept after a call, so that one
/// huge batch does not pin its memory for the life of the thread.
const SCRATCH_KEEP_BYTES: usize = 32 << 20;

impl Scratch {
    /// This thread's buffers (empty ones if another call on this thread holds them).
    fn take() -> Scratch {
        SCRATCH.take()
    }

    /// Keep the buffers of a finished call for the next one, if they are not too big.
    fn keep(scanned: Scanned) {
        let mut scratch = scanned.spare;
        scratch.ids = scanned.ids;
        scratch.counts = scanned.counts;
        scratch.entries = scanned.entries;
        let bytes = scratch.ids.capacity() * size_of::<usize>()
            + scratch.counts.capacity() * size_of::<usize>()
            + scratch.entries.capacity() * size_of::<Entry>()
            + scratch.slots.capacity() * size_of::<Slot>()
            + scratch.chars.capacity() * size_of::<u32>();
        if bytes <= SCRATCH_KEEP_BYTES {
            SCRATCH.set(scratch);
        }
    }
}

/// Phase 2: scan every text (`units` code units in all), the GIL released.
fn scan_batch(
    texts: &[Folded<'_>],
    units: usize,
    table: &[u8; TABLE_LEN],
    mut scratch: Scratch,
) -> Scanned {
    let mut recent = Recent::for_units(units, &mut scratch);
    let mut scanned = Scanned {
        ids: std::mem::take(&mut scratch.ids),
        counts: std::mem::take(&mut scratch.counts),
        entries: std::mem::take(&mut scratch.entries),
        spare: Scratch::default(),
    };
    scanned.ids.clear();
    scanned.counts.clear();
    scanned.entries.clear();
    for (t, &text) in texts.iter().enumerate() {
        let before = scanned.ids.len();
        let mut batch = Batch {
            scanned: &mut scanned,
            recent: &mut recent,
        };
        match text {
            Folded::Ascii(s) => batch.collect(t, s, table, fold_ascii),
            Folded::Ucs1(s) => batch.collect(t, s, table, u32::from),
            Folded::Ucs2(s) => batch.collect(t, s, table, u32::from),
            Folded::Ucs4(s) => batch.collect(t, s, table, |c| c),
        }
        let count = scanned.ids.len() - before;
        scanned.counts.push(count);
    }
    recent.flush(&mut scanned.entries, &mut scanned.spare);
    scanned
}

/// Casefolding of an ASCII code unit, which is ASCII lowercasing.
fn fold_ascii(b: u8) -> u32 {
    u32::from(b.to_ascii_lowercase())
}

/// Phase 2's state while it scans one text.
struct Batch<'s> {
    scanned: &'s mut Scanned,
    recent: &'s mut Recent,
}

impl Batch<'_> {
    /// Scan text number `t`, `text`, into `scanned`; `fold` turns a code unit of the text into
    /// the token's code point (ASCII lowercasing, or nothing for text already case-folded).
    #[inline]
    fn collect<T: Copy + Into<u32>>(
        &mut self,
        t: usize,
        text: &[T],
        table: &[u8; TABLE_LEN],
        fold: impl Fn(T) -> u32,
    ) {
        let mut buffer = [0u32; TOKEN_MAX_CHARS];
        scan(text, table, |start, len, num| {
            if num {
                self.scanned.ids.push(NUM);
                return;
            }
            let token = &mut buffer[..len];
            for (slot, &unit) in token.iter_mut().zip(&text[start..start + len]) {
                *slot = fold(unit);
            }
            let id = self.recent.find(token, &mut self.scanned.entries, t, start);
            self.scanned.ids.push(id);
        });
    }
}

impl Recent {
    /// The entry of `token` (folded code points), found among the recent tokens or new (then
    /// `start` of text `t`).
    #[inline]
    fn find(&mut self, token: &[u32], entries: &mut Vec<Entry>, t: usize, start: usize) -> usize {
        let hash = hash(token);
        let slot = &mut self.slots[(hash >> self.shift) as usize];
        if slot.id != EMPTY
            && slot.hash == hash
            && slot.chars & ((1 << LEN_BITS) - 1) == token.len()
        {
            let from = slot.chars >> LEN_BITS;
            if same(&self.chars[from..from + token.len()], token) {
                slot.uses += 1;
                return slot.id;
            }
        }
        if slot.id != EMPTY {
            // An entry leaves its slot once and is never found again (an equal token coming
            // later gets a new entry): its count is final, and a plain store (no read of a
            // likely uncached entry) records it.
            entries[slot.id].uses = slot.uses;
        }
        let id = entries.len();
        entries.push(Entry {
            text: t,
            start,
            len: token.len(),
            uses: 0,
        });
        *slot = Slot {
            hash,
            id,
            chars: (self.chars.len() << LEN_BITS) | token.len(),
            uses: 1,
        };
        self.chars.extend_from_slice(token);
        id
    }

    /// Record the uses counted in the slots in their entries, at the end of the batch, and give
    /// the buffers back to `scratch`.
    fn flush(self, entries: &mut [Entry], scratch: &mut Scratch) {
        for slot in &self.slots {
            if slot.id != EMPTY {
                entries[slot.id].uses = slot.uses;
            }
        }
        scratch.slots = self.slots;
        scratch.chars = self.chars;
    }
}

/// Phase 1 for one text: the str whose code points are its folded form, and whether that str is
/// ASCII still to be lowercased (`true`) or the result of `str.casefold` (`false`).
fn fold<'py>(
    py: Python<'py>,
    unicode: &Unicode,
    text: Bound<'py, PyString>,
) -> PyResult<(Bound<'py, PyString>, bool)> {
    if is_ascii(&text)? {
        return Ok((text, true));
    }
    // unicodedata.normalize may hand back its argument itself (already NFKC), a str subclass
    // included; str.casefold, called unbound, reads it as raw data and returns an exact str.
    let normalized = unicode
        .normalize
        .bind(py)
        .call1((unicode.nfkc.bind(py), text))?
        .cast_into::<PyString>()?;
    // NFKC can turn non-ASCII into ASCII ("ﬁ" -> "fi", fullwidth forms): then lowercasing is
    // casefolding, and the call can be saved.
    if is_ascii(&normalized)? {
        return Ok((normalized, true));
    }
    let folded = unicode
        .casefold
        .bind(py)
        .call1((normalized,))?
        .cast_into::<PyString>()?;
    Ok((folded, false))
}

/// Whether `text` holds only ASCII: 1-byte storage whose bytes are all below 0x80.
///
/// Checked on the bytes rather than through the `ascii` bit of the str header, which PyO3 does
/// not expose from Python 3.14 on; a word-at-a-time scan over text that is about to be scanned
/// anyway costs little.
fn is_ascii(text: &Bound<'_, PyString>) -> PyResult<bool> {
    // SAFETY: see `storage`.
    Ok(matches!(unsafe { text.data() }?, PyStringData::Ucs1(bytes) if bytes.is_ascii()))
}

/// The code points of a folded text, borrowed from the str that `fold` returned.
fn storage<'a>(text: &'a Bound<'_, PyString>, ascii: bool) -> PyResult<Folded<'a>> {
    // SAFETY: `data` reads the PEP 393 header of the str (kind and length); PyO3 decodes its bit
    // field for the little-endian targets its CI tests (x86_64, aarch64), and calls CPython's own
    // PyUnicode_KIND/PyUnicode_DATA from Python 3.14 on.  The slice lives as long as the borrow
    // of `text`, a str, which is immutable.
    Ok(match unsafe { text.data() }? {
        PyStringData::Ucs1(s) if ascii => Folded::Ascii(s),
        PyStringData::Ucs1(s) => Folded::Ucs1(s),
        PyStringData::Ucs2(s) => Folded::Ucs2(s),
        PyStringData::Ucs4(s) => Folded::Ucs4(s),
    })
}

/// Phase 3 for one entry: a new str holding its code points, lowercased if its text is ASCII.
///
/// Returns a new reference, or NULL with a Python exception set (MemoryError).
///
/// # Safety
/// The GIL must be held.
unsafe fn new_token(texts: &[Folded<'_>], entry: &Entry) -> *mut ffi::PyObject {
    let range = entry.start..entry.start + entry.len;
    let n = entry.len as ffi::Py_ssize_t;
    // SAFETY (every arm): the GIL is held; the data is read, never kept.
    unsafe {
        match texts[entry.text] {
            Folded::Ascii(s) => {
                // An ASCII str of n bytes (maxchar 127), filled before anyone else can see it.
                let obj = ffi::PyUnicode_New(n, 127);
                if !obj.is_null() {
                    let out = ffi::PyUnicode_DATA(obj).cast::<u8>();
                    for (k, &b) in s[range].iter().enumerate() {
                        *out.add(k) = b.to_ascii_lowercase();
                    }
                }
                obj
            }
            // PyUnicode_FromKindAndData copies into the narrowest storage, so that a token cut
            // from wide text is the canonical str the reference's slicing makes (str equality
            // compares storage kinds first).
            Folded::Ucs1(s) => from_kind(ffi::PyUnicode_1BYTE_KIND, &s[range]),
            Folded::Ucs2(s) => from_kind(ffi::PyUnicode_2BYTE_KIND, &s[range]),
            Folded::Ucs4(s) => from_kind(ffi::PyUnicode_4BYTE_KIND, &s[range]),
        }
    }
}

/// `PyUnicode_FromKindAndData` over a slice of code units of that kind.
///
/// # Safety
/// The GIL must be held, and `T` must be the code unit of `kind` (u8, u16, u32 for 1, 2, 4).
unsafe fn from_kind<T>(kind: std::ffi::c_uint, units: &[T]) -> *mut ffi::PyObject {
    // SAFETY: the caller's promise; the data is read, never kept.
    unsafe {
        ffi::PyUnicode_FromKindAndData(
            kind as std::ffi::c_int,
            units.as_ptr().cast(),
            units.len() as ffi::Py_ssize_t,
        )
    }
}

/// Phase 3: `list[list[str]]`, one new str per entry, shared by the tokens found equal to it.
///
/// An entry's str is made when its first token is placed (entries are numbered in the order of
/// their first tokens), while the new object is still in the CPU's cache, and handed over to
/// the list that holds its last token: a word used once is created straight into its list, and
/// nothing is left to release at the end.
fn build<'py>(
    py: Python<'py>,
    texts: &[Folded<'_>],
    scanned: &mut Scanned,
    num_token: &Bound<'py, PyString>,
) -> PyResult<Bound<'py, PyList>> {
    // The strs of entries that have tokens still to place; dropped on an error.
    let mut strs: Vec<Option<Bound<'py, PyAny>>> = Vec::with_capacity(scanned.entries.len());
    // SAFETY: the GIL is held throughout.  Each list is created with its final length and every
    // slot is set exactly once (PyList_SET_ITEM steals the new reference) before the list can be
    // seen by Python; if a token or a list cannot be created, the lists made so far are dropped,
    // which CPython allows for partly filled lists (list_dealloc skips NULL slots).
    unsafe {
        let outer = Bound::from_owned_ptr_or_err(
            py,
            ffi::PyList_New(scanned.counts.len() as ffi::Py_ssize_t),
        )?
        .cast_into_unchecked::<PyList>();
        let mut ids = scanned.ids.iter();
        for (i, &count) in scanned.counts.iter().enumerate() {
            let inner = ffi::PyList_New(count as ffi::Py_ssize_t);
            if inner.is_null() {
                return Err(PyErr::fetch(py));
            }
            ffi::PyList_SET_ITEM(outer.as_ptr(), i as ffi::Py_ssize_t, inner);
            for (t, &id) in ids.by_ref().take(count).enumerate() {
                let token = if id == NUM {
                    num_token.clone().into_any()
                } else {
                    if id == strs.len() {
                        let entry = &scanned.entries[id];
                        strs.push(Some(Bound::from_owned_ptr_or_err(
                            py,
                            new_token(texts, entry),
                        )?));
                    }
                    let uses = &mut scanned.entries[id].uses;
                    *uses -= 1;
                    if *uses == 0 {
                        // The entry's last token: this list takes the reference.
                        strs[id].take()
                    } else {
                        strs[id].clone()
                    }
                    .expect("an entry's str lives until its last token")
                };
                ffi::PyList_SET_ITEM(inner, t as ffi::Py_ssize_t, token.into_ptr());
            }
        }
        Ok(outer)
    }
}

/// Return the tokens of every text: NFKC, then ``str.casefold``, then word runs.
///
/// Per text: NFKC normalisation, then case folding ("Straße" -> ["strasse"]); tokens are maximal
/// runs of word characters (letters, numbers, marks, connector punctuation) in which an
/// apostrophe, hyphen or zero-width (non-)joiner between two word characters joins ("don't",
/// "state-of-the-art"); a token of digits only becomes ``"<num>"``, a token longer than 64 code
/// points is dropped (``ffilab.contract``).  ASCII text is folded in Rust; any other text by
/// Python's ``unicodedata.normalize`` and ``str.casefold``; the scan runs with the GIL released.
///
/// Parameters
/// ----------
/// texts : list of str
///     The batch (subclasses of list and str are read as raw data).
///
/// Returns
/// -------
/// list of list of str
///     One list of tokens per text, in order.
///
/// Raises
/// ------
/// TypeError
///     ``texts`` is not a list, or one of its elements is not a str.
#[pyfunction]
#[pyo3(signature = (texts, /))]
pub fn tokenize_batch<'py>(
    py: Python<'py>,
    texts: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let texts = check_texts("tokenize_batch", texts)?;
    let unicode = unicode(py)?;
    // Phase 1: fold (with the GIL); `folded` keeps every str that phase 2 reads alive.
    let folded = texts
        .into_iter()
        .map(|text| fold(py, unicode, text))
        .collect::<PyResult<Vec<_>>>()?;
    let views = folded
        .iter()
        .map(|(text, ascii)| storage(text, *ascii))
        .collect::<PyResult<Vec<_>>>()?;
    // Checked to be TABLE_LEN bytes when it was fetched; it lives as long as the process.
    let table: &'static [u8; TABLE_LEN] = unicode
        .table
        .as_bytes(py)
        .try_into()
        .expect("class table checked to be 0x110000 bytes");
    // Phase 2: the slices are plain Rust data (Send), the strs behind them are held above.
    // Releasing and retaking the GIL costs about as much as scanning a few hundred code
    // units, so a small batch keeps it, with the threshold hashlib uses for the same choice.
    let units = views
        .iter()
        .map(|text| match text {
            Folded::Ascii(s) | Folded::Ucs1(s) => s.len(),
            Folded::Ucs2(s) => s.len(),
            Folded::Ucs4(s) => s.len(),
        })
        .sum();
    let scratch = Scratch::take();
    let mut scanned = if units < GIL_RELEASE_MIN_UNITS {
        scan_batch(&views, units, table, scratch)
    } else {
        py.detach(|| scan_batch(&views, units, table, scratch))
    };
    // Phase 3.
    let tokens = build(py, &views, &mut scanned, unicode.num_token.bind(py))?;
    Scratch::keep(scanned);
    Ok(tokens)
}

// ------------------------------------------------------------------------------------------------
// tokenize_arrow: the same tokens as a pyarrow list<string> array (ffilab.text.arrow)
// ------------------------------------------------------------------------------------------------
//
// The optional kernel of ffilab._registry.OPTIONAL_KERNELS, the capi route's
// csrc/ffilab_tokenize_arrow_py.h written in Rust: the tokens' UTF-8, their offsets and the lists'
// offsets are written into Rust vectors, which pyarrow wraps without a copy
// (`pyarrow.foreign_buffer`, whose base object — an `ArrowTokens` holding the vectors — is freed,
// and the vectors with it, when the last buffer dies).  No Python object is made per token, and a
// text enters Python only when Unicode's NFKC quick check, over the tables of
// `ffilab.routes._text_glue.arrow_tables()` (derived from the interpreter's unicodedata), cannot
// prove it normalised (nor replace its compatibility characters): then
// `unicodedata.normalize("NFKC", text)` runs, and case folding comes from the same tables
// (str.casefold's answer per code point; it has no context).

use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::types::{PyDict, PyTuple};

/// What `tokenize_arrow` takes from Python besides `Unicode`, fetched once per process.
struct ArrowState {
    /// `arrow_tables().inert`: 0 for a code point that is not NFKC-inert, INERT_REPLACED for a
    /// replaced compatibility character, else 1 + its canonical combining class.
    inert: Py<PyBytes>,
    /// `arrow_tables()`' case foldings: the code points that are not their own folding, sorted,
    /// and for each its folding's length and code points.
    fold_keys: Vec<u32>,
    fold_values: Vec<[u32; 4]>,
    /// `arrow_tables()`' replaced compatibility characters (sorted) and their NFKC: key k's is
    /// `compat_pool[compat_offsets[k]..compat_offsets[k + 1]]`.
    compat_keys: Vec<u32>,
    compat_offsets: Vec<u32>,
    compat_pool: Vec<u32>,
    /// `pyarrow.foreign_buffer`, `pyarrow.Array.from_buffers`, `pyarrow.string()`,
    /// `pyarrow.list_(pyarrow.string())`, `pyarrow.array`.
    foreign_buffer: Py<PyAny>,
    from_buffers: Py<PyAny>,
    string_type: Py<PyAny>,
    list_type: Py<PyAny>,
    array: Py<PyAny>,
}

static ARROW: PyOnceLock<ArrowState> = PyOnceLock::new();

fn le_u32s(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn arrow_state(py: Python<'_>) -> PyResult<&'static ArrowState> {
    ARROW.get_or_try_init(py, || {
        let tables = py
            .import("ffilab.routes._text_glue")?
            .getattr("arrow_tables")?
            .call0()?;
        let inert = tables.getattr("inert")?.cast_into::<PyBytes>()?;
        let keys = le_u32s(tables.getattr("fold_keys")?.cast_into::<PyBytes>()?.as_bytes());
        let values = le_u32s(tables.getattr("fold_values")?.cast_into::<PyBytes>()?.as_bytes());
        let bytes_of = |name: &str| -> PyResult<Vec<u32>> {
            Ok(le_u32s(tables.getattr(name)?.cast_into::<PyBytes>()?.as_bytes()))
        };
        let compat_keys = bytes_of("compat_keys")?;
        let compat_offsets = bytes_of("compat_offsets")?;
        let compat_pool = bytes_of("compat_pool")?;
        if inert.as_bytes().len() != TABLE_LEN
            || values.len() != 4 * keys.len()
            || keys.windows(2).any(|w| w[0] >= w[1])
            || compat_offsets.len() != compat_keys.len() + 1
            || compat_keys.windows(2).any(|w| w[0] >= w[1])
            || compat_offsets.windows(2).any(|w| w[0] > w[1])
            || compat_offsets.last().is_some_and(|&z| z as usize > compat_pool.len())
        {
            return Err(PyRuntimeError::new_err(
                "tokenize_arrow: ffilab.routes._text_glue.arrow_tables() returned tables of the wrong shape",
            ));
        }
        let pa = py.import("pyarrow")?;
        let string_type = pa.getattr("string")?.call0()?;
        let list_type = pa.getattr("list_")?.call1((&string_type,))?;
        Ok(ArrowState {
            inert: inert.unbind(),
            fold_keys: keys,
            compat_keys,
            compat_offsets,
            compat_pool,
            fold_values: values
                .chunks_exact(4)
                .map(|c| [c[0], c[1], c[2], c[3]])
                .collect(),
            foreign_buffer: pa.getattr("foreign_buffer")?.unbind(),
            from_buffers: pa.getattr("Array")?.getattr("from_buffers")?.unbind(),
            string_type: string_type.unbind(),
            list_type: list_type.unbind(),
            array: pa.getattr("array")?.unbind(),
        })
    })
}

/// The Arrow buffers of one result; pyarrow's buffers keep it alive (their `base`).
#[pyclass(frozen, module = "ffilab.routes.pyo3._ext")]
pub struct ArrowTokens {
    bytes: Vec<u8>,
    token_offsets: Vec<i32>,
    list_offsets: Vec<i32>,
}

/// One text of a batch as phase 2 reads it.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// ASCII (a str's storage, or a UTF-8 record checked to be ASCII): lowercased as copied.
    Ascii(&'a [u8]),
    /// A str's storage, or an Arrow record's UTF-8 (not ASCII), to fold.
    Ucs1(&'a [u8]),
    Ucs2(&'a [u16]),
    Ucs4(&'a [u32]),
    Utf8(&'a [u8]),
}

/// What phase 2 made of a text: where its folded code points are, or that Python must
/// normalise it (then phase 3 folds the result).
#[derive(Clone, Copy)]
enum Folding {
    Ascii,
    Range(usize, usize),
    Python,
}

/// The state of the check over one text: the last combining class, and whether the previous
/// code point was a replaced compatibility character (then this one must be a starter).
#[derive(Default)]
struct Check {
    last_ccc: u8,
    after_replaced: bool,
}

/// The NFKC check, replacement and case folding of one code point (the capi route's
/// `fold_cp` in csrc/ffilab_tokenize_arrow.c): false when the text needs Python.
#[inline]
fn fold_one(cp: u32, inert: &[u8], check: &mut Check, classes: &[u8; TABLE_LEN], st: &ArrowState, out: &mut Vec<u32>) -> bool {
    let Some(&v) = inert.get(cp as usize) else {
        return false;
    };
    if v == 0 {
        return false;
    }
    if v == INERT_REPLACED {
        // Its NFKC (inert, in canonical order: the table's promise), case-folded.
        let Ok(k) = st.compat_keys.binary_search(&cp) else {
            return false;
        };
        let (a, z) = (st.compat_offsets[k] as usize, st.compat_offsets[k + 1] as usize);
        let m = &st.compat_pool[a..z];
        if !m.iter().all(|&x| casefold_one(x, classes, st, out)) {
            return false;
        }
        check.last_ccc = m.last().map_or(0, |&x| inert[x as usize].wrapping_sub(1));
        check.after_replaced = true;
        return true;
    }
    let ccc = v - 1;
    if (check.after_replaced && ccc != 0) || (ccc != 0 && check.last_ccc > ccc) {
        return false;
    }
    check.after_replaced = false;
    check.last_ccc = ccc;
    casefold_one(cp, classes, st, out)
}

/// str.casefold of one code point, from the tables.
#[inline]
fn casefold_one(cp: u32, classes: &[u8; TABLE_LEN], st: &ArrowState, out: &mut Vec<u32>) -> bool {
    if classes[cp as usize] & CHAR_FOLDED != 0 {
        out.push(cp);
        return true;
    }
    match st.fold_keys.binary_search(&cp) {
        Ok(k) => {
            let v = &st.fold_values[k];
            let n = v[0] as usize;
            if !(1..=3).contains(&n) {
                return false;
            }
            out.extend_from_slice(&v[1..1 + n]);
            true
        }
        Err(_) => false,
    }
}

/// `ffilab.routes._text_glue.INERT_REPLACED`: the inert table's mark of a compatibility character.
const INERT_REPLACED: u8 = 255;

/// `ffilab.contract.CHAR_FOLDED`: the code point is its own case folding.
const CHAR_FOLDED: u8 = 8;

/// Phase 2 for one text: its folding appended to `out` if C... Rust can prove it, else `Python`.
fn fold_source(src: Source<'_>, inert: &[u8], classes: &[u8; TABLE_LEN], st: &ArrowState, out: &mut Vec<u32>) -> Folding {
    let start = out.len();
    let mut check = Check::default();
    let ok = match src {
        Source::Ascii(_) => return Folding::Ascii,
        Source::Ucs1(s) => s.iter().all(|&c| fold_one(c.into(), inert, &mut check, classes, st, out)),
        Source::Ucs2(s) => s.iter().all(|&c| fold_one(c.into(), inert, &mut check, classes, st, out)),
        Source::Ucs4(s) => s.iter().all(|&c| fold_one(c, inert, &mut check, classes, st, out)),
        Source::Utf8(s) => match std::str::from_utf8(s) {
            Ok(text) => text.chars().all(|c| fold_one(c.into(), inert, &mut check, classes, st, out)),
            Err(_) => false,
        },
    };
    if ok {
        Folding::Range(start, out.len())
    } else {
        out.truncate(start);
        Folding::Python
    }
}

/// The Arrow buffers being written.
struct Builder {
    bytes: Vec<u8>,
    token_offsets: Vec<i32>,
    list_offsets: Vec<i32>,
    /// A surrogate inside a token (no class table makes one a word character): refused.
    bad: bool,
}

impl Builder {
    fn push_text<T: Copy + Into<u32>>(&mut self, text: &[T], table: &[u8; TABLE_LEN], lower: bool, num: &[u8]) {
        scan(text, table, |start, len, is_num| {
            if is_num {
                self.bytes.extend_from_slice(num);
            } else if lower {
                self.bytes.extend(text[start..start + len].iter().map(|&c| (c.into() as u8).to_ascii_lowercase()));
            } else {
                let mut utf8 = [0u8; 4];
                for &c in &text[start..start + len] {
                    match char::from_u32(c.into()) {
                        Some(ch) => self.bytes.extend_from_slice(ch.encode_utf8(&mut utf8).as_bytes()),
                        None => self.bad = true,
                    }
                }
            }
            self.token_offsets.push(self.bytes.len() as i32);
        });
        self.list_offsets.push((self.token_offsets.len() - 1) as i32);
    }

    /// Whether the offsets still fit in int32 (checked after each text; a text of less than
    /// 2**29 code points cannot jump from below 2**31 past 2**32).
    fn fits(&self) -> bool {
        self.bytes.len() <= i32::MAX as usize && self.token_offsets.len() <= i32::MAX as usize
    }
}

fn type_name_of(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

/// The texts of an Arrow array of strings: (the array, its offsets made absolute, its data).
fn arrow_input<'py>(
    py: Python<'py>,
    st: &ArrowState,
    texts: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyAny>, Vec<i64>, usize, usize)> {
    let arr = st.array.bind(py).call1((texts,))?;
    let ty = arr.getattr("type")?;
    let types = py.import("pyarrow.types")?;
    let large = types.getattr("is_large_string")?.call1((&ty,))?.is_truthy()?;
    if !large && !types.getattr("is_string")?.call1((&ty,))?.is_truthy()? {
        return Err(PyTypeError::new_err(format!(
            "tokenize_arrow: texts must be a list of str or an Arrow array of strings, got Arrow type {ty}"
        )));
    }
    let n: usize = arr.len()?;
    if arr.getattr("null_count")?.extract::<i64>()? != 0 {
        let first: usize = arr
            .call_method0("is_null")?
            .call_method0("to_pylist")?
            .call_method1("index", (true,))?
            .extract()?;
        return Err(PyTypeError::new_err(format!(
            "tokenize_arrow: texts[{first}] must be str, got NoneType"
        )));
    }
    let offset: usize = arr.getattr("offset")?.extract()?;
    let buffers = arr.call_method0("buffers")?;
    let address = |i: usize| -> PyResult<(usize, usize)> {
        let buf = buffers.get_item(i)?;
        if buf.is_none() {
            return Ok((0, 0));
        }
        Ok((buf.getattr("address")?.extract()?, buf.getattr("size")?.extract()?))
    };
    let (offs_addr, offs_size) = address(1)?;
    let (data_addr, data_size) = address(2)?;
    let width = if large { 8 } else { 4 };
    if n > 0 && (offs_addr == 0 || offs_size < (offset + n + 1) * width) {
        return Err(PyValueError::new_err("tokenize_arrow: the Arrow array of texts has a short offsets buffer"));
    }
    let mut offsets = Vec::with_capacity(n + 1);
    for i in offset..offset + if n > 0 { n + 1 } else { 0 } {
        // SAFETY: the offsets buffer holds at least offset + n + 1 entries (checked above) and
        // is kept alive by `arr`; read unaligned, as a foreign producer's buffer may be.
        let v = unsafe {
            if large {
                std::ptr::read_unaligned((offs_addr as *const i64).add(i))
            } else {
                i64::from(std::ptr::read_unaligned((offs_addr as *const i32).add(i)))
            }
        };
        offsets.push(v);
    }
    if offsets.windows(2).any(|w| w[1] < w[0]) || offsets.first().is_some_and(|&a| a < 0) || offsets.last().is_some_and(|&z| z as usize > data_size) {
        return Err(PyValueError::new_err("tokenize_arrow: the Arrow array of texts has bad offsets"));
    }
    Ok((arr, offsets, data_addr, data_size))
}

use pyo3::exceptions::PyValueError;

/// Return the tokens of every text as a pyarrow ``list<string>`` array (the tokens of tokenize_batch).
///
/// ``pa.array(tokenize_batch(texts), type=pa.list_(pa.string()))``, built from Rust vectors that
/// pyarrow wraps without a copy and frees when the array dies.  A text enters Python
/// (``unicodedata.normalize("NFKC", ...)``) only when the NFKC quick check over tables derived
/// from ``unicodedata`` cannot prove it normalised; everything else runs with the GIL released.
///
/// Parameters
/// ----------
/// texts : list of str, or a pyarrow string / large_string array without nulls
///
/// Returns
/// -------
/// pyarrow.ListArray
///
/// Raises
/// ------
/// TypeError
///     ``texts`` is neither, or an element is not a str (a null).
/// OverflowError
///     The batch's tokens pass the 2 GiB a list<string> array holds.
#[pyfunction]
#[pyo3(signature = (texts, /))]
pub fn tokenize_arrow<'py>(py: Python<'py>, texts: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let unicode = unicode(py)?;
    let st = arrow_state(py)?;
    // Phase 1, with the GIL: where every text's code units are.  `strs` and `arr` keep them alive.
    let mut strs: Vec<Bound<'py, PyString>> = Vec::new();
    let mut arrow: Option<(Bound<'py, PyAny>, Vec<i64>, usize, usize)> = None;
    if texts.is_instance_of::<PyList>() {
        strs = check_texts("tokenize_arrow", texts)?;
    } else if texts.hasattr("__arrow_c_array__")? {
        arrow = Some(arrow_input(py, st, texts)?);
    } else {
        return Err(PyTypeError::new_err(format!(
            "tokenize_arrow: texts must be a list of str, got {}",
            type_name_of(texts)
        )));
    }
    let mut sources: Vec<Source<'_>> = Vec::new();
    for text in &strs {
        // SAFETY: as in `storage`: the str is immutable and held by `strs`.
        sources.push(match unsafe { text.data() }? {
            PyStringData::Ucs1(s) if s.is_ascii() => Source::Ascii(s),
            PyStringData::Ucs1(s) => Source::Ucs1(s),
            PyStringData::Ucs2(s) => Source::Ucs2(s),
            PyStringData::Ucs4(s) => Source::Ucs4(s),
        });
    }
    if let Some((_, offsets, data_addr, data_size)) = &arrow {
        // SAFETY: the data buffer (data_size bytes) is kept alive by the array held in `arrow`,
        // and every offset was checked to lie within it.
        let data: &[u8] = if *data_size == 0 {
            &[]
        } else {
            unsafe { std::slice::from_raw_parts(*data_addr as *const u8, *data_size) }
        };
        for w in offsets.windows(2) {
            let s = &data[w[0] as usize..w[1] as usize];
            sources.push(if s.is_ascii() { Source::Ascii(s) } else { Source::Utf8(s) });
        }
    }
    let table: &'static [u8; TABLE_LEN] = unicode
        .table
        .as_bytes(py)
        .try_into()
        .expect("class table checked to be 0x110000 bytes");
    let inert: &'static [u8] = st.inert.as_bytes(py);
    // Phase 2, the GIL released: fold what the quick check proves.
    let (mut folded, mut foldings) = py.detach(|| {
        let mut folded: Vec<u32> = Vec::new();
        let foldings: Vec<Folding> = sources.iter().map(|&s| fold_source(s, inert, table, st, &mut folded)).collect();
        (folded, foldings)
    });
    // Phase 3, with the GIL: Python's NFKC for the rest, case-folded from the tables.
    let normalize = unicode.normalize.bind(py);
    let nfkc = unicode.nfkc.bind(py);
    for (k, folding) in foldings.iter_mut().enumerate() {
        if !matches!(folding, Folding::Python) {
            continue;
        }
        let text: Bound<'py, PyAny> = match sources[k] {
            Source::Utf8(s) => PyString::from_bytes(py, s)?.into_any(),
            _ => strs[k].clone().into_any(),
        };
        let normalized = normalize.call1((nfkc, text))?.cast_into::<PyString>()?;
        let start = folded.len();
        // SAFETY: `normalized` is a str held for the duration of the borrow.
        let ok = match unsafe { normalized.data() }? {
            PyStringData::Ucs1(s) => s.iter().all(|&c| casefold_one(c.into(), table, st, &mut folded)),
            PyStringData::Ucs2(s) => s.iter().all(|&c| casefold_one(c.into(), table, st, &mut folded)),
            PyStringData::Ucs4(s) => s.iter().all(|&c| casefold_one(c, table, st, &mut folded)),
        };
        if !ok {
            return Err(PyRuntimeError::new_err(
                "tokenize_arrow: the case-folding table does not cover a code point (rebuild its cache)",
            ));
        }
        *folding = Folding::Range(start, folded.len());
    }
    // Phase 4, the GIL released: scan every text into the Arrow buffers.
    let num_token = unicode.num_token.bind(py).to_str()?.as_bytes().to_vec();
    let builder = py.detach(|| {
        let mut b = Builder {
            bytes: Vec::with_capacity(sources.len() * 64 + 1),
            token_offsets: vec![0],
            list_offsets: Vec::with_capacity(sources.len() + 1),
            bad: false,
        };
        b.list_offsets.push(0);
        for (src, folding) in sources.iter().zip(&foldings) {
            match (folding, src) {
                (Folding::Ascii, Source::Ascii(s)) => b.push_text(s, table, true, &num_token),
                (Folding::Range(a, z), _) => b.push_text(&folded[*a..*z], table, false, &num_token),
                _ => unreachable!("every text was folded by phase 2 or 3"),
            }
            if !b.fits() {
                return None;
            }
        }
        Some(b)
    });
    folded.clear();
    let Some(b) = builder else {
        return Err(PyOverflowError::new_err(
            "tokenize_arrow: the batch's tokens pass 2 GiB, the most a list<string> array holds: split texts into smaller batches",
        ));
    };
    if b.bad {
        return Err(PyRuntimeError::new_err("tokenize_arrow: a surrogate inside a token"));
    }
    drop(strs);
    drop(arrow);
    // Hand the vectors to pyarrow: three buffers over them, whose base owns them.
    let n_lists = b.list_offsets.len() - 1;
    let n_tokens = b.token_offsets.len() - 1;
    let owner = Bound::new(
        py,
        ArrowTokens {
            bytes: b.bytes,
            token_offsets: b.token_offsets,
            list_offsets: b.list_offsets,
        },
    )?;
    let tokens = owner.get();
    let foreign = st.foreign_buffer.bind(py);
    let buffer = |ptr: usize, size: usize| foreign.call1((ptr, size, &owner));
    let data = buffer(tokens.bytes.as_ptr() as usize, tokens.bytes.len())?;
    let token_offsets = buffer(tokens.token_offsets.as_ptr() as usize, 4 * tokens.token_offsets.len())?;
    let list_offsets = buffer(tokens.list_offsets.as_ptr() as usize, 4 * tokens.list_offsets.len())?;
    let none = py.None();
    let strings = st.from_buffers.bind(py).call1((
        st.string_type.bind(py),
        n_tokens,
        PyList::new(py, [none.bind(py).clone(), token_offsets, data])?,
    ))?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("children", PyList::new(py, [strings])?)?;
    st.from_buffers.bind(py).call(
        PyTuple::new(py, [st.list_type.bind(py).clone(), n_lists.into_pyobject(py)?.into_any(), PyList::new(py, [none.bind(py).clone(), list_offsets])?.into_any()])?,
        Some(&kwargs),
    )
}
