//! The parsed model of `#[task(...)]` and `#[worker(...)]`: what the user
//! wrote, before any check beyond syntax.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Ident, ItemFn, ItemStruct, Path, Token, Type};

/// `#[task(packet = (T1, ..., Tn), memory = M, args = A)]` on a struct.
pub struct TaskDef {
    /// The struct, as written.
    pub item: ItemStruct,
    /// The packet's field types, in order.
    pub packet: Vec<Type>,
    /// The span of the packet tuple, for errors about the packet as a whole.
    pub packet_span: Span,
    pub memory: Option<Type>,
    pub args: Option<Type>,
}

/// The attribute's `key = value` pairs, before checking that `packet` is there.
#[derive(Default)]
pub struct TaskAttr {
    pub packet: Option<Type>,
    pub memory: Option<Type>,
    pub args: Option<Type>,
}

impl Parse for TaskAttr {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut attr = TaskAttr::default();
        let pairs = Punctuated::<KeyValue, Token![,]>::parse_terminated(input)?;
        for KeyValue { key, value } in pairs {
            let slot = match key.to_string().as_str() {
                "packet" => &mut attr.packet,
                "memory" => &mut attr.memory,
                "args" => &mut attr.args,
                other => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!(
                            "unknown key `{other}`: #[task] takes `packet`, `memory` and `args`"
                        ),
                    ))
                }
            };
            if slot.is_some() {
                return Err(syn::Error::new(
                    key.span(),
                    format!("`{key}` is given twice"),
                ));
            }
            *slot = Some(value);
        }
        Ok(attr)
    }
}

struct KeyValue {
    key: Ident,
    value: Type,
}

impl Parse for KeyValue {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        Ok(KeyValue {
            key,
            value: input.parse()?,
        })
    }
}

impl TaskDef {
    pub fn new(attr: TaskAttr, item: ItemStruct) -> syn::Result<Self> {
        let Some(packet) = attr.packet else {
            return Err(syn::Error::new(
                Span::call_site(),
                "#[task] needs a packet: `#[task(packet = (u16, FixedStr<11>))]`",
            ));
        };
        let packet_span = packet.span();
        let packet = match packet {
            Type::Tuple(tuple) => tuple.elems.into_iter().collect(),
            Type::Paren(paren) => return Err(syn::Error::new(
                paren.span(),
                "a packet is a tuple: write a packet of one field with a trailing comma, `(T,)`",
            )),
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    "a packet is a tuple of wire types, such as `(u16, FixedStr<11>)`; \
                     one field is written `(T,)`",
                ))
            }
        };
        Ok(TaskDef {
            item,
            packet,
            packet_span,
            memory: attr.memory,
            args: attr.args,
        })
    }

    /// How many parameters the task's worker takes: `task_id`, then memory
    /// and args when declared.
    pub fn worker_arity(&self) -> usize {
        1 + usize::from(self.memory.is_some()) + usize::from(self.args.is_some())
    }
}

/// `#[worker(Task)]` on a function.
pub struct WorkerDef {
    /// The task the function works for, as written in the attribute.
    pub task: Path,
    /// The function, as written.
    pub item: ItemFn,
}

impl WorkerDef {
    pub fn new(task: Path, item: ItemFn) -> Self {
        WorkerDef { task, item }
    }
}
