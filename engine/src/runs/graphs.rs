//! [`GraphCache`]: parsed flow-version graphs, so a step does not re-read and re-parse its
//! flow's graph (a version never changes once written).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::flows::graph::FlowGraph;

/// Versions kept before the cache starts over: far more than the flows a server runs at once,
/// and a bound on memory whatever the number of flows.
const CAPACITY: usize = 1024;

/// `(flow id, version)`.
type VersionKey = (String, i32);

/// Graphs by `(flow id, version)`. Cheap to clone; clones share the cache.
#[derive(Clone, Default)]
pub struct GraphCache {
    graphs: Arc<Mutex<HashMap<VersionKey, Arc<FlowGraph>>>>,
}

impl GraphCache {
    /// The cached graph of `flow` at `version`.
    pub fn get(&self, flow: &str, version: i32) -> Option<Arc<FlowGraph>> {
        let graphs = self.graphs.lock().unwrap_or_else(PoisonError::into_inner);
        graphs.get(&(flow.to_string(), version)).cloned()
    }

    /// Keeps `graph` as `flow` at `version`; when full, starts over (a miss costs one read).
    pub fn insert(&self, flow: &str, version: i32, graph: Arc<FlowGraph>) {
        let mut graphs = self.graphs.lock().unwrap_or_else(PoisonError::into_inner);
        if graphs.len() >= CAPACITY {
            graphs.clear();
        }
        graphs.insert((flow.to_string(), version), graph);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph() -> Arc<FlowGraph> {
        Arc::new(serde_json::from_value(serde_json::json!({"nodes": [], "edges": []})).unwrap())
    }

    #[test]
    fn a_version_is_found_by_flow_and_version_only() {
        let cache = GraphCache::default();
        let g = graph();
        cache.insert("flow_a", 1, g.clone());
        assert!(Arc::ptr_eq(&cache.get("flow_a", 1).unwrap(), &g));
        assert!(cache.get("flow_a", 2).is_none());
        assert!(cache.get("flow_b", 1).is_none());
    }

    #[test]
    fn a_full_cache_starts_over_and_stays_bounded() {
        let cache = GraphCache::default();
        for v in 0..CAPACITY as i32 {
            cache.insert("flow_a", v, graph());
        }
        cache.insert("flow_b", 1, graph());
        assert!(cache.get("flow_a", 0).is_none());
        assert!(cache.get("flow_b", 1).is_some());
        assert_eq!(cache.graphs.lock().unwrap().len(), 1);
    }
}
