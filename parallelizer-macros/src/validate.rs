//! Checks on the model that syntax alone can decide. Each error is spanned
//! on the user's offending token; the type checks that need the compiler
//! (is this type a `WireType`? does the worker match its task?) are left to
//! code that `expand` spans the same way.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Fields, FnArg, GenericArgument, PathArguments, ReturnType, Type};

use crate::model::{Packet, TaskDef, WorkerDef};
use crate::util::{type_name, Errors};

/// Checks a task's struct and packet, pushing every error on `errors`.
pub fn task(task: &TaskDef, errors: &mut Errors) {
    let item = &task.item;
    if !matches!(item.fields, Fields::Unit) {
        errors.push(syn::Error::new(
            item.fields.span(),
            format!(
                "a task is a unit struct, `struct {};`: its data goes in `memory` or `args`",
                item.ident
            ),
        ));
    }
    if !item.generics.params.is_empty() {
        errors.push(syn::Error::new(
            item.generics.span(),
            "a task cannot be generic: declare one task per packet",
        ));
    }
    match &task.packet {
        // Unless the attribute is malformed: the packet may be in the part
        // that could not be read, which has its own error.
        None if !task.malformed => errors.push(syn::Error::new(
            Span::call_site(),
            "#[task] needs a packet: `#[task(packet = (u16, FixedStr<11>))]`",
        )),
        None => {}
        Some(packet) => {
            if let Err(error) = packet_shape(packet) {
                errors.push(error);
                return;
            }
            if packet.fields.is_empty() && !packet.whole {
                errors.push(syn::Error::new(
                    task.packet_span(),
                    "a packet needs at least one field, such as `(u32,)`",
                ));
            }
            for field in &packet.fields {
                if let Err(error) = wire_type(field) {
                    errors.push(error);
                }
            }
        }
    }
}

/// A packet is a tuple, or a struct as a whole.
fn packet_shape(packet: &Packet) -> syn::Result<()> {
    match packet.written() {
        Type::Tuple(_) => Ok(()),
        // A struct deriving `WireType`: the compiler checks that it does.
        _ if packet.whole => Ok(()),
        Type::Paren(paren) => Err(syn::Error::new(
            paren.span(),
            "a packet is a tuple: write a packet of one field with a trailing comma, `(T,)`",
        )),
        other => Err(syn::Error::new(
            other.span(),
            "a packet is a tuple of wire types, such as `(u16, FixedStr<11>)`; \
             one field is written `(T,)`",
        )),
    }
}

/// Rejects the types that are known not to be wire types, with advice on
/// what to use instead. Other types are checked by the `WireType` bound.
/// `#[derive(WireType)]` checks its fields with it too.
pub fn wire_type(ty: &Type) -> syn::Result<()> {
    let advice = match ty {
        Type::Reference(_) | Type::Ptr(_) => {
            "a packet holds values, not references or pointers: use the value's type"
        }
        Type::Slice(_) | Type::Array(_) => {
            "a packet field has a fixed wire size: for bytes use `FixedBytes<N>` \
             (at most N bytes); otherwise list each element as its own field"
        }
        Type::Tuple(_) => "packets are flat: list the nested tuple's types as fields of the packet",
        Type::Paren(paren) => return wire_type(&paren.elem),
        Type::Group(group) => return wire_type(&group.elem),
        Type::ImplTrait(_)
        | Type::TraitObject(_)
        | Type::Infer(_)
        | Type::Never(_)
        | Type::BareFn(_) => {
            "a packet field is a concrete wire type, such as `u32` or `FixedStr<11>`"
        }
        Type::Path(path) if path.qself.is_none() => {
            let Some(last) = path.path.segments.last() else {
                return Ok(());
            };
            match last.ident.to_string().as_str() {
                "usize" | "isize" => {
                    "`usize` and `isize` have a platform-dependent size: use `u32` or `u64` \
                     (`i32` or `i64`) so the packet has the same bytes on every machine"
                }
                "String" | "str" | "Cow" => {
                    "a packet field has a fixed wire size: use `FixedStr<N>`, a UTF-8 string \
                     of at most N bytes"
                }
                "Vec" | "Box" | "VecDeque" | "Rc" | "Arc" => {
                    "a packet field has a fixed wire size: use `FixedBytes<N>` for at most N \
                     bytes, or one field per value"
                }
                "Option" => {
                    "a packet field has a fixed wire size: use a `bool` field beside the value"
                }
                "char" | "u128" | "i128" => {
                    "this type has no wire form: use `u32`, `u64` or `i64`, or `FixedStr<N>` \
                     for text"
                }
                _ => return Ok(()),
            }
        }
        _ => return Ok(()),
    };
    Err(syn::Error::new(
        ty.span(),
        format!("`{}` cannot be a packet field: {advice}", type_name(ty)),
    ))
}

/// Checks a worker's signature, pushing every error on `errors`.
pub fn worker(worker: &WorkerDef, errors: &mut Errors) {
    let sig = &worker.item.sig;
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new(
            sig.generics.span(),
            "a worker cannot be generic: it runs one task, whose types are fixed",
        ));
    }
    if let Some(asyncness) = &sig.asyncness {
        errors.push(syn::Error::new(
            asyncness.span(),
            "a worker is a plain function, not `async`: each call computes one task id's packet",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new(
            variadic.span(),
            "a worker cannot be variadic",
        ));
    }
    if let ReturnType::Default = sig.output {
        errors.push(syn::Error::new(
            sig.paren_token.span.join(),
            format!(
                "a worker returns its task's packet tuple: add `-> (...)` with the types of \
                 `{}`'s packet",
                path_name(&worker.task)
            ),
        ));
    }
    if sig.inputs.is_empty() {
        errors.push(syn::Error::new(
            sig.paren_token.span.join(),
            "a worker takes `task_id: usize`, then `&Memory` if its task declares `memory`, \
             then `&Args` if it declares `args`, then `&mut State` if it declares `state`",
        ));
    }
    for (index, input) in sig.inputs.iter().enumerate() {
        match input {
            FnArg::Receiver(receiver) => errors.push(syn::Error::new(
                receiver.span(),
                "a worker is a free function, not a method: it takes no `self`",
            )),
            FnArg::Typed(typed) if index >= 4 => errors.push(syn::Error::new(
                typed.span(),
                "a worker takes at most 4 parameters: `task_id: usize`, `&Memory`, `&Args`, \
                 `&mut State`",
            )),
            FnArg::Typed(typed) if contains_impl_trait(&typed.ty) => errors.push(syn::Error::new(
                typed.ty.span(),
                "a worker's parameters have concrete types, not `impl Trait`",
            )),
            FnArg::Typed(_) => {}
        }
    }
}

fn contains_impl_trait(ty: &Type) -> bool {
    match ty {
        Type::ImplTrait(_) => true,
        Type::Reference(reference) => contains_impl_trait(&reference.elem),
        Type::Paren(paren) => contains_impl_trait(&paren.elem),
        Type::Path(path) => path
            .path
            .segments
            .iter()
            .any(|segment| match &segment.arguments {
                PathArguments::AngleBracketed(args) => args.args.iter().any(|arg| match arg {
                    GenericArgument::Type(ty) => contains_impl_trait(ty),
                    _ => false,
                }),
                _ => false,
            }),
        _ => false,
    }
}

fn path_name(path: &syn::Path) -> String {
    path.segments
        .last()
        .map_or_else(String::new, |segment| segment.ident.to_string())
}
