//! The HTTP surface: `fn app(state) -> Router`.
