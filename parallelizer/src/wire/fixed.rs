//! Fixed-capacity strings and byte buffers: a length prefix, the bytes, then
//! zeros up to the slot's capacity, so every value of a type has the same size.
//!
//! Constructors refuse values that do not fit; nothing is ever truncated.

use std::fmt;
use std::hash::{Hash, Hasher};

use zerocopy::{little_endian, FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{intern, InvalidValue, Shape, WireType};
use crate::Error;

/// A UTF-8 string of at most `N` bytes, stored inline.
///
/// Its wire form, [`FixedStrWire<N>`], takes `N + 4` bytes whatever the
/// string's length. `N` counts bytes, not characters: `"é"` takes 2.
///
/// [`as_str`](Self::as_str) checks the bytes are UTF-8 on every call (the
/// crate has no `unsafe`), so it costs `O(len)`; keep the `&str` if you need
/// it more than once.
///
/// # Examples
///
/// ```
/// use parallelizer::{FixedStr, WireType};
///
/// let name = FixedStr::<11>::new("Hello World")?;
/// assert_eq!(name.as_str(), "Hello World");
/// assert_eq!(name.to_string(), "Hello World");
/// assert_eq!(format!("{name:?}"), r#"FixedStr<11>("Hello World")"#);
///
/// // Strings shorter than the slot are zero-padded on the wire.
/// let short = FixedStr::<11>::new("Hi")?;
/// assert_eq!(short.len(), 2);
/// assert_eq!(FixedStr::from_wire(&short.to_wire()), short);
///
/// // Longer ones are refused, never truncated.
/// assert!(FixedStr::<4>::new("Hello").is_err());
/// # Ok::<(), parallelizer::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct FixedStr<const N: usize> {
    // Invariant: `bytes[..len]` is UTF-8, `len <= N`, `bytes[len..]` is zero.
    len: usize,
    bytes: [u8; N],
}

/// The wire form of [`FixedStr<N>`]: `N + 4` bytes.
///
/// A valid wire value has `len <= N`, UTF-8 in `bytes[..len]` and zeros after.
/// `Debug` prints the string it holds, as `FixedStrWire<5>("hello")`, or its
/// raw fields if it holds none.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct FixedStrWire<const N: usize> {
    /// The string's length in bytes, little-endian.
    pub len: little_endian::U32,
    /// The string's bytes, then zeros.
    pub bytes: [u8; N],
}

impl<const N: usize> FixedStr<N> {
    /// Post-monomorphization check, referenced by every constructor.
    const FITS_PREFIX: () = assert!(
        N <= u32::MAX as usize,
        "FixedStr<N> holds at most u32::MAX bytes: its length prefix is a u32"
    );

    /// Copies `s` into a new fixed string.
    ///
    /// # Errors
    ///
    /// [`Error::ValueTooLong`] if `s` is longer than `N` bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use parallelizer::{Error, FixedStr};
    ///
    /// // "日本" is 6 bytes of UTF-8: it fills a 6-byte slot exactly.
    /// assert_eq!(FixedStr::<6>::new("日本")?.as_str(), "日本");
    /// assert_eq!(
    ///     FixedStr::<5>::new("日本"),
    ///     Err(Error::ValueTooLong { type_name: "FixedStr<5>".into(), capacity: 5, len: 6 })
    /// );
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new(s: &str) -> Result<Self, Error> {
        let () = Self::FITS_PREFIX;
        let bytes = padded(s.as_bytes()).ok_or_else(|| too_long("FixedStr", N, s.len()))?;
        Ok(Self {
            len: s.len(),
            bytes,
        })
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        // The invariant makes this infallible; "" keeps it panic-free anyway.
        std::str::from_utf8(self.used()).unwrap_or_default()
    }

    /// The string's length in bytes.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the string is empty.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The most bytes the string can hold: `N`.
    pub const fn capacity(&self) -> usize {
        N
    }

