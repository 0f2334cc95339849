//! Values derived from an object and kept with it: one per type, made by the
//! first caller and shared by every other (an output's wire form of a frame,
//! an output's per-stream state).

use std::any::Any;
use std::sync::Arc;

/// A set of derived values, at most one of each type.
#[derive(Debug, Default)]
pub struct Derived(parking_lot::Mutex<Vec<Arc<dyn Any + Send + Sync>>>);

impl Derived {
    /// The value of type `T`, made with `make` if there is none yet.
    pub fn get_or_make<T: Any + Send + Sync>(&self, make: impl FnOnce() -> T) -> Arc<T> {
        let mut all = self.0.lock();
        if let Some(t) = all.iter().find_map(|a| a.clone().downcast::<T>().ok()) {
            return t;
        }
        let t = Arc::new(make());
        all.push(t.clone());
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_per_type_made_once() {
        let d = Derived::default();
        let a = d.get_or_make(|| 1u32);
        let b = d.get_or_make(|| 2u32);
        let s = d.get_or_make(|| "text");
        assert!(
            Arc::ptr_eq(&a, &b),
            "the second caller shares the first value"
        );
        assert_eq!((*b, *s), (1, "text"));
    }
}
