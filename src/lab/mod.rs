//! The SYN-flood lab: the same scenarios run for real in network namespaces (root) or in a deterministic
//! simulation (`--sim`, no privileges), measured the same way and reported with a table, JSON, Markdown and charts.

pub mod charts;
pub mod generators;
pub mod goals;
pub mod patience;
pub mod process;
pub mod real;
pub mod report;
pub mod results;
pub mod scenario;
pub mod sim;
pub mod topology;
pub mod trial;
pub mod verdict;
