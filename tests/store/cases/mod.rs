//! The shared cases, each generic over the backend; `conformance!` runs each one for
//! every backend under its own name.

mod lifecycle;
mod listing;
mod policies;

pub use self::lifecycle::*;
pub use self::listing::*;
pub use self::policies::*;
