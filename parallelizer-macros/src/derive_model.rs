//! The parsed model of `#[derive(WireType)]`: the struct's fields or the
//! enum's variants and `repr`, as the user wrote them, before any check
//! beyond syntax.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Generics, Ident, Member, Meta, Token, Type, Visibility};

use crate::util::Errors;

/// A type that derives `WireType`.
pub struct WireDef {
    /// The type's name.
    pub ident: Ident,
    /// The type's visibility, which its wire form shares.
    pub vis: Visibility,
    /// The type's generics, which are refused.
    pub generics: Generics,
    /// What the type is.
    pub body: Body,
}

/// A struct, an enum or a union.
pub enum Body {
    /// A struct: named fields, tuple fields, or none.
    Struct {
        /// Whether the fields are named (`{ a: T }`), not positional (`(T)`).
        named: bool,
        /// The fields, in order.
        fields: Vec<WireField>,
    },
    /// An enum.
    Enum {
        /// The integer named in `#[repr(...)]`, if any.
        repr: Option<Ident>,
        /// The variants, in order.
        variants: Vec<WireVariant>,
    },
    /// A union, which is refused: the span of its `union` keyword.
    Union(Span),
}

/// One field of a struct.
pub struct WireField {
    /// How the field is named in code: `height`, or `0`.
    pub member: Member,
    /// The field's name in the schema: `"height"`, or `"0"`.
    pub name: String,
    /// The field's visibility, which its wire field shares.
    pub vis: Visibility,
    /// The field's type.
    pub ty: Type,
}

/// One variant of an enum.
pub struct WireVariant {
    /// The variant's name.
    pub ident: Ident,
    /// The span of its fields, if it has any (which is refused).
    pub fields: Option<Span>,
}

impl WireDef {
    /// Reads the derive's input. A `#[repr]` that does not parse is an
    /// error pushed on `errors`; the rest is kept.
    pub fn parse(input: DeriveInput, errors: &mut Errors) -> WireDef {
        let body = match input.data {
            Data::Struct(data) => {
                let named = matches!(data.fields, Fields::Named(_));
                let fields = data
                    .fields
                    .into_iter()
                    .enumerate()
                    .map(|(index, field)| {
                        let (member, name) = match field.ident {
                            Some(ident) => {
                                (Member::Named(ident.clone()), ident.unraw().to_string())
                            }
                            None => (Member::Unnamed(index.into()), index.to_string()),
                        };
                        WireField {
                            member,
                            name,
                            vis: field.vis,
                            ty: field.ty,
                        }
                    })
                    .collect();
                Body::Struct { named, fields }
            }
            Data::Enum(data) => Body::Enum {
                repr: repr(&input.attrs, errors),
                variants: data
                    .variants
                    .into_iter()
                    .map(|variant| WireVariant {
                        fields: (!matches!(variant.fields, Fields::Unit))
                            .then(|| variant.fields.span()),
                        ident: variant.ident,
                    })
                    .collect(),
            },
            Data::Union(data) => Body::Union(data.union_token.span),
        };
        WireDef {
            ident: input.ident,
            vis: input.vis,
            generics: input.generics,
            body,
        }
    }
}

/// The integer type a `#[repr(...)]` names, such as `u8` in `#[repr(u8)]`
/// or `#[repr(C, u8)]`: the first of them, if there are several.
fn repr(attrs: &[syn::Attribute], errors: &mut Errors) -> Option<Ident> {
    const INTEGERS: [&str; 12] = [
        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
    ];
    let mut found = None;
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("repr")) {
        let metas = match attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
            Ok(metas) => metas,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        for meta in metas {
            if let Meta::Path(path) = meta {
                if let Some(ident) = path.get_ident() {
                    if found.is_none() && INTEGERS.contains(&ident.to_string().as_str()) {
                        found = Some(ident.clone());
                    }
                }
            }
        }
    }
    found
}