    fn used(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

impl<const N: usize> WireType for FixedStr<N> {
    type Wire = FixedStrWire<N>;

    fn to_wire(&self) -> FixedStrWire<N> {
        let () = Self::FITS_PREFIX;
        FixedStrWire {
            // Cannot truncate: `len <= N <= u32::MAX`.
            len: little_endian::U32::new(self.len as u32),
            bytes: self.bytes,
        }
    }

    /// Keeps the longest UTF-8 prefix of at most `N` bytes, and clears the
    /// rest, so an invalid wire value still gives a valid string.
    fn from_wire(wire: &FixedStrWire<N>) -> Self {
        let () = Self::FITS_PREFIX;
        let claimed = &wire.bytes[..clamp_len(wire.len.get().into(), N)];
        let len = match std::str::from_utf8(claimed) {
            Ok(_) => claimed.len(),
            Err(error) => error.valid_up_to(),
        };
        Self {
            len,
            bytes: zero_after(wire.bytes, len),
        }
    }

    fn validate(wire: &FixedStrWire<N>) -> Result<(), InvalidValue> {
        let len = check_len(wire.len.get().into(), N)?;
        let text = &wire.bytes[..len];
        // ASCII is UTF-8, and far cheaper to check in short slots.
        if !text.is_ascii() {
            std::str::from_utf8(text).map_err(|error| InvalidValue::InvalidUtf8 {
                valid_up_to: error.valid_up_to(),
            })?;
        }
        check_padding(&wire.bytes, len)
    }

    /// A string slot: its `len` (u32), then its `bytes`.
    fn shape() -> Shape {
        Shape::string(intern(format!("FixedStr<{N}>")), N)
    }
}

impl<const N: usize> fmt::Debug for FixedStrWire<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match FixedStr::validate(self) {
            Ok(()) => write!(
                f,
                "FixedStrWire<{N}>({:?})",
                FixedStr::from_wire(self).as_str()
            ),
            Err(_) => raw_debug(f, "FixedStrWire", N, self.len.get().into(), &self.bytes),
        }
    }
}

impl<const N: usize> Default for FixedStr<N> {
    /// The empty string.
    fn default() -> Self {
        let () = Self::FITS_PREFIX;
        Self {
            len: 0,
            bytes: [0; N],
        }
    }
}

// Compare and hash only the used bytes: equal to the derived behaviour given
// the zero padding, but `O(len)` rather than `O(N)`.
impl<const N: usize> PartialEq for FixedStr<N> {
    fn eq(&self, other: &Self) -> bool {
        self.used() == other.used()
    }
}

impl<const N: usize> Eq for FixedStr<N> {}

impl<const N: usize> Hash for FixedStr<N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.used().hash(state);
    }
}

impl<const N: usize> fmt::Debug for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FixedStr<{N}>({:?})", self.as_str())
    }
}

impl<const N: usize> fmt::Display for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` honours width and alignment flags, like `str`'s Display.
        f.pad(self.as_str())
    }
}

impl<const N: usize> AsRef<str> for FixedStr<N> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> TryFrom<&str> for FixedStr<N> {
    type Error = Error;

    /// Same as [`FixedStr::new`].
    fn try_from(s: &str) -> Result<Self, Error> {
        Self::new(s)
    }
}

/// Raw bytes, at most `N` of them, stored inline. `N` is at most 65535.
///
/// Its wire form, [`FixedBytesWire<N>`], takes `N + 2` bytes whatever the
/// length.
///
/// # Examples
///
/// ```
/// use parallelizer::{FixedBytes, WireType};
///
/// let bytes = FixedBytes::<16>::new(&[1, 2, 3])?;
/// assert_eq!(bytes.as_bytes(), [1, 2, 3]);
/// assert_eq!(bytes.capacity(), 16);
/// assert_eq!(format!("{bytes:?}"), "FixedBytes<16>([1, 2, 3])");
/// assert_eq!(FixedBytes::from_wire(&bytes.to_wire()), bytes);
///
/// assert!(FixedBytes::<2>::new(&[1, 2, 3]).is_err());
/// # Ok::<(), parallelizer::Error>(())
/// ```
///
/// A capacity above 65535 does not fit the `u16` length prefix and fails to
/// build:
///
/// ```compile_fail
/// let too_big = parallelizer::FixedBytes::<65536>::new(&[]);
/// ```
#[derive(Clone, Copy)]
pub struct FixedBytes<const N: usize> {
    // Invariant: `len <= N`, `bytes[len..]` is zero.
    len: usize,
    bytes: [u8; N],
}

