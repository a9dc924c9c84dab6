//! pake-bench
