//! lst's own image format: a snapshot of the heap's words, 64-bit.
//!
//! ```text
//! offset  size
//! 0       8    magic "LSTIMAGE"
//! 8       4    format version (little-endian u32), now 1
//! 12      4    flags (0)
//! 16      8    number of heap words
//! 24      8    number of roots
//! 32      8    next identity hash
//! 40      8    checksum: FNV-1a 64 of bytes 8–40 and every byte from 48 on
//! 48      8×R  roots
//! ...     8×W  heap words (objects back to back, as the heap lays them out)
//! ```
//! A reference is stored as its byte offset from the first heap word (a
//! multiple of 8); a SmallInt as itself (odd). Loading checks the magic,
//! version, length and checksum, then walks every object and checks that
//! each reference lands on the start of an object and each class is a
//! pointer object, before a single reference is made: a corrupt or
//! truncated file is refused with the reason, never half-loaded.

use crate::heap::{BYTES, HEADER_WORDS, Heap, HeapConfig};
use crate::roots::{ROOT_COUNT, Root};
use crate::value::Value;

/// The roots of the oldest image this lst loads: every root up to
/// `LastResult`; later ones are found by name (see `crate::roots`).
const OLDEST_ROOT_COUNT: usize = Root::LastResult as usize + 1;

pub const MAGIC: &[u8; 8] = b"LSTIMAGE";
pub const VERSION: u32 = 1;
const PREFIX: usize = 48;
const SIZE_MASK: u64 = 0xFFFF_FFFF;
const FLAG_MASK: u64 = 0xFF << 32;

/// Why an image file was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NativeImageError {
    #[error("not an lst image (no LSTIMAGE magic)")]
    NotNative,
    #[error("image format version {0}; this lst reads version {VERSION}")]
    Version(u32),
    #[error("truncated image: {have} bytes, the header promises {want}")]
    Truncated { have: usize, want: usize },
    #[error("corrupt image: checksum mismatch (stored {stored:#018x}, computed {computed:#018x})")]
    Checksum { stored: u64, computed: u64 },
    #[error("corrupt image: {0}")]
    Corrupt(String),
}