/// The wire form of [`FixedBytes<N>`]: `N + 2` bytes.
///
/// A valid wire value has `len <= N` and zeros after the first `len` bytes.
/// `Debug` prints the bytes it holds, as `FixedBytesWire<4>([1, 2])`, or its
/// raw fields if it holds none.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct FixedBytesWire<const N: usize> {
    /// The number of bytes used, little-endian.
    pub len: little_endian::U16,
    /// The bytes, then zeros.
    pub bytes: [u8; N],
}

impl<const N: usize> FixedBytes<N> {
    /// Post-monomorphization check, referenced by every constructor.
    const FITS_PREFIX: () = assert!(
        N <= u16::MAX as usize,
        "FixedBytes<N> holds at most 65535 bytes: its length prefix is a u16"
    );

    /// Copies `bytes` into a new fixed buffer.
    ///
    /// # Errors
    ///
    /// [`Error::ValueTooLong`] if there are more than `N` bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, Error> {
        let () = Self::FITS_PREFIX;
        let padded = padded(bytes).ok_or_else(|| too_long("FixedBytes", N, bytes.len()))?;
        Ok(Self {
            len: bytes.len(),
            bytes: padded,
        })
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    /// The number of bytes.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no bytes.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The most bytes the buffer can hold: `N`.
    pub const fn capacity(&self) -> usize {
        N
    }
}

impl<const N: usize> WireType for FixedBytes<N> {
    type Wire = FixedBytesWire<N>;

    fn to_wire(&self) -> FixedBytesWire<N> {
        let () = Self::FITS_PREFIX;
        FixedBytesWire {
            // Cannot truncate: `len <= N <= u16::MAX`.
            len: little_endian::U16::new(self.len as u16),
            bytes: self.bytes,
        }
    }

    /// Clamps the length to `N` and clears the bytes after it.
    fn from_wire(wire: &FixedBytesWire<N>) -> Self {
        let () = Self::FITS_PREFIX;
        let len = clamp_len(wire.len.get().into(), N);
        Self {
            len,
            bytes: zero_after(wire.bytes, len),
        }
    }

    fn validate(wire: &FixedBytesWire<N>) -> Result<(), InvalidValue> {
        let len = check_len(wire.len.get().into(), N)?;
        check_padding(&wire.bytes, len)
    }

    /// A byte slot: its `len` (u16), then its `bytes`.
    fn shape() -> Shape {
        Shape::bytes(intern(format!("FixedBytes<{N}>")), N)
    }
}

impl<const N: usize> fmt::Debug for FixedBytesWire<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match FixedBytes::validate(self) {
            Ok(()) => write!(
                f,
                "FixedBytesWire<{N}>({:?})",
                FixedBytes::from_wire(self).as_bytes()
            ),
            Err(_) => raw_debug(f, "FixedBytesWire", N, self.len.get().into(), &self.bytes),
        }
    }
}

/// The fields of a slot's wire form that holds no valid value.
fn raw_debug(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    capacity: usize,
    len: u64,
    bytes: &[u8],
) -> fmt::Result {
    f.debug_struct(&format!("{name}<{capacity}>"))
        .field("len", &len)
        .field("bytes", &bytes)
        .finish()
}

