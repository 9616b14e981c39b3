//! Generation-checked handles: a slab whose ids carry the slot's generation, so a freed, stale or
//! made-up id never reaches a live value.

/// A slab of values addressed by `u64` handles: low 32 bits = slot index + 1 (so 0 is never valid),
/// high 32 bits = the slot's generation, bumped every time the slot is freed.
pub struct Registry<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    live: usize,
}

struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

impl<T> Registry<T> {
    pub const fn new() -> Self {
        Registry { slots: Vec::new(), free: Vec::new(), live: 0 }
    }

    pub fn insert(&mut self, value: T) -> u64 {
        self.live += 1;
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot { generation: 1, value: None });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.value = Some(value);
        (u64::from(slot.generation) << 32) | (u64::from(index) + 1)
    }

    fn locate(&self, handle: u64) -> Option<usize> {
        let index = (handle & 0xffff_ffff).checked_sub(1)? as usize;
        let generation = (handle >> 32) as u32;
        let slot = self.slots.get(index)?;
        (slot.generation == generation && slot.value.is_some()).then_some(index)
    }

    pub fn get(&self, handle: u64) -> Option<&T> {
        self.locate(handle).and_then(|i| self.slots[i].value.as_ref())
    }

    pub fn get_mut(&mut self, handle: u64) -> Option<&mut T> {
        let index = self.locate(handle)?;
        self.slots[index].value.as_mut()
    }

    pub fn remove(&mut self, handle: u64) -> Option<T> {
        let index = self.locate(handle)?;
        let slot = &mut self.slots[index];
        slot.generation = slot.generation.wrapping_add(1).max(1);
        self.free.push(index as u32);
        self.live -= 1;
        slot.value.take()
    }

    pub fn len(&self) -> usize {
        self.live
    }

    /// Removes and returns every value.
    pub fn take_all(&mut self) -> Vec<T> {
        let mut taken = Vec::with_capacity(self.live);
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if let Some(value) = slot.value.take() {
                taken.push(value);
                slot.generation = slot.generation.wrapping_add(1).max(1);
                self.free.push(index as u32);
            }
        }
        self.live = 0;
        taken
    }

    /// Invalidates every handle without dropping its value: a forked child must not run the
    /// destructors of values whose threads and locks stayed in the parent.
    pub fn forget_all(&mut self) {
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if let Some(value) = slot.value.take() {
                std::mem::forget(value);
                slot.generation = slot.generation.wrapping_add(1).max(1);
                self.free.push(index as u32);
            }
        }
        self.live = 0;
    }

    /// Removes every value for which `expired` says yes; returns how many went.
    pub fn remove_where(&mut self, mut expired: impl FnMut(&T) -> bool) -> usize {
        let mut removed = 0;
        for index in 0..self.slots.len() {
            let slot = &mut self.slots[index];
            if slot.value.as_ref().is_some_and(&mut expired) {
                slot.value = None;
                slot.generation = slot.generation.wrapping_add(1).max(1);
                self.free.push(index as u32);
                self.live -= 1;
                removed += 1;
            }
        }
        removed
    }
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_and_made_up_handles_miss() {
        let mut registry = Registry::new();
        let a = registry.insert("a");
        assert_eq!(registry.get(a), Some(&"a"));
        assert_eq!(registry.remove(a), Some("a"));
        assert_eq!(registry.get(a), None);
        let b = registry.insert("b");
        assert_ne!(a, b, "a reused slot gets a new generation");
        assert_eq!(registry.get(a), None);
        assert_eq!(registry.get(0), None);
        assert_eq!(registry.get(0xdead_beef_0000_0001), None);
        assert_eq!(registry.get(u64::MAX), None);
    }

    #[test]
    fn forget_all_invalidates_every_handle_without_dropping() {
        let mut registry = Registry::new();
        let value = std::sync::Arc::new(1);
        let a = registry.insert(value.clone());
        registry.forget_all();
        assert!(registry.get(a).is_none());
        assert_eq!(registry.len(), 0);
        assert_eq!(std::sync::Arc::strong_count(&value), 2, "forgotten, not dropped");
        let b = registry.insert(value.clone());
        assert_ne!(a, b);
    }
}
