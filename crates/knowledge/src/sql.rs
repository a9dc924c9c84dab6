//! SQL assembled from fixed text and bound values only: the shared builder of
//! `pake_runtime::sql`, re-exported under the path the knowledge store uses.

pub(crate) use pake_runtime::bind_values;
pub use pake_runtime::sql::{SqlFragment, SqlValue};
