//! The parsed model of `#[task(...)]` and `#[worker(...)]`: what the user
//! wrote, before any check beyond syntax.
//!
//! Parsing a task's attribute is lenient: a pair that does not parse, or has
//! an unknown or repeated key, is an error, and the pairs around it are still
//! read. A task whose attribute or checks fail still gets a stand-in
//! expansion built from what was read, so that its workers and dispatches
//! add no errors of their own.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Ident, ItemFn, ItemStruct, Path, Token, Type};

use crate::util::Errors;

/// `#[task(packet = (T1, ..., Tn), memory = M, args = A, state = S)]` on a struct.
pub struct TaskDef {
    /// The struct, as written.
    pub item: ItemStruct,
    /// The packet, if the attribute gives one.
    pub packet: Option<Packet>,
    /// The `memory` type, if the attribute gives one.
    pub memory: Option<Type>,
    /// The `args` type, if the attribute gives one.
    pub args: Option<Type>,
    /// The `state` type, if the attribute gives one.
    pub state: Option<Type>,
    /// Whether part of the attribute could not be read (a syntax error, an
    /// unknown or repeated key): a key that seems missing may be there.
    pub malformed: bool,
}

/// The `packet = ...` of a task.
pub struct Packet {
    /// The packet type as written, for errors about the packet as a whole.
    pub ty: Type,
    /// The packet's field types, in order: the tuple's elements. A packet
    /// written as a single type, `u32` or `(u32)`, which `validate` rejects,
    /// is read as that one field. None for a whole packet.
    pub fields: Vec<Type>,
    /// Whether the packet is a struct deriving `WireType` as a whole,
    /// `packet = Cell`: written as a plain name that is no built-in type.
    pub whole: bool,
}

impl Packet {
    fn new(ty: Type) -> Self {
        let whole = crate::whole_packet::is_whole(ungroup(&ty));
        let fields = match ungroup(&ty) {
            _ if whole => Vec::new(),
            Type::Tuple(tuple) => tuple.elems.iter().cloned().collect(),
            Type::Paren(paren) => vec![(*paren.elem).clone()],
            other => vec![other.clone()],
        };
        Packet { ty, fields, whole }
    }

    /// The packet type as written, without the invisible group a
    /// `macro_rules!` `$packet:ty` wraps it in.
    pub fn written(&self) -> &Type {
        ungroup(&self.ty)
    }
}

fn ungroup(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => ungroup(&group.elem),
        other => other,
    }
}

impl TaskDef {
    /// Reads the attribute's `key = value` pairs for `item`. Every error is
    /// pushed on `errors`, and what could be read is kept.
    pub fn parse(attr: TokenStream, item: ItemStruct, errors: &mut Errors) -> TaskDef {
        let mut task = TaskDef {
            item,
            packet: None,
            memory: None,
            args: None,
            state: None,
            malformed: false,
        };
        let parser = |input: ParseStream| {
            while !input.is_empty() {
                if let Err(error) = task.pair(input) {
                    errors.push(error);
                    task.malformed = true;
                    skip_to_next_pair(input)?;
                }
                if !input.is_empty() {
                    input.parse::<Token![,]>()?;
                }
            }
            Ok(())
        };
        if let Err(error) = parser.parse2(attr) {
            errors.push(error);
            task.malformed = true;
        }
        task
    }

    /// Reads one `key = value` pair, up to the comma after it.
    fn pair(&mut self, input: ParseStream) -> syn::Result<()> {
        let key: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        let value: Type = input.parse()?;
        let given_twice = || syn::Error::new(key.span(), format!("`{key}` is given twice"));
        match key.to_string().as_str() {
            "packet" if self.packet.is_some() => return Err(given_twice()),
            "packet" => self.packet = Some(Packet::new(value)),
            "memory" | "args" | "state" => {
                let slot = if key == "memory" {
                    &mut self.memory
                } else if key == "args" {
                    &mut self.args
                } else {
                    &mut self.state
                };
                if slot.is_some() {
                    return Err(given_twice());
                }
                *slot = Some(value);
            }
            other => {
                return Err(syn::Error::new(
                    key.span(),
                    format!(
                    "unknown key `{other}`: #[task] takes `packet`, `memory`, `args` and `state`"
                ),
                ))
            }
        }
        if !input.is_empty() && !input.peek(Token![,]) {
            return Err(input.error("expected `,` between #[task]'s `key = value` pairs"));
        }
        Ok(())
    }

    /// The span of the packet as written, for errors and generated code
    /// about the packet as a whole; the attribute's without a packet.
    pub fn packet_span(&self) -> Span {
        self.packet
            .as_ref()
            .map_or_else(Span::call_site, |packet| packet.ty.span())
    }

    /// The packet's field types, in order; none without a packet.
    pub fn fields(&self) -> &[Type] {
        self.packet
            .as_ref()
            .map_or(&[], |packet| packet.fields.as_slice())
    }

    /// How many parameters the task's worker takes: `task_id`, then memory,
    /// args and state when declared.
    pub fn worker_arity(&self) -> usize {
        1 + usize::from(self.memory.is_some())
            + usize::from(self.args.is_some())
            + usize::from(self.state.is_some())
    }
}

/// After a pair that does not parse: skips to the comma before the next
/// `key =`, so a comma inside the broken value (`HashMap<u32, u32>`) does
/// not start a pair of its own.
fn skip_to_next_pair(input: ParseStream) -> syn::Result<()> {
    let at_next_pair =
        |input: ParseStream| input.peek(Token![,]) && input.peek2(Ident) && input.peek3(Token![=]);
    while !input.is_empty() && !at_next_pair(input) {
        input.parse::<TokenTree>()?;
    }
    Ok(())
}

/// `#[worker(Task)]` on a function.
pub struct WorkerDef {
    /// The task the function works for, as written in the attribute.
    pub task: Path,
    /// The function, as written.
    pub item: ItemFn,
}

impl WorkerDef {
    /// The worker of `task` that `item` declares.
    pub fn new(task: Path, item: ItemFn) -> Self {
        WorkerDef { task, item }
    }
}
