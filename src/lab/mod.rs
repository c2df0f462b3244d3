//! The SYN-flood lab: the same scenarios run for real in network namespaces (root) or in a deterministic
//! simulation (`--sim`, no privileges), measured the same way and reported with a table, JSON, Markdown and charts.

pub mod results;
