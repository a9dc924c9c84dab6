//! pake-edge