impl<const N: usize> Default for FixedBytes<N> {
    /// No bytes.
    fn default() -> Self {
        let () = Self::FITS_PREFIX;
        Self {
            len: 0,
            bytes: [0; N],
        }
    }
}

impl<const N: usize> PartialEq for FixedBytes<N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl<const N: usize> Eq for FixedBytes<N> {}

impl<const N: usize> Hash for FixedBytes<N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl<const N: usize> fmt::Debug for FixedBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FixedBytes<{N}>({:?})", self.as_bytes())
    }
}

impl<const N: usize> AsRef<[u8]> for FixedBytes<N> {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl<const N: usize> TryFrom<&[u8]> for FixedBytes<N> {
    type Error = Error;

    /// Same as [`FixedBytes::new`].
    fn try_from(bytes: &[u8]) -> Result<Self, Error> {
        Self::new(bytes)
    }
}

/// `src` followed by zeros, or `None` if it is longer than `N`.
fn padded<const N: usize>(src: &[u8]) -> Option<[u8; N]> {
    let mut bytes = [0; N];
    bytes.get_mut(..src.len())?.copy_from_slice(src);
    Some(bytes)
}

/// `bytes` with everything from `len` on set to zero.
fn zero_after<const N: usize>(mut bytes: [u8; N], len: usize) -> [u8; N] {
    bytes[len..].fill(0);
    bytes
}

fn too_long(type_name: &str, capacity: usize, len: usize) -> Error {
    Error::ValueTooLong {
        type_name: format!("{type_name}<{capacity}>"),
        capacity,
        len,
    }
}

/// A length prefix read from the wire, cut down to the slot's capacity.
fn clamp_len(len: u64, capacity: usize) -> usize {
    usize::try_from(len).map_or(capacity, |len| len.min(capacity))
}

/// A length prefix read from the wire, if it fits the slot.
pub(crate) fn check_len(len: u64, capacity: usize) -> Result<usize, InvalidValue> {
    usize::try_from(len)
        .ok()
        .filter(|&len| len <= capacity)
        .ok_or(InvalidValue::LengthExceedsSlot { len, capacity })
}

/// Checks that the bytes after the first `len` are zero, so that equal values
/// always have equal wire bytes.
pub(crate) fn check_padding(bytes: &[u8], len: usize) -> Result<(), InvalidValue> {
    match bytes[len..].iter().position(|&byte| byte != 0) {
        None => Ok(()),
        Some(index) => Err(InvalidValue::NonZeroPadding {
            offset: len + index,
        }),
    }
}

const _: () = assert!(size_of::<FixedStrWire<0>>() == 4);
const _: () = assert!(size_of::<FixedStrWire<11>>() == 15);
const _: () = assert!(size_of::<FixedBytesWire<0>>() == 2);
const _: () = assert!(size_of::<FixedBytesWire<16>>() == 18);

#[cfg(test)]
mod tests {
    use std::collections::hash_map::DefaultHasher;

    use zerocopy::{FromBytes, IntoBytes};

    use super::*;

    fn str_wire<const N: usize>(len: u32, bytes: [u8; N]) -> FixedStrWire<N> {
        FixedStrWire {
            len: little_endian::U32::new(len),
            bytes,
        }
    }

    fn bytes_wire<const N: usize>(len: u16, bytes: [u8; N]) -> FixedBytesWire<N> {
        FixedBytesWire {
            len: little_endian::U16::new(len),
            bytes,
        }
    }

    fn round_trip<T: WireType + PartialEq + fmt::Debug>(value: T) {
        let wire = value.to_wire();
        assert_eq!(T::validate(&wire), Ok(()), "{value:?}");
        assert_eq!(T::from_wire(&wire), value);
    }

    fn hash_of<T: Hash>(value: &T) -> u64 {
        let mut hasher = DefaultHasher::new();
        value.hash(&mut hasher);
        hasher.finish()
    }

