//! Every schema and worker mistake is a compile error on the user's token.
//! The expected messages live beside each case in `tests/ui/*.stderr`;
//! regenerate them with `TRYBUILD=overwrite cargo test --test compile_fail`
//! and review the diff.

#[test]
fn mistakes_are_compile_errors_on_the_offending_token() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
