//! Procedural macros of the [`parallelizer`](https://docs.rs/parallelizer)
//! crate. Use them through `parallelizer` (`use parallelizer::prelude::*`),
//! which documents them; this crate is not meant to be a direct dependency.
//!
//! Each macro parses its input into a model ([`model`]), checks it
//! ([`validate`]) and generates code from it ([`expand`]). Errors are
//! `syn::Error`s spanned on the user's offending token, turned into
//! `compile_error!` only here, at the edge.

use proc_macro::TokenStream;

mod expand;
mod model;
mod validate;

/// Declares a task on a unit struct. See `parallelizer::task`.
#[proc_macro_attribute]
pub fn task(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::task(attr.into(), item.into()).into()
}

/// Makes a plain function the worker of a task. See `parallelizer::worker`.
#[proc_macro_attribute]
pub fn worker(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::worker(attr.into(), item.into()).into()
}