    #[test]
    fn wire_forms_print_their_values() {
        let wire = FixedStr::<11>::new("Hello").unwrap().to_wire();
        assert_eq!(format!("{wire:?}"), r#"FixedStrWire<11>("Hello")"#);
        let wire = str_wire(9, *b"abcd");
        assert_eq!(
            format!("{wire:?}"),
            "FixedStrWire<4> { len: 9, bytes: [97, 98, 99, 100] }"
        );
        let wire = FixedBytes::<4>::new(&[1, 2]).unwrap().to_wire();
        assert_eq!(format!("{wire:?}"), "FixedBytesWire<4>([1, 2])");
        let wire = bytes_wire(1, [1, 0, 9]);
        assert_eq!(
            format!("{wire:?}"),
            "FixedBytesWire<3> { len: 1, bytes: [1, 0, 9] }"
        );
    }

    #[test]
    fn slots_describe_their_length_and_bytes() {
        use crate::wire::Kind;

        let shape = Shape::of::<FixedStr<11>>();
        assert_eq!(
            (shape.type_name(), shape.kind(), shape.size()),
            ("FixedStr<11>", &Kind::Str { capacity: 11 }, 15)
        );
        let parts: Vec<_> = shape
            .fields()
            .iter()
            .map(|(name, part)| (*name, part.type_name(), part.size()))
            .collect();
        assert_eq!(parts, [("len", "u32", 4), ("bytes", "[u8; 11]", 11)]);
        assert_eq!(Shape::of::<FixedStr<{ 5 + 6 }>>(), shape);

        let shape = Shape::of::<FixedBytes<16>>();
        assert_eq!(
            (shape.type_name(), shape.kind(), shape.size()),
            ("FixedBytes<16>", &Kind::Bytes { capacity: 16 }, 18)
        );
        assert_eq!(shape.fields()[0].1.kind(), &Kind::U16);
    }

    #[test]
    fn hello_world_wire_bytes() {
        let wire = FixedStr::<11>::new("Hello World").unwrap().to_wire();
        let mut expected = vec![11, 0, 0, 0];
        expected.extend_from_slice(b"Hello World");
        assert_eq!(wire.as_bytes(), expected);
    }

    #[test]
    fn short_string_is_zero_padded() {
        let wire = FixedStr::<6>::new("Hi").unwrap().to_wire();
        assert_eq!(wire.as_bytes(), [2, 0, 0, 0, b'H', b'i', 0, 0, 0, 0]);
    }

    #[test]
    fn strings_round_trip() {
        round_trip(FixedStr::<0>::new("").unwrap());
        round_trip(FixedStr::<8>::new("").unwrap());
        round_trip(FixedStr::<5>::new("Hello").unwrap());
        round_trip(FixedStr::<11>::new("Hello").unwrap());
        round_trip(FixedStr::<2>::new("é").unwrap());
        round_trip(FixedStr::<6>::new("日本").unwrap());
        round_trip(FixedStr::<8>::new("a🦀日").unwrap());
        round_trip(FixedStr::<100>::new("🦀").unwrap());
    }

    /// `s` fits a slot of exactly its byte length, `N`, and not one of `N - 1`.
    fn fills_exactly<const N: usize, const SHORT: usize>(s: &str) {
        assert_eq!((s.len(), SHORT + 1), (N, N));
        let full = FixedStr::<N>::new(s).unwrap();
        assert_eq!(full.as_str(), s);
        round_trip(full);
        assert_eq!(
            FixedStr::<SHORT>::new(s),
            Err(Error::ValueTooLong {
                type_name: format!("FixedStr<{SHORT}>"),
                capacity: SHORT,
                len: N,
            })
        );
    }

    #[test]
    fn multi_byte_utf8_fills_the_slot_exactly() {
        fills_exactly::<2, 1>("é");
        fills_exactly::<6, 5>("日本");
        fills_exactly::<4, 3>("🦀");
        fills_exactly::<5, 4>("x🦀");
        fills_exactly::<11, 10>("Hello World");
    }

    #[test]
    fn too_long_string_is_refused_not_truncated() {
        assert_eq!(
            FixedStr::<4>::new("Hello"),
            Err(Error::ValueTooLong {
                type_name: "FixedStr<4>".into(),
                capacity: 4,
                len: 5,
            })
        );
        assert!(FixedStr::<0>::new("a").is_err());
        assert_eq!(
            FixedStr::<3>::try_from("abcd").unwrap_err(),
            FixedStr::<3>::new("abcd").unwrap_err()
        );
    }

    #[test]
    fn string_accessors() {
        let s = FixedStr::<8>::try_from("日本").unwrap();
        assert_eq!(s.as_str(), "日本");
        assert_eq!(s.as_ref(), "日本");
        assert_eq!(s.len(), 6);
        assert!(!s.is_empty());
        assert_eq!(s.capacity(), 8);
        // Width counts characters, as for `str`.
        assert_eq!(format!("{s}|{s:>4}|"), "日本|  日本|");
        assert_eq!(format!("{s:?}"), r#"FixedStr<8>("日本")"#);

        let empty = FixedStr::<300>::default();
        assert!(empty.is_empty());
        assert_eq!(empty.as_str(), "");
        assert_eq!(empty, FixedStr::new("").unwrap());
        assert_eq!(empty.to_wire().as_bytes(), [0; 304]);
    }

    #[test]
    fn equal_strings_hash_equally() {
        let a = FixedStr::<8>::new("abc").unwrap();
        let b = FixedStr::<8>::from_wire(&str_wire(3, *b"abcdefgh"));
        assert_eq!(a, b);
        assert_eq!(hash_of(&a), hash_of(&b));
        assert_ne!(a, FixedStr::new("abd").unwrap());
    }

    #[test]
    fn string_wire_reads_from_raw_bytes() {
        let bytes = [2, 0, 0, 0, 0xC3, 0xA9, 0, 0];
        let wire = FixedStrWire::<4>::read_from_bytes(&bytes).unwrap();
        assert_eq!(FixedStr::validate(&wire), Ok(()));
        assert_eq!(FixedStr::from_wire(&wire).as_str(), "é");
    }

    #[test]
    fn length_prefix_beyond_the_slot_is_rejected_and_clamped() {
        for len in [5, 0x100, u32::MAX] {
            let wire = str_wire(len, *b"abcd");
            assert_eq!(
                FixedStr::validate(&wire),
                Err(InvalidValue::LengthExceedsSlot {
                    len: len.into(),
                    capacity: 4,
                })
            );
            assert_eq!(FixedStr::from_wire(&wire).as_str(), "abcd");
        }
    }

    #[test]
    fn invalid_utf8_is_rejected_and_cut_to_its_valid_prefix() {
        let wire = str_wire(4, [b'a', b'b', 0xFF, b'c']);
        assert_eq!(
            FixedStr::validate(&wire),
            Err(InvalidValue::InvalidUtf8 { valid_up_to: 2 })
        );
        let value = FixedStr::from_wire(&wire);
        assert_eq!(value.as_str(), "ab");
        // The dropped bytes are cleared, so the value writes a valid wire.
        assert_eq!(value.to_wire(), str_wire(2, [b'a', b'b', 0, 0]));

        // A multi-byte character cut by the length prefix.
        let wire = str_wire(3, [b'a', 0xE6, 0x97, 0xA5]);
        assert_eq!(
            FixedStr::validate(&wire),
            Err(InvalidValue::InvalidUtf8 { valid_up_to: 1 })
        );
        assert_eq!(FixedStr::from_wire(&wire).as_str(), "a");
    }

    #[test]
    fn string_padding_garbage_is_rejected_and_cleared() {
        let wire = str_wire(2, [b'h', b'i', 0, b'x', 0]);
        assert_eq!(
            FixedStr::validate(&wire),
            Err(InvalidValue::NonZeroPadding { offset: 3 })
        );
        let value = FixedStr::from_wire(&wire);
        assert_eq!(value, FixedStr::new("hi").unwrap());
        assert_eq!(FixedStr::validate(&value.to_wire()), Ok(()));

        let wire = str_wire(0, [0, 0, 0, 0xFF]);
        assert_eq!(
            FixedStr::validate(&wire),
            Err(InvalidValue::NonZeroPadding { offset: 3 })
        );
    }

    #[test]
    fn bytes_wire_layout() {
        let wire = FixedBytes::<4>::new(&[0xAA, 0xBB]).unwrap().to_wire();
        assert_eq!(wire.as_bytes(), [2, 0, 0xAA, 0xBB, 0, 0]);
        let full = FixedBytes::<300>::new(&[7; 300]).unwrap().to_wire();
        assert_eq!(&full.as_bytes()[..3], [0x2C, 0x01, 7]);
    }

    #[test]
    fn bytes_round_trip_empty_full_and_refuse_over() {
        round_trip(FixedBytes::<0>::new(&[]).unwrap());
        round_trip(FixedBytes::<16>::new(&[]).unwrap());
        round_trip(FixedBytes::<16>::new(&[0; 16]).unwrap());
        round_trip(FixedBytes::<16>::new(&[0xFF; 16]).unwrap());
        round_trip(FixedBytes::<3>::new(&[0, 1, 0]).unwrap());
        round_trip(FixedBytes::<{ u16::MAX as usize }>::new(&[1; 1000]).unwrap());

        assert_eq!(
            FixedBytes::<16>::new(&[0; 17]),
            Err(Error::ValueTooLong {
                type_name: "FixedBytes<16>".into(),
                capacity: 16,
                len: 17,
            })
        );
        assert!(FixedBytes::<0>::try_from(&[1u8][..]).is_err());
    }

    #[test]
    fn bytes_accessors() {
        let b = FixedBytes::<4>::try_from(&[1u8, 2][..]).unwrap();
        assert_eq!(b.as_bytes(), [1, 2]);
        assert_eq!(b.as_ref(), [1, 2]);
        assert_eq!((b.len(), b.is_empty(), b.capacity()), (2, false, 4));
        assert_eq!(format!("{b:?}"), "FixedBytes<4>([1, 2])");
        let empty = FixedBytes::<100>::default();
        assert!(empty.is_empty());
        assert_eq!(empty.as_bytes(), [] as [u8; 0]);
        assert_eq!(empty, FixedBytes::new(&[]).unwrap());
        assert_eq!(
            hash_of(&b),
            hash_of(&FixedBytes::<4>::new(&[1, 2]).unwrap())
        );
    }

    #[test]
    fn bytes_wire_is_validated_and_read_totally() {
        let wire = bytes_wire(5, [1, 2, 3, 4]);
        assert_eq!(
            FixedBytes::validate(&wire),
            Err(InvalidValue::LengthExceedsSlot {
                len: 5,
                capacity: 4
            })
        );
        assert_eq!(FixedBytes::from_wire(&wire).as_bytes(), [1, 2, 3, 4]);

        let wire = bytes_wire(1, [1, 0, 9, 0]);
        assert_eq!(
            FixedBytes::validate(&wire),
            Err(InvalidValue::NonZeroPadding { offset: 2 })
        );
        let value = FixedBytes::from_wire(&wire);
        assert_eq!(value.as_bytes(), [1]);
        assert_eq!(value.to_wire(), bytes_wire(1, [1, 0, 0, 0]));

        let wire = FixedBytesWire::<2>::read_from_bytes(&[2, 0, 0xFF, 0xFE]).unwrap();
        assert_eq!(FixedBytes::validate(&wire), Ok(()));
        assert_eq!(FixedBytes::from_wire(&wire).as_bytes(), [0xFF, 0xFE]);
    }
}
