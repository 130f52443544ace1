//! Code generation. Generated code names runtime items only through
//! `::parallelizer::__private`, and every type check it leaves to the
//! compiler is spanned on the user's token, so a mismatch reads as one error
//! in the right place.

use proc_macro2::{Group, Ident, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{FnArg, Index, ReturnType, Type};

use crate::model::{TaskDef, WorkerDef};
use crate::util::{type_name, wire_struct_derives};

/// The code of a valid task: its struct, packet struct and impls.
pub fn task(task: &TaskDef) -> TokenStream {
    let item = &task.item;
    let ident = &item.ident;
    let packet_span = task.packet_span();
    let packet = packet_ident(task);
    let name = ident.to_string();
    let fields = task.fields();
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
    // the fields' wire forms. Whether each field's type is a wire type is
    // checked once, in `__PARALLELIZER_WIRE_CHECK`, spanned on the type; the
    // other uses of a field's `WireType` impl name the type through
    // `Checked` at that check, so once it has failed they add no errors.
    let checks = fields.iter().map(|ty| {
        quote_spanned! {ty.span()=>
            let _ = ::core::mem::size_of::<<#ty as ::parallelizer::__private::WireType>::Wire>();
        }
    });
    let check_item = (!fields.is_empty()).then(|| {
        quote! {
            impl #ident {
                /// 0 once every packet field's type is a wire type; an error
                /// otherwise.
                #[doc(hidden)]
                const __PARALLELIZER_WIRE_CHECK: usize = { #(#checks)* 0 };
            }
        }
    });
    let checked = |ty: &Type| {
        quote_spanned! {ty.span()=>
            <<#ty as ::parallelizer::__private::Checked<{ #ident::__PARALLELIZER_WIRE_CHECK }>>::Is
                as ::parallelizer::__private::WireType>
        }
    };
    // The generated functions' parameters, spanned as where they are
    // declared (on the packet): the code around them is spanned on the
    // fields' types, which a `macro_rules!` macro may have written in a
    // context of its own.
    let output_arg = quote_spanned!(packet_span=> output);
    let packet_arg = quote_spanned!(packet_span=> packet);
    let wire = fields
        .iter()
        .map(|ty| {
            let as_wire = checked(ty);
            quote_spanned!(ty.span()=> #as_wire::Wire)
        })
        .collect::<Vec<_>>();
    let encode = fields.iter().zip(&index).map(|(ty, i)| {
        let as_wire = checked(ty);
        quote_spanned!(ty.span()=> #as_wire::to_wire(&#output_arg.#i))
    });
    let decode = fields.iter().zip(&index).map(|(ty, i)| {
        let as_wire = checked(ty);
        quote_spanned!(ty.span()=> #as_wire::from_wire(&#packet_arg.#i))
    });
    // Each field's size, spanned on its type like the other per-field uses.
    let sizes = fields
        .iter()
        .map(|ty| {
            let as_wire = checked(ty);
            quote_spanned!(ty.span()=> ::core::mem::size_of::<#as_wire::Wire>())
        })
        .collect::<Vec<_>>();
    // Each field's shape, named by its position, and the packet's.
    let shapes = fields.iter().zip(&index).zip(&sizes).map(|((ty, i), size)| {
        let name = i.index.to_string();
        let as_wire = checked(ty);
        quote_spanned!(ty.span()=> ::parallelizer::__private::field_shape(#name, #as_wire::shape(), #size))
    });
    let shape = quote!(::parallelizer::__private::tuple_shape([#(#shapes),*]));
    // A field whose wire form is empty would make an empty packet possible,
    // and a packet of zero bytes cannot be counted in a buffer: refused at
    // compile time, on the field's type. As the fields are, so is the packet:
    // it has at least one field, so it has at least one byte.
    let nonempty = fields.iter().map(|ty| {
        let message = format!(
            "`{0}` cannot be a packet field: a packet field must have a wire form of at \
             least 1 byte, but `<{0} as WireType>::Wire` has size 0",
            type_name(ty)
        );
        let as_wire = checked(ty);
        quote_spanned! {ty.span()=>
            const _: () = ::core::assert!(
                ::core::mem::size_of::<#as_wire::Wire>() != 0,
                #message,
            );
        }
    });
    let validate = fields.iter().zip(&index).map(|(ty, i)| {
        let as_wire = checked(ty);
        quote_spanned! {ty.span()=>
            #as_wire::validate(&#packet_arg.#i)
                .map_err(|reason| ::parallelizer::__private::FieldError { field: #i, reason })?;
        }
    });
    // The `Packet` bounds are checked on this item: spanned on the packet.
    let packet_ty = quote_spanned!(packet_span=> #packet<#(#wire),*>);
    let packet_size = quote_spanned!(packet_span=> ::core::mem::size_of::<#packet_ty>());
    let packet_ref = quote_spanned!(packet_span=> &#packet_ty);
    let packet_type = quote_spanned!(packet_span=> type Packet = #packet_ty;);
    // The functions that take or return a packet are spanned on the packet:
    // the compiler checks their signatures there.
    let codec = quote_spanned! {packet_span=>
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
    let (memory, args) = memory_and_args(task);
    let has_memory = task.memory.is_some();
    let packet_struct = packet_struct(task);
    let worker_params = worker_params(task);
    let mut parts = crate::whole_packet::Parts {
        output: quote!((#(#fields,)*)),
        packet_type,
        packet_size,
        field_types: quote!(&[#(#field_names),*]),
        field_sizes: quote!(&[#(#sizes),*]),
        codec,
        shape,
        packet_item: packet_struct,
    };
    // `packet = Cell`: the struct's wire form is the packet.
    if let Some(whole) = crate::whole_packet::parts(task) {
        parts = whole;
    }
    let crate::whole_packet::Parts {
        output,
        packet_type,
        packet_size,
        field_types,
        field_sizes,
        codec,
        shape,
        packet_item: packet_struct,
    } = parts;
    let task_state = task_state(task);

    quote! {
        #item

        #packet_struct

        #[automatically_derived]
        impl ::parallelizer::__private::SealedTask for #ident {}

        #task_state

        #[automatically_derived]
        impl ::parallelizer::__private::Task for #ident {
            type Output = #output;
            #packet_type
            type Memory = #memory;
            type Args = #args;

            const NAME: &'static str = #name;
            const PACKET_SIZE: usize = #packet_size;
            const HAS_MEMORY: bool = #has_memory;
            const FIELD_TYPES: &'static [&'static str] = #field_types;
            const FIELD_SIZES: &'static [usize] = #field_sizes;

            #codec

            fn packet_shape() -> ::parallelizer::__private::Shape {
                #shape
            }
        }

        #worker_params

        #check_item

        #(#nonempty)*
    }
}

/// The code of a task that failed to parse or validate, emitted beside its
/// errors, like thiserror's fallback: the struct as written, plus the same
/// items as a valid task with stand-ins where the attribute is wrong. Its
/// workers and dispatches then compile against what the user declared, so
/// one mistake in `#[task]` reads as that one error.
///
/// The packet's wire forms are `()`, the output's fields are the declared
/// types (or `()` for one that cannot even be named, such as `impl Trait`),
/// and the functions are never run. A generic struct gets no stand-in: its
/// impls would need bounds the user never wrote.
pub fn task_fallback(task: &TaskDef) -> TokenStream {
    let item = &task.item;
    if !item.generics.params.is_empty() {
        return item.to_token_stream();
    }
    let ident = &item.ident;
    let name = ident.to_string();
    let packet = packet_ident(task);
    let fields = task.fields();
    let output = fields.iter().map(|ty| {
        if nameable(ty) {
            ty.to_token_stream()
        } else {
            quote!(())
        }
    });
    // A whole packet's output is its struct.
    let output = match &task.packet {
        Some(packet) if packet.whole => packet.written().to_token_stream(),
        _ => quote!((#(#output,)*)),
    };
    let wire = fields.iter().map(|_| quote!(()));
    let (memory, args) = memory_and_args(task);
    let has_memory = task.memory.is_some();
    let packet_struct = packet_struct(task);
    let worker_params = worker_params(task);
    let task_state = task_state(task);
    let unreachable = format!("`{name}`'s #[task] has errors, so it cannot run");

    quote! {
        #item

        #packet_struct

        #[automatically_derived]
        impl ::parallelizer::__private::SealedTask for #ident {}

        #task_state

        #[automatically_derived]
        impl ::parallelizer::__private::Task for #ident {
            type Output = #output;
            type Packet = #packet<#(#wire),*>;
            type Memory = #memory;
            type Args = #args;

            const NAME: &'static str = #name;
            const PACKET_SIZE: usize = 0;
            const HAS_MEMORY: bool = #has_memory;
            const FIELD_TYPES: &'static [&'static str] = &[];
            const FIELD_SIZES: &'static [usize] = &[];

            fn encode(_: Self::Output) -> Self::Packet {
                ::core::unimplemented!(#unreachable)
            }

            fn decode(_: &Self::Packet) -> Self::Output {
                ::core::unimplemented!(#unreachable)
            }

            fn validate(
                _: &Self::Packet,
            ) -> ::core::result::Result<(), ::parallelizer::__private::FieldError> {
                ::core::unimplemented!(#unreachable)
            }
        }

        #worker_params
    }
}

/// Whether a declared field type can stand in the fallback's output as
/// written: a sized type with no inferred, `impl` or elided parts.
fn nameable(ty: &Type) -> bool {
    match ty {
        Type::Path(_) | Type::BareFn(_) | Type::Macro(_) | Type::Ptr(_) => true,
        Type::Array(array) => nameable(&array.elem),
        Type::Tuple(tuple) => tuple.elems.iter().all(nameable),
        Type::Paren(paren) => nameable(&paren.elem),
        Type::Group(group) => nameable(&group.elem),
        Type::Reference(reference) => {
            reference
                .lifetime
                .as_ref()
                .is_some_and(|lifetime| lifetime.ident == "static")
                && !matches!(*reference.elem, Type::ImplTrait(_) | Type::Infer(_))
        }
        _ => false,
    }
}

/// `HelloPacket` for task `Hello`, spanned on the packet.
fn packet_ident(task: &TaskDef) -> Ident {
    format_ident!("{}Packet", task.item.ident, span = task.packet_span())
}

/// The task's packet struct: a tuple struct generic over its fields' wire
/// forms, with the zerocopy traits.
fn packet_struct(task: &TaskDef) -> TokenStream {
    let vis = &task.item.vis;
    let packet = packet_ident(task);
    let name = task.item.ident.to_string();
    let generics = (0..task.fields().len())
        .map(|i| format_ident!("F{}", i))
        .collect::<Vec<_>>();
    let doc = format!(
        "The wire packet of [`{name}`]: its fields' wire forms in order, \
         {name}::PACKET_SIZE bytes with no padding. Generated by `#[task]`."
    );
    let derives = wire_struct_derives(true);
    quote! {
        #[doc = #doc]
        #derives
        #[repr(C)]
        #[allow(clippy::type_complexity)]
        #vis struct #packet<#(#generics),*>(#(pub #generics),*);
    }
}

/// The task's `Memory` and `Args` types: as declared, or `()`.
fn memory_and_args(task: &TaskDef) -> (TokenStream, TokenStream) {
    let declared = |ty: &Option<Type>| ty.as_ref().map_or(quote!(()), ToTokens::to_token_stream);
    (declared(&task.memory), declared(&task.args))
}

/// How the task's worker gets its parameters after `task_id`, for the one
/// arity its memory, args and state give: each in the wrapper of its
/// position and kind (`__private::params`), which checks the worker's
/// declared type and says what the position takes.
fn worker_params(task: &TaskDef) -> TokenStream {
    let ident = &task.item.ident;
    let arity = task.worker_arity();
    let mut types = Vec::new();
    let mut values = Vec::new();
    let wrap = |position: usize, kind: &str| {
        let name = format_ident!("{}{}", kind, position);
        quote!(::parallelizer::__private::params::#name)
    };
    if let Some(memory) = &task.memory {
        let wrapper = wrap(types.len() + 2, "Memory");
        types.push(quote!(#wrapper<&'a #memory>));
        values.push(quote!(#wrapper(memory)));
    }
    if let Some(args) = &task.args {
        let wrapper = wrap(types.len() + 2, "Args");
        types.push(quote!(#wrapper<&'a #args>));
        values.push(quote!(#wrapper(args)));
    }
    if let Some(state) = &task.state {
        let wrapper = wrap(types.len() + 2, "State");
        types.push(quote!(#wrapper<&'a mut #state>));
        values.push(quote!(#wrapper(state)));
    }
    // No parameters after `task_id`: the body ends with the statement
    // before, and returns `()`.
    let values = (!values.is_empty()).then(|| quote!((#(#values,)*)));
    quote! {
        #[automatically_derived]
        impl ::parallelizer::__private::WorkerParams<#arity> for #ident {
            type Params<'a> = (#(#types,)*);

            #[inline]
            fn params<'a>(
                memory: &'a Self::Memory,
                args: &'a Self::Args,
                state: &'a mut Self::State,
            ) -> Self::Params<'a> {
                let _ = (&memory, &args, &state);
                #values
            }
        }
    }
}

/// The task's `TaskState` impl: its state type (`()` without one), and
/// whether that type implements `Default`, told by autoref on the concrete
/// type.
fn task_state(task: &TaskDef) -> TokenStream {
    let ident = &task.item.ident;
    let has_state = task.state.is_some();
    let (state, default) = match &task.state {
        None => (quote!(()), quote!(::core::option::Option::Some(()))),
        Some(state) => (
            state.to_token_stream(),
            quote! {{
                #[allow(unused_imports)]
                use ::parallelizer::__private::{ViaDefault as _, ViaNothing as _};
                (&&::parallelizer::__private::StateProbe::<#state>::new()).state()
            }},
        ),
    };
    quote! {
        #[automatically_derived]
        impl ::parallelizer::__private::TaskState for #ident {
            type State = #state;

            const HAS_STATE: bool = #has_state;

            #[inline]
            fn default_state() -> ::core::option::Option<Self::State> {
                #default
            }
        }
    }
}

/// The code of a valid worker: its function and its task's `Worker` impl.
pub fn worker(worker: &WorkerDef) -> TokenStream {
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
            <#task_at_params as ::parallelizer::__private::WorkerParams<#arity>>::params(memory, args, state);
    };
    // Each parameter and the return value are checked against the task in a
    // binding spanned on the user's type, so a mismatch is reported there:
    // a parameter after `task_id` through its position's wrapper, whose
    // check says what that position takes.
    let task_id = quote_spanned! {task_id_ty.span()=>
        let __parallelizer_task_id: #task_id_ty = task_id;
    };
    let extras_checked = extras.iter().zip(extra_tys).map(|(extra, ty)| {
        let value = Ident::new(&extra.to_string(), ty.span());
        quote_spanned!(ty.span()=> let #extra: #ty = #value.param::<#ty>();)
    });
    let ReturnType::Type(_, output_ty) = &item.sig.output else {
        unreachable!("validate checked the worker returns a value")
    };
    let output = quote_spanned!(output_ty.span()=> __parallelizer_output);

    // A second worker for the task conflicts here, on the attribute's task.
    let header = quote_spanned!(task.span()=> impl ::parallelizer::__private::Worker for #task);

    quote! {
        #item

        #[automatically_derived]
        #header {
            #[inline]
            #[allow(clippy::type_complexity)]
            fn run_with_state(
                task_id: usize,
                memory: &<#task as #task_trait>::Memory,
                args: &<#task as #task_trait>::Args,
                state: &mut <#task as ::parallelizer::__private::TaskState>::State,
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
