//! Code generation. Generated code names runtime items only through
//! `::parallelizer::__private`, and every type check it leaves to the
//! compiler is spanned on the user's token, so a mismatch reads as one error
//! in the right place.

use proc_macro2::{Group, Ident, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{FnArg, Index, ItemFn, ItemStruct, Path, ReturnType, Type};

use crate::model::{TaskAttr, TaskDef, WorkerDef};
use crate::validate;

/// `#[task(...)]`: parse, check, generate; on error, the struct as written
/// plus the errors, so later uses of the struct do not cascade.
pub fn task(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item: ItemStruct = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(_) => {
            let error = syn::Error::new(
                Span::call_site(),
                "#[task] goes on a unit struct: `#[task(packet = (u32,))] pub struct MyTask;`",
            );
            return with_errors(item, error);
        }
    };
    let model = syn::parse2::<TaskAttr>(attr).and_then(|attr| TaskDef::new(attr, item.clone()));
    match model.and_then(|model| validate::task(&model).map(|()| model)) {
        Ok(model) => task_impl(&model),
        Err(error) => with_errors(item.into_token_stream(), error),
    }
}

/// `#[worker(Task)]`: parse, check, generate; on error, the function as
/// written plus the errors.
pub fn worker(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item_fn: ItemFn = match syn::parse2(item.clone()) {
        Ok(item_fn) => item_fn,
        Err(_) => {
            let error = syn::Error::new(
                Span::call_site(),
                "#[worker(Task)] goes on a plain function: `#[worker(MyTask)] fn work(task_id: usize) -> (u32,)`",
            );
            return with_errors(item, error);
        }
    };
    let task = match syn::parse2::<Path>(attr) {
        Ok(task) => task,
        Err(error) => {
            let error = syn::Error::new(
                error.span(),
                "#[worker] names its task: `#[worker(MyTask)]`",
            );
            return with_errors(item_fn.into_token_stream(), error);
        }
    };
    let model = WorkerDef::new(task, item_fn);
    match validate::worker(&model) {
        Ok(()) => worker_impl(&model),
        Err(error) => with_errors(model.item.into_token_stream(), error),
    }
}

