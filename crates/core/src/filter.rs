//! AIP-160 filters: the lexer, the parser and the expression tree every list method shares.
//!
//! The grammar is generic; what a comparison may say is not. A [`Schema`] — one per list method,
//! in the service that owns it — resolves field names, says which operators a field takes and
//! turns each value into the method's own comparison type. The parser calls it at each
//! comparison, so every error names the byte offset of the field, operator or value at fault.
//! Compiling the tree to SQL is the service's job (`pake_runtime::sql` has the shared pieces).
//!
//! Comparisons `FIELD OP VALUE` combine with `AND`, `OR`, `NOT` (or a leading `-`), parentheses,
//! and whitespace as an implicit `AND`. As AIP-160 says, `OR` binds tighter than `AND`:
//! `a AND b OR c` is `a AND (b OR c)`. Hostile input is bounded: at most [`MAX_LENGTH`] bytes,
//! [`MAX_COMPARISONS`] comparisons and [`MAX_DEPTH`] levels of parentheses.

mod parse;
pub mod value;

use crate::Error;

/// Maximum filter length in bytes.
pub const MAX_LENGTH: usize = 2048;
/// Maximum number of comparisons in one filter.
pub const MAX_COMPARISONS: usize = 64;
/// Maximum nesting of parentheses.
pub const MAX_DEPTH: usize = 16;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `:` ("has"): membership or substring, as the field defines it.
    Has,
}

impl Operator {
    /// The operator as written in filters.
    pub fn symbol(self) -> &'static str {
        match self {
            Operator::Eq => "=",
            Operator::Ne => "!=",
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
            Operator::Has => ":",
        }
    }

    /// Whether this is `<`, `<=`, `>` or `>=`.
    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            Operator::Lt | Operator::Le | Operator::Gt | Operator::Ge
        )
    }
}

/// A parsed filter expression over comparisons of type `C`.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr<C> {
    And(Vec<Expr<C>>),
    Or(Vec<Expr<C>>),
    Not(Box<Expr<C>>),
    Compare(C),
}

/// The value of a comparison as written: a double-quoted string (unescaped) or a bare word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawValue<'a> {
    /// The string's contents, or the word.
    pub text: &'a str,
    /// Whether it was a double-quoted string.
    pub quoted: bool,
}

/// What the fields of one list method are. Each method returns the message shown to the client
/// (after `filter: `, followed by the byte offset) when it refuses.
pub trait Schema {
    /// A resolved field name.
    type Field: Copy;
    /// A checked comparison.
    type Comparison;

    /// The field named `name` (as written, case-sensitive), or why there is none — typically
    /// "unknown field `x`; filterable fields: …".
    fn field(&self, name: &str) -> Result<Self::Field, String>;

    /// Whether `field` takes `operator`.
    fn check_operator(&self, field: Self::Field, operator: Operator) -> Result<(), String>;

    /// The comparison `field operator value`, or why `value` does not fit the field.
    fn comparison(
        &self,
        field: Self::Field,
        operator: Operator,
        value: RawValue<'_>,
    ) -> Result<Self::Comparison, String>;
}

/// Why a filter does not parse, and where (a byte offset into it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

/// Parses `text` against `schema`; `None` for a blank filter, which matches everything. Errors
/// are INVALID_ARGUMENT naming `filter`, with the byte offset of the problem.
pub fn parse<S: Schema>(text: &str, schema: &S) -> Result<Option<Expr<S::Comparison>>, Error> {
    if text.len() > MAX_LENGTH {
        return Err(Error::invalid_field(
            "filter",
            format!("must be at most {MAX_LENGTH} bytes"),
        ));
    }
    parse::parse(text, schema).map_err(|error| {
        Error::invalid_field(
            "filter",
            format!("{} (at byte {})", error.message, error.offset),
        )
    })
}

/// "unknown field `name`; filterable fields: a, b, c" — the usual [`Schema::field`] refusal.
pub fn unknown_field(name: &str, fields: &[&str]) -> String {
    format!(
        "unknown field `{}`; filterable fields: {}",
        value::shorten(name),
        fields.join(", ")
    )
}

#[cfg(test)]
mod tests;
