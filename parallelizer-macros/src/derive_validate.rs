//! Checks on a `#[derive(WireType)]` model that syntax alone can decide,
//! each spanned on the offending token. Whether each field's type is a wire
//! type is left to the compiler, on code that `derive_expand` spans on the
//! field's type.

use syn::spanned::Spanned;

use crate::derive_model::{Body, WireDef};
use crate::util::Errors;
use crate::validate::wire_type;

/// What `#[derive(WireType)]` supports, for errors about what it does not.
const SUPPORTED: &str = "#[derive(WireType)] supports structs whose fields are wire types, \
                         and fieldless enums with `#[repr(u8)]`, `#[repr(u16)]` or `#[repr(u32)]`";

/// Checks a type that derives `WireType`, pushing every error on `errors`.
pub fn wire(def: &WireDef, errors: &mut Errors) {
    if !def.generics.params.is_empty() {
        errors.push(syn::Error::new(
            def.generics.span(),
            format!(
                "a wire type cannot be generic: its wire form has one fixed layout; \
                 declare one type per layout. {SUPPORTED}"
            ),
        ));
    }
    match &def.body {
        Body::Struct { fields, .. } => {
            if fields.is_empty() {
                errors.push(syn::Error::new(
                    def.ident.span(),
                    format!(
                        "`{}` has no fields, so its wire form would be empty: a wire struct \
                         needs at least one field",
                        def.ident
                    ),
                ));
            }
            for field in fields {
                if let Err(error) = wire_type(&field.ty) {
                    errors.push(error);
                }
            }
        }
        Body::Enum { repr, variants } => {
            for variant in variants {
                if let Some(span) = variant.fields {
                    errors.push(syn::Error::new(
                        span,
                        format!(
                            "variant `{}` has fields: a wire enum is stored as its discriminant \
                             alone, so its variants have none; put the data in a struct \
                             beside it. {SUPPORTED}",
                            variant.ident
                        ),
                    ));
                }
            }
            if variants.is_empty() {
                errors.push(syn::Error::new(
                    def.ident.span(),
                    format!(
                        "`{}` has no variants, so no value can be read back: a wire enum needs \
                         at least one",
                        def.ident
                    ),
                ));
            }
            match repr {
                None => errors.push(syn::Error::new(
                    def.ident.span(),
                    format!(
                        "`{}` needs `#[repr(u8)]`, `#[repr(u16)]` or `#[repr(u32)]`: its wire \
                         form is its discriminant, whose size the `repr` fixes",
                        def.ident
                    ),
                )),
                Some(repr) if !matches!(repr.to_string().as_str(), "u8" | "u16" | "u32") => {
                    errors.push(syn::Error::new(
                        repr.span(),
                        format!(
                            "`#[repr({repr})]` is not supported: a wire enum's discriminant is \
                             `u8`, `u16` or `u32`"
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
        Body::Union(span) => errors.push(syn::Error::new(
            *span,
            format!("a union cannot be a wire type: its bytes do not say which field they hold. {SUPPORTED}"),
        )),
    }
}