fn with_errors(item: TokenStream, error: syn::Error) -> TokenStream {
    let errors = error.into_compile_error();
    quote!(#item #errors)
}

fn task_impl(task: &TaskDef) -> TokenStream {
    let item = &task.item;
    let ident = &item.ident;
    let vis = &item.vis;
    let packet = format_ident!("{}Packet", ident, span = task.packet_span);
    let name = ident.to_string();
    let fields = &task.packet;
    let index = (0..fields.len())
        .zip(fields)
        .map(|(index, ty)| Index {
            index: index as u32,
            span: ty.span(),
        })
        .collect::<Vec<_>>();
    let field_names = fields.iter().map(type_name);
    // The packet struct is generic over its fields' types, so its derived
    // impls never name a field type; the task's `Packet` is that struct at
    // the fields' wire forms. Every use of a field's `WireType` impl is
    // spanned on the user's type (and the packet as a whole on the packet
    // tuple): a type that is not a wire type is reported there.
    let generics = (0..fields.len())
        .map(|i| format_ident!("F{}", i))
        .collect::<Vec<_>>();
    let wire = fields
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> <#ty as ::parallelizer::__private::WireType>::Wire))
        .collect::<Vec<_>>();
    let encode = fields.iter().zip(&index).map(|(ty, i)| {
        quote_spanned!(ty.span()=> <#ty as ::parallelizer::__private::WireType>::to_wire(&output.#i))
    });
    let decode = fields.iter().zip(&index).map(|(ty, i)| {
        quote_spanned!(ty.span()=> <#ty as ::parallelizer::__private::WireType>::from_wire(&packet.#i))
    });
    // Each field's size, spanned on its type like the other per-field uses,
    // so a type that is not a wire type adds no error of its own.
    let sizes = fields.iter().map(|ty| {
        quote_spanned!(ty.span()=> ::core::mem::size_of::<<#ty as ::parallelizer::__private::WireType>::Wire>())
    });
    let validate = fields.iter().zip(&index).map(|(ty, i)| {
        quote_spanned! {ty.span()=>
            <#ty as ::parallelizer::__private::WireType>::validate(&packet.#i)
                .map_err(|reason| ::parallelizer::__private::FieldError { field: #i, reason })?;
        }
    });
    // The `Packet` bounds are checked on this item: spanned on the packet.
    let packet_ty = quote_spanned!(task.packet_span=> #packet<#(#wire),*>);
    let packet_size = quote_spanned!(task.packet_span=> ::core::mem::size_of::<#packet_ty>());
    let packet_ref = quote_spanned!(task.packet_span=> &#packet_ty);
    let packet_type = quote_spanned!(task.packet_span=> type Packet = #packet_ty;);
    // The functions that take or return a packet are spanned on the packet:
    // the compiler checks their signatures there.
    let codec = quote_spanned! {task.packet_span=>
        #[inline]
        fn encode(output: Self::Output) -> #packet_ty {
            #packet(#(#encode),*)
        }

        #[inline]
        fn decode(packet: #packet_ref) -> Self::Output {
            (#(#decode,)*)
        }

        fn validate(
            packet: #packet_ref,
        ) -> ::core::result::Result<(), ::parallelizer::__private::FieldError> {
            #(#validate)*
            ::core::result::Result::Ok(())
        }
    };
    let unit = quote!(());
    let memory = task
        .memory
        .as_ref()
        .map_or(unit.clone(), ToTokens::to_token_stream);
    let args = task.args.as_ref().map_or(unit, ToTokens::to_token_stream);
    let has_memory = task.memory.is_some();
    let arity = task.worker_arity();
    let (params_ty, params) = match (&task.memory, &task.args) {
        (None, None) => (quote!(()), quote!()),
        (Some(memory), None) => (quote!((&'a #memory,)), quote!((memory,))),
        (None, Some(args)) => (quote!((&'a #args,)), quote!((args,))),
        (Some(memory), Some(args)) => (quote!((&'a #memory, &'a #args)), quote!((memory, args))),
    };
    let packet_doc = format!(
        "The wire packet of [`{name}`]: its fields' wire forms in order, \
         {name}::PACKET_SIZE bytes with no padding. Generated by `#[task]`."
    );

    quote! {
        #item

        #[doc = #packet_doc]
        #[derive(
            ::parallelizer::__private::zerocopy::FromBytes,
            ::parallelizer::__private::zerocopy::IntoBytes,
            ::parallelizer::__private::zerocopy::KnownLayout,
            ::parallelizer::__private::zerocopy::Immutable,
            ::parallelizer::__private::zerocopy::Unaligned,
            ::core::clone::Clone,
            ::core::marker::Copy,
            ::core::fmt::Debug,
            ::core::cmp::PartialEq,
            ::core::cmp::Eq,
            ::core::hash::Hash,
        )]
        #[zerocopy(crate = "::parallelizer::__private::zerocopy")]
        #[repr(C)]
        #[allow(clippy::type_complexity)]
        #vis struct #packet<#(#generics),*>(#(pub #generics),*);

        impl ::parallelizer::__private::Task for #ident {
            type Output = (#(#fields,)*);
            #packet_type
            type Memory = #memory;
            type Args = #args;

            const NAME: &'static str = #name;
            const PACKET_SIZE: usize = #packet_size;
            const HAS_MEMORY: bool = #has_memory;
            const FIELD_TYPES: &'static [&'static str] = &[#(#field_names),*];
            const FIELD_SIZES: &'static [usize] = &[#(#sizes),*];

            #codec
        }

        impl ::parallelizer::__private::WorkerParams<#arity> for #ident {
            type Params<'a> = #params_ty;

            #[inline]
            fn params<'a>(memory: &'a Self::Memory, args: &'a Self::Args) -> Self::Params<'a> {
                let _ = (&memory, &args);
                #params
            }
        }
    }
}

fn worker_impl(worker: &WorkerDef) -> TokenStream {
    let item = &worker.item;
    let task = &worker.task;
    let function = &item.sig.ident;
    let task_trait = quote!(::parallelizer::__private::Task);

    let inputs = item
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(typed) => Some(&*typed.ty),
            FnArg::Receiver(_) => None,
        })
        .collect::<Vec<_>>();
    let arity = inputs.len();
    let (task_id_ty, extra_tys) = inputs
        .split_first()
        .expect("validate checked the worker has parameters");
    let extras = (1..arity)
        .map(|i| format_ident!("__parallelizer_param_{}", i))
        .collect::<Vec<_>>();

    // The task picks the parameters after `task_id`; a worker of the wrong
    // arity fails here once, on its parameter list.
    let params_span = item.sig.paren_token.span.join();
    let task_at_params = respan(task.to_token_stream(), params_span);
    let pick = quote_spanned! {params_span=>
        let (#(#extras,)*) =
            <#task_at_params as ::parallelizer::__private::WorkerParams<#arity>>::params(memory, args);
    };
    // Each parameter and the return value are checked against the task in a
    // binding spanned on the user's type, so a mismatch is reported there.
    let task_id = quote_spanned! {task_id_ty.span()=>
        let __parallelizer_task_id: #task_id_ty = task_id;
    };
    let extras_checked = extras.iter().zip(extra_tys).map(|(extra, ty)| {
        let value = Ident::new(&extra.to_string(), ty.span());
        quote_spanned!(ty.span()=> let #extra: #ty = #value;)
    });
    let ReturnType::Type(_, output_ty) = &item.sig.output else {
        unreachable!("validate checked the worker returns a value")
    };
    let output = quote_spanned!(output_ty.span()=> __parallelizer_output);

    // A second worker for the task conflicts here, on the attribute's task.
    let header = quote_spanned!(task.span()=> impl ::parallelizer::__private::Worker for #task);

    quote! {
        #item

        #header {
            #[inline]
            #[allow(clippy::type_complexity)]
            fn run(
                task_id: usize,
                memory: &<#task as #task_trait>::Memory,
                args: &<#task as #task_trait>::Args,
            ) -> <#task as #task_trait>::Output {
                #pick
                #task_id
                #(#extras_checked)*
                let __parallelizer_output: #output_ty =
                    #function(__parallelizer_task_id #(, #extras)*);
                #output
            }
        }
    }
}

/// The same tokens, all spanned at `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut inner = Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                token = TokenTree::Group(inner);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
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
