//! Procedural macros of the [`parallelizer`](https://docs.rs/parallelizer)
//! crate. Use them through `parallelizer` (`use parallelizer::prelude::*`),
//! which documents them; this crate is not meant to be a direct dependency.
//!
//! Each macro runs the same pipeline, each stage using only the ones before
//! it: `model` parses the input into what the user wrote, `validate`
//! checks it and `expand` generates code from it; `util` holds the few
//! helpers they share. `#[derive(WireType)]` has its own three stages
//! (`derive_model`, `derive_validate`, `derive_expand`), and `#[task]`'s
//! code for a struct packet (`packet = Cell`) is in `whole_packet`. Errors
//! are `syn::Error`s spanned on the user's offending token, turned into
//! `compile_error!` only here, at the edge.

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::{quote, ToTokens};
use syn::{DeriveInput, ItemFn, ItemStruct, Path};

mod derive_expand;
mod derive_model;
mod derive_validate;
mod expand;
mod model;
mod util;
mod validate;
mod whole_packet;

use model::{TaskDef, WorkerDef};
use util::Errors;

/// Declares a task on a unit struct. See `parallelizer::task`.
///
/// Parse, check, generate; on error, the errors beside a stand-in expansion
/// (`expand::task_fallback`), so that later uses of the task do not cascade.
#[proc_macro_attribute]
pub fn task(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item: ItemStruct = match syn::parse(item.clone()) {
        Ok(item) => item,
        Err(_) => {
            let error = syn::Error::new(
                Span::call_site(),
                "#[task] goes on a unit struct: `#[task(packet = (u32,))] pub struct MyTask;`",
            );
            return with_errors(item.into(), error);
        }
    };
    let mut errors = Errors::default();
    let task = TaskDef::parse(attr.into(), item, &mut errors);
    validate::task(&task, &mut errors);
    match errors.finish() {
        Ok(()) => expand::task(&task).into(),
        Err(error) => with_errors(expand::task_fallback(&task), error),
    }
}

/// Makes a plain function the worker of a task. See `parallelizer::worker`.
///
/// Parse, check, generate; on error, the function as written plus the errors.
#[proc_macro_attribute]
pub fn worker(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item: ItemFn = match syn::parse(item.clone()) {
        Ok(item) => item,
        Err(_) => {
            let error = syn::Error::new(
                Span::call_site(),
                "#[worker(Task)] goes on a plain function: `#[worker(MyTask)] fn work(task_id: usize) -> (u32,)`",
            );
            return with_errors(item.into(), error);
        }
    };
    let task = match syn::parse::<Path>(attr) {
        Ok(task) => task,
        Err(error) => {
            let error = syn::Error::new(
                error.span(),
                "#[worker] names its task: `#[worker(MyTask)]`",
            );
            return with_errors(item.into_token_stream(), error);
        }
    };
    let worker = WorkerDef::new(task, item);
    let mut errors = Errors::default();
    validate::worker(&worker, &mut errors);
    match errors.finish() {
        Ok(()) => expand::worker(&worker).into(),
        Err(error) => with_errors(worker.item.into_token_stream(), error),
    }
}

/// Derives `WireType` for a struct of wire types or a fieldless enum. See
/// `parallelizer::WireType`.
///
/// The same pipeline as the attributes, in modules of its own
/// (`derive_model`, `derive_validate`, `derive_expand`); on error, the
/// errors beside a stand-in impl, so that the type's uses add none.
#[proc_macro_derive(WireType)]
pub fn derive_wire_type(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    let mut errors = Errors::default();
    let def = derive_model::WireDef::parse(input, &mut errors);
    derive_validate::wire(&def, &mut errors);
    match errors.finish() {
        Ok(()) => derive_expand::wire(&def).into(),
        Err(error) => with_errors(derive_expand::fallback(&def), error),
    }
}

/// `tokens`, then `error` as `compile_error!`s.
fn with_errors(tokens: proc_macro2::TokenStream, error: syn::Error) -> TokenStream {
    let errors = error.into_compile_error();
    quote!(#tokens #errors).into()
}
