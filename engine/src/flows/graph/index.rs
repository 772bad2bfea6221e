//! [`GraphIndex`]: a graph's adjacency, built once so that walking a graph is linear in its size.
//!
//! Without it, finding a node's edges scans every edge, and a planner that does so for each node
//! is quadratic (issue #13: a 9,000-node chain took 77 s to start). [`super::FlowGraph::index`]
//! builds it on first use and keeps it with the graph; the run engine caches parsed graphs per
//! flow version, so a version's index is built once per process.

use std::collections::{HashMap, VecDeque};
use std::sync::OnceLock;

use super::FlowGraph;

/// Node positions by id, each node's incoming and outgoing edges, and a topological order.
///
/// Edges whose source or target is not a node are left out (a validated graph has none).
#[derive(Debug, Default)]
pub struct GraphIndex {
    /// Node id -> position in `nodes` (the first node with that id).
    positions: HashMap<String, usize>,
    /// Per node, the positions in `edges` of the edges leaving it, in edge order.
    outgoing: Vec<Vec<usize>>,
    /// Per node, the positions in `edges` of the edges entering it, in edge order.
    incoming: Vec<Vec<usize>>,
    /// Per edge, the positions of its source and target (`None` when either is not a node).
    ends: Vec<Option<(usize, usize)>>,
    /// Node positions, each after all its predecessors; nodes on a cycle are missing.
    order: Vec<usize>,
}

impl GraphIndex {
    /// Indexes `graph` in O(nodes + edges).
    pub fn build(graph: &FlowGraph) -> Self {
        let mut positions = HashMap::with_capacity(graph.nodes.len());
        for (i, node) in graph.nodes.iter().enumerate() {
            positions.entry(node.id.clone()).or_insert(i);
        }
        let mut outgoing = vec![Vec::new(); graph.nodes.len()];
        let mut incoming = vec![Vec::new(); graph.nodes.len()];
        let mut ends = Vec::with_capacity(graph.edges.len());
        for (j, edge) in graph.edges.iter().enumerate() {
            let (Some(&s), Some(&t)) = (positions.get(&edge.source), positions.get(&edge.target)) else {
                ends.push(None);
                continue;
            };
            outgoing[s].push(j);
            incoming[t].push(j);
            ends.push(Some((s, t)));
        }
        // Kahn's algorithm; ties in node order, then edge order, so the order is deterministic.
        let mut indegree: Vec<usize> = incoming.iter().map(Vec::len).collect();
        let mut ready: VecDeque<usize> = (0..graph.nodes.len()).filter(|&i| indegree[i] == 0).collect();
        let mut order = Vec::with_capacity(graph.nodes.len());
        while let Some(i) = ready.pop_front() {
            order.push(i);
            for (_, t) in outgoing[i].iter().filter_map(|&j| ends[j]) {
                indegree[t] -= 1;
                if indegree[t] == 0 {
                    ready.push_back(t);
                }
            }
        }
        Self { positions, outgoing, incoming, ends, order }
    }

    /// The position of node `id` in the graph's `nodes`.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.positions.get(id).copied()
    }

    /// Positions in the graph's `edges` of the edges leaving node `position`.
    pub fn outgoing(&self, position: usize) -> &[usize] {
        self.outgoing.get(position).map_or(&[], Vec::as_slice)
    }

    /// Positions in the graph's `edges` of the edges entering node `position`.
    pub fn incoming(&self, position: usize) -> &[usize] {
        self.incoming.get(position).map_or(&[], Vec::as_slice)
    }

    /// The positions of edge `edge`'s source and target nodes (`None` for an edge left out).
    pub fn ends(&self, edge: usize) -> Option<(usize, usize)> {
        self.ends.get(edge).copied().flatten()
    }

    /// Node positions in topological order (nodes on a cycle are missing).
    pub fn topological(&self) -> &[usize] {
        &self.order
    }
}

/// The lazily built index a [`FlowGraph`] carries: not part of its value, so clones start
/// without one and every graph equals another with the same nodes and edges.
#[derive(Default)]
pub(super) struct IndexCell(OnceLock<GraphIndex>);

impl IndexCell {
    pub(super) fn get_or_build(&self, graph: &FlowGraph) -> &GraphIndex {
        self.0.get_or_init(|| GraphIndex::build(graph))
    }
}

impl Clone for IndexCell {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for IndexCell {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for IndexCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() { "IndexCell(built)" } else { "IndexCell(empty)" })
    }
}
