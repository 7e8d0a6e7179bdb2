//! What papermill reads of each notebook, kept by object generation: a generation of a Cloud
//! Storage object never changes, so what was read of it stays true, and a launch needs only
//! the metadata call that names the live generation. Bounded: a message may name notebooks
//! when `ALLOWED_OVERRIDES` lists `notebook`, so the oldest entry goes when it is full.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use crate::papermill::Notebook;

/// How many notebooks are kept: far more than a deployment's profiles name.
const CAPACITY: usize = 64;

/// Each notebook's latest generation read, and what was read of it.
#[derive(Debug, Default)]
pub struct NotebookCache {
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    by_uri: HashMap<String, (u64, Arc<Notebook>)>,
    /// The URIs, oldest first: the first to go when the cache is full.
    order: VecDeque<String>,
}

impl NotebookCache {
    /// What was read of `uri` at `generation`, when that is the generation kept.
    pub fn get(&self, uri: &str, generation: u64) -> Option<Arc<Notebook>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .by_uri
            .get(uri)
            .filter(|(kept, _)| *kept == generation)
            .map(|(_, notebook)| notebook.clone())
    }

    /// Keeps what was read of `uri` at `generation`, in place of an older generation's; never
    /// in place of a newer one, which a launch that read faster may have kept meanwhile.
    pub fn put(&self, uri: &str, generation: u64, notebook: Arc<Notebook>) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(kept) = entries.by_uri.get_mut(uri) {
            if kept.0 <= generation {
                *kept = (generation, notebook);
            }
            return;
        }
        entries
            .by_uri
            .insert(uri.to_owned(), (generation, notebook));
        entries.order.push_back(uri.to_owned());
        if entries.order.len() > CAPACITY
            && let Some(oldest) = entries.order.pop_front()
        {
            entries.by_uri.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notebook(kernel: &str) -> Arc<Notebook> {
        let bytes =
            format!(r#"{{"cells": [], "metadata": {{"kernelspec": {{"name": "{kernel}"}}}}}}"#);
        Arc::new(Notebook::read(bytes.as_bytes()).unwrap())
    }

    #[test]
    fn a_generation_is_kept_until_a_newer_one_replaces_it() {
        let cache = NotebookCache::default();
        assert!(cache.get("gs://b/a.ipynb", 1).is_none());
        cache.put("gs://b/a.ipynb", 1, notebook("one"));
        assert_eq!(cache.get("gs://b/a.ipynb", 1).unwrap().kernel, "one");
        assert!(
            cache.get("gs://b/a.ipynb", 2).is_none(),
            "another generation"
        );
        cache.put("gs://b/a.ipynb", 2, notebook("two"));
        assert_eq!(cache.get("gs://b/a.ipynb", 2).unwrap().kernel, "two");
        assert!(cache.get("gs://b/a.ipynb", 1).is_none(), "replaced");
        cache.put("gs://b/a.ipynb", 1, notebook("late"));
        assert_eq!(
            cache.get("gs://b/a.ipynb", 2).unwrap().kernel,
            "two",
            "a slower launch's older read does not replace it"
        );
    }

    #[test]
    fn the_oldest_notebook_goes_when_the_cache_is_full() {
        let cache = NotebookCache::default();
        for i in 0..=CAPACITY {
            cache.put(&format!("gs://b/{i}.ipynb"), 1, notebook("k"));
        }
        assert!(cache.get("gs://b/0.ipynb", 1).is_none(), "the oldest went");
        assert!(cache.get("gs://b/1.ipynb", 1).is_some());
        assert!(cache.get(&format!("gs://b/{CAPACITY}.ipynb"), 1).is_some());
        let entries = cache.entries.lock().unwrap();
        assert_eq!(
            (entries.by_uri.len(), entries.order.len()),
            (CAPACITY, CAPACITY)
        );
    }
}
