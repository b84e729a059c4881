//! No code: this crate only pins dependency features (see its Cargo.toml).
#![forbid(unsafe_code)]