/// FNV-1a, 64-bit, of the header fields before the checksum (offsets
/// 8–40) and everything after it.
fn checksum(image: &[u8]) -> u64 {
    image[8..40]
        .iter()
        .chain(&image[PREFIX..])
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

fn words_of(header: u64) -> usize {
    let size = (header & SIZE_MASK) as usize;
    HEADER_WORDS
        + if header & BYTES != 0 {
            size.div_ceil(8)
        } else {
            size
        }
}

/// Serialises a heap (`roots` are the VM's named roots).
pub fn write(heap: &Heap) -> Vec<u8> {
    let (base, words) = heap.snapshot();
    let encode = |v: u64| {
        if Value::from_raw(v).is_ref() {
            v - base
        } else {
            v
        }
    };
    let mut body: Vec<u64> = heap.roots.iter().map(|r| encode(r.raw())).collect();
    let mut i = 0;
    while i < words.len() {
        let header = words[i];
        let n = words_of(header);
        body.push(header);
        body.push(encode(words[i + 1]));
        let payload = &words[i + HEADER_WORDS..i + n];
        if header & BYTES != 0 {
            body.extend_from_slice(payload);
        } else {
            body.extend(payload.iter().map(|&v| encode(v)));
        }
        i += n;
    }
    let body: Vec<u8> = body.iter().flat_map(|w| w.to_le_bytes()).collect();
    let mut out = Vec::with_capacity(PREFIX + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(words.len() as u64).to_le_bytes());
    out.extend_from_slice(&(heap.roots.len() as u64).to_le_bytes());
    out.extend_from_slice(&u64::from(heap.next_hash()).to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&body);
    seal(&mut out);
    out
}

/// Writes the checksum of an image's bytes into its header. For tools and
/// fuzzing (a sealed mutant reaches the structural checks). Does nothing
/// to data too short to have a header.
pub fn seal(image: &mut [u8]) {
    if image.len() >= PREFIX {
        let sum = checksum(image);
        image[40..48].copy_from_slice(&sum.to_le_bytes());
    }
}

fn u64_at(data: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(data[at..at + 8].try_into().expect("8 bytes"))
}

/// Reads an image written by [`write`].
pub fn load(data: &[u8], config: HeapConfig) -> Result<Heap, NativeImageError> {
    if data.len() < 8 || &data[..8] != MAGIC {
        return Err(NativeImageError::NotNative);
    }
    if data.len() < PREFIX {
        return Err(NativeImageError::Truncated {
            have: data.len(),
            want: PREFIX,
        });
    }
    let version = u32::from_le_bytes(data[8..12].try_into().expect("4 bytes"));
    if version != VERSION {
        return Err(NativeImageError::Version(version));
    }
    if data[12..16] != [0; 4] {
        return Err(NativeImageError::Corrupt(
            "unknown flags in the header".into(),
        ));
    }
    let nwords = u64_at(data, 16);
    let nroots = u64_at(data, 24);
    let want = nwords
        .checked_add(nroots)
        .and_then(|n| n.checked_mul(8))
        .and_then(|n| n.checked_add(PREFIX as u64))
        .filter(|&n| n <= usize::MAX as u64)
        .ok_or_else(|| NativeImageError::Corrupt("impossible sizes in the header".into()))?
        as usize;
    if data.len() != want {
        return Err(NativeImageError::Truncated {
            have: data.len(),
            want,
        });
    }
    let stored = u64_at(data, 40);
    let computed = checksum(data);
    if stored != computed {
        return Err(NativeImageError::Checksum { stored, computed });
    }
    // An image saved before the last roots were added has fewer; they are
    // found by name after loading.
    if nroots as usize > ROOT_COUNT || (nroots as usize) < OLDEST_ROOT_COUNT {
        return Err(NativeImageError::Corrupt(format!(
            "{nroots} roots; this lst expects {OLDEST_ROOT_COUNT} to {ROOT_COUNT}"
        )));
    }
    let all: Vec<u64> = data[PREFIX..]
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let (roots, words) = all.split_at(nroots as usize);
    let refs = check_objects(words, roots)?;
    let next_hash = u32::try_from(u64_at(data, 32)).unwrap_or(u32::MAX);
    let mut heap = Heap::from_words(config, words.to_vec(), next_hash);
    let base = heap.base();
    let space = heap.words_mut();
    for &i in &refs {
        space[i] += base;
    }
    heap.roots = roots
        .iter()
        .map(|&r| Value::from_raw(if r & 1 == 0 { r + base } else { r }))
        .collect();
    let nil = heap.roots[Root::Nil as usize];
    heap.roots.resize(ROOT_COUNT, nil);
    Ok(heap)
}

/// Checks the object structure; answers the index of every word that
/// holds a reference.
fn check_objects(words: &[u64], roots: &[u64]) -> Result<Vec<usize>, NativeImageError> {
    let corrupt = |m: String| NativeImageError::Corrupt(m);
    let mut starts = vec![false; words.len() + 1];
    let mut is_pointer_object = vec![false; words.len() + 1];
    let mut refs = vec![];
    let mut i = 0;
    while i < words.len() {
        let header = words[i];
        if header & FLAG_MASK & !BYTES != 0 {
            return Err(corrupt(format!("object at word {i} has unknown flags")));
        }
        let n = words_of(header);
        if i + n > words.len() || n < HEADER_WORDS {
            return Err(corrupt(format!("object at word {i} runs past the end")));
        }
        starts[i] = true;
        is_pointer_object[i] = header & BYTES == 0;
        refs.push(i + 1);
        if header & BYTES == 0 {
            refs.extend((i + HEADER_WORDS..i + n).filter(|&j| words[j] & 1 == 0));
        }
        i += n;
    }
    let target = |v: u64| -> Result<usize, NativeImageError> {
        let at = (v / 8) as usize;
        if !v.is_multiple_of(8) || at >= words.len() || !starts[at] {
            return Err(corrupt(format!(
                "reference {v:#x} is not the start of an object"
            )));
        }
        Ok(at)
    };
    for &j in &refs {
        let v = words[j];
        if v & 1 == 1 {
            if j > 0 && starts[j - 1] {
                return Err(corrupt(format!(
                    "object at word {} has a SmallInt as its class",
                    j - 1
                )));
            }
            continue;
        }
        let at = target(v)?;
        if starts[j - 1] && !is_pointer_object[at] {
            return Err(corrupt(format!(
                "object at word {} has a byte object as its class",
                j - 1
            )));
        }
    }
    refs.retain(|&j| words[j] & 1 == 0);
    for &r in roots {
        if r & 1 == 0 {
            target(r)?;
        }
    }
    Ok(refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_heap() -> Heap {
        let mut h = Heap::new(HeapConfig::default());
        let nil = h.alloc_slots(Value::small(0), 0, Value::small(0)).unwrap();
        h.set_class(nil, nil);
        let s = h.alloc_bytes(nil, 5).unwrap();
        h.bytes_mut(s).copy_from_slice(b"hello");
        let a = h.alloc_slots(nil, 3, nil).unwrap();
        h.set(a, 1, s);
        h.set(a, 2, Value::small(-7));
        h.roots = vec![a; ROOT_COUNT];
        h
    }

    #[test]
    fn round_trips() {
        let h = tiny_heap();
        let bytes = write(&h);
        let back = load(&bytes, HeapConfig::default()).unwrap();
        let a = back.roots[0];
        assert_eq!(back.size(a), 3);
        let s = back.get(a, 1).unwrap();
        assert_eq!(back.bytes(s), b"hello");
        assert_eq!(back.get(a, 2), Some(Value::small(-7)));
        assert_eq!(write(&back), bytes);
    }

    /// An image saved before the selector roots of lst's own special
    /// sends were added has fewer roots: it loads, the missing ones nil
    /// (found by name afterwards); fewer still, or more, is refused.
    #[test]
    fn images_with_the_older_root_count_load() {
        let bytes = write(&tiny_heap());
        let with_roots = |n: usize| {
            let mut old = bytes[..PREFIX].to_vec();
            old[24..32].copy_from_slice(&(n as u64).to_le_bytes());
            old.extend_from_slice(&bytes[PREFIX..PREFIX + 8 * n]);
            old.extend_from_slice(&bytes[PREFIX + 8 * ROOT_COUNT..]);
            seal(&mut old);
            old
        };
        let back = load(&with_roots(OLDEST_ROOT_COUNT), HeapConfig::default()).unwrap();
        assert_eq!(back.roots.len(), ROOT_COUNT);
        let nil = back.roots[Root::Nil as usize];
        assert_eq!(back.roots[ROOT_COUNT - 1], nil);
        assert_eq!(back.size(back.roots[Root::LastResult as usize]), 3);
        assert!(load(&with_roots(OLDEST_ROOT_COUNT - 1), HeapConfig::default()).is_err());
    }

    #[test]
    fn sealed_mutants_load_or_are_refused_without_panicking() {
        let bytes = write(&tiny_heap());
        for at in PREFIX..bytes.len() {
            for bit in 0..8 {
                let mut bad = bytes.clone();
                bad[at] ^= 1 << bit;
                seal(&mut bad);
                if let Ok(h) = load(&bad, HeapConfig::default()) {
                    // Whatever loaded is walkable.
                    for o in h.objects() {
                        let _ = (h.size(o), h.class_of_object(o));
                    }
                }
            }
        }
    }

    #[test]
    fn refuses_every_truncation_and_flipped_byte() {
        let bytes = write(&tiny_heap());
        for len in 0..bytes.len() {
            assert!(
                load(&bytes[..len], HeapConfig::default()).is_err(),
                "length {len}"
            );
        }
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            assert!(load(&bad, HeapConfig::default()).is_err(), "byte {at}");
        }
    }
}
