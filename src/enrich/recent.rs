//! A per-thread cache of recent answers, for the stages whose work depends
//! on one string alone: the page's host key, a visitor's address, a user
//! agent. Events in a batch repeat these (a site's pages, a visitor's page
//! views, a browser), so a stage asks once per distinct value.
//!
//! Direct-mapped by a fast hash (xxh3) of the key: a hit costs that hash
//! and a compare, with no lock. Two keys sharing a slot only miss, so a
//! crafted key can cost a recomputation, never a wrong answer, and the
//! cache never holds more than its slots. Per thread: the Lambda runs one,
//! replay one per job.

use std::cell::RefCell;
use std::thread::LocalKey;

/// The slots: each a key and its answer, boxed.
///
/// Boxed so that an empty slot is a null pointer: `vec![None; n]` then
/// allocates the slots zeroed, pages the process touches only as slots
/// fill. Unboxed, a cache of 8,192 slots wrote every slot's tag when it
/// was made, a few hundred KB that a new container faulted in before its
/// first record (about 0.3 ms of its cold start), for slots a small batch
/// never uses.
pub struct Recent<V> {
    slots: Vec<Option<Box<Slot<V>>>>,
}

/// A filled slot: the key, and its answer.
type Slot<V> = (Box<[u8]>, V);

impl<V: Clone> Recent<V> {
    /// A cache of `slots` entries, a power of two.
    pub fn new(slots: usize) -> Recent<V> {
        assert!(slots.is_power_of_two(), "{slots} slots");
        Recent {
            slots: vec![None; slots],
        }
    }
}

impl<V> Recent<V> {
    /// Empties it (for `bench --cold-cache` and tests).
    pub fn clear(&mut self) {
        self.slots.iter_mut().for_each(|slot| *slot = None);
    }

    fn slot(&self, key: &[u8]) -> usize {
        (xxhash_rust::xxh3::xxh3_64(key) as usize) & (self.slots.len() - 1)
    }
}

/// `compute()`, the answer for `key`, through the thread's `cache`: from
/// the cache when `key` was the last key of its slot, else computed and
/// kept.
pub fn through<V: Clone + 'static>(
    cache: &'static LocalKey<RefCell<Recent<V>>>,
    key: &[u8],
    compute: impl FnOnce() -> V,
) -> V {
    read_through(cache, key, compute, V::clone)
}

/// `read(answer)`, where `answer` is `compute()`'s for `key`, from the
/// thread's `cache` as [`through`] finds it, without copying the answer.
pub fn read_through<V: 'static, R>(
    cache: &'static LocalKey<RefCell<Recent<V>>>,
    key: &[u8],
    compute: impl FnOnce() -> V,
    read: impl FnOnce(&V) -> R,
) -> R {
    let looked = cache.with_borrow(move |c| {
        let slot = c.slot(key);
        match c.slots[slot].as_deref() {
            Some((seen, answer)) if **seen == *key => Ok(read(answer)),
            _ => Err((slot, read)),
        }
    });
    let (slot, read) = match looked {
        Ok(hit) => return hit,
        Err(miss) => miss,
    };
    // Computed with the cache released: `compute` may use it too.
    let answer = compute();
    let out = read(&answer);
    cache.with_borrow_mut(|c| c.slots[slot] = Some(Box::new((key.into(), answer))));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        static CACHE: RefCell<Recent<usize>> = RefCell::new(Recent::new(8));
    }

    /// With more keys than slots, every answer is the computed one, hits
    /// are not recomputed, and a cleared cache recomputes.
    #[test]
    fn answers_as_computed_with_more_keys_than_slots() {
        let computed = Cell::new(0);
        let answer = |key: &str| {
            through(&CACHE, key.as_bytes(), || {
                computed.set(computed.get() + 1);
                key.len() * 7
            })
        };
        let keys: Vec<String> = (0..40).map(|n| "k".repeat(n)).collect();
        for key in &keys {
            assert_eq!(answer(key), key.len() * 7);
        }
        assert_eq!(computed.get(), 40);
        // The same key again is a hit.
        assert_eq!(answer("kk"), 14);
        assert_eq!(answer("kk"), 14);
        assert_eq!(computed.get(), 41);
        for key in keys.iter().rev() {
            assert_eq!(answer(key), key.len() * 7);
        }
        assert!(computed.get() < 81, "some hits: {}", computed.get());
        CACHE.with_borrow_mut(Recent::clear);
        answer("kk");
        assert_eq!(answer("kk"), 14);
        let before = computed.get();
        CACHE.with_borrow_mut(Recent::clear);
        answer("kk");
        assert_eq!(computed.get(), before + 1, "cleared, so computed again");
    }

    #[test]
    #[should_panic(expected = "slots")]
    fn slots_are_a_power_of_two() {
        let _ = Recent::<u8>::new(6);
    }
}
