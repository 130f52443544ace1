//! Small helpers that `model`, `validate` and `expand` all use. This module
//! uses none of them.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::Type;

/// Collects errors so that several independent mistakes are all reported,
/// each once.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    /// Adds one error (which may itself hold several).
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// `Err` with every error pushed, if any.
    pub fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// A type as the user would write it: `FixedStr<11>`, not `FixedStr < 11 >`.
pub fn type_name(ty: &Type) -> String {
    let mut name = String::new();
    for piece in ty.to_token_stream().to_string().split(' ') {
        let glued = matches!(piece, "<" | ">" | "," | "::" | ")" | "]" | ";")
            || name.is_empty()
            || name.ends_with(['<', '(', '[', '&', ' '])
            || name.ends_with("::");
        if !glued {
            name.push(' ');
        }
        name.push_str(piece);
        if matches!(piece, "," | ";") {
            name.push(' ');
        }
    }
    name
}

/// The derives every generated wire struct (a packet, a derived type's wire
/// form) carries: zerocopy's byte traits through `__private`, and value
/// semantics. `Debug` is added only where the struct does not write its own.
pub fn wire_struct_derives(with_debug: bool) -> TokenStream {
    let debug = with_debug.then(|| quote!(::core::fmt::Debug,));
    quote! {
        #[derive(
            ::parallelizer::__private::zerocopy::FromBytes,
            ::parallelizer::__private::zerocopy::IntoBytes,
            ::parallelizer::__private::zerocopy::KnownLayout,
            ::parallelizer::__private::zerocopy::Immutable,
            ::parallelizer::__private::zerocopy::Unaligned,
            ::core::clone::Clone,
            ::core::marker::Copy,
            #debug
            ::core::cmp::PartialEq,
            ::core::cmp::Eq,
            ::core::hash::Hash,
        )]
        #[zerocopy(crate = "::parallelizer::__private::zerocopy")]
    }
}
