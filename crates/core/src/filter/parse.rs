//! Lexer and recursive-descent parser. Recursion happens only at parentheses, whose nesting is
//! limited to [`MAX_DEPTH`], so no input can exhaust the stack; the input is at most
//! [`MAX_LENGTH`](super::MAX_LENGTH) bytes and holds at most [`MAX_COMPARISONS`] comparisons.
//!
//! ```text
//! filter     = [expression]
//! expression = sequence { "AND" sequence }
//! sequence   = factor { factor }             (juxtaposition: AND)
//! factor     = term { "OR" term }            (OR binds tighter than AND)
//! term       = [ "NOT" | "-" ] simple
//! simple     = comparison | "(" expression ")"
//! comparison = FIELD OPERATOR value          (OPERATOR: = != < <= > >= :)
//! value      = STRING | WORD
//! ```

use super::{Expr, MAX_COMPARISONS, MAX_DEPTH, Operator, ParseError, RawValue, Schema};

fn error<T>(offset: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        offset,
        message: message.into(),
    })
}

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    LParen,
    RParen,
    Minus,
    Operator(Operator),
    /// A bare word: a field, a keyword (`AND`, `OR`, `NOT`) or an unquoted value.
    Word(String),
    /// A double-quoted string, unescaped.
    Str(String),
}

#[derive(Clone, Debug, PartialEq)]
struct Token {
    kind: Kind,
    offset: usize,
    end: usize,
}

/// Characters that end a bare word.
fn is_delimiter(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '(' | ')' | '"' | '\'' | '=' | '!' | '<' | '>' | ':' | ',' | '\\'
        )
}

fn lex(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        let next_is = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>, want: char| {
            chars.next_if(|&(_, next)| next == want).is_some()
        };
        let kind = match c {
            c if c.is_whitespace() => continue,
            '(' => Kind::LParen,
            ')' => Kind::RParen,
            '-' => Kind::Minus,
            '=' => Kind::Operator(Operator::Eq),
            '!' if next_is(&mut chars, '=') => Kind::Operator(Operator::Ne),
            '!' => return error(offset, "expected `!=`"),
            '<' if next_is(&mut chars, '=') => Kind::Operator(Operator::Le),
            '<' => Kind::Operator(Operator::Lt),
            '>' if next_is(&mut chars, '=') => Kind::Operator(Operator::Ge),
            '>' => Kind::Operator(Operator::Gt),
            ':' => Kind::Operator(Operator::Has),
            '\'' => return error(offset, "strings are written in double quotes"),
            '"' => {
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return error(offset, "unterminated string"),
                        Some((_, '"')) => break,
                        Some((escape, '\\')) => match chars.next() {
                            Some((_, quoted @ ('"' | '\\'))) => value.push(quoted),
                            _ => {
                                return error(escape, "only \\\" and \\\\ escapes are allowed");
                            }
                        },
                        Some((_, c)) => value.push(c),
                    }
                }
                Kind::Str(value)
            }
            c if c.is_control() || is_delimiter(c) => {
                return error(offset, format!("unexpected character {c:?}"));
            }
            c => {
                let mut word = String::from(c);
                while let Some((_, next)) = chars.next_if(|&(_, next)| !is_delimiter(next)) {
                    word.push(next);
                }
                Kind::Word(word)
            }
        };
        let end = chars.peek().map_or(text.len(), |&(end, _)| end);
        tokens.push(Token { kind, offset, end });
    }
    Ok(tokens)
}

/// Parses `text` (already checked against the length limit); `None` when it is blank.
pub(super) fn parse<S: Schema>(
    text: &str,
    schema: &S,
) -> Result<Option<Expr<S::Comparison>>, ParseError> {
    let tokens = lex(text)?;
    if tokens.is_empty() {
        return Ok(None);
    }
    let mut parser = Parser {
        schema,
        tokens,
        position: 0,
        depth: 0,
        comparisons: 0,
        end: text.len(),
    };
    let expr = parser.expression()?;
    match parser.peek() {
        None => Ok(Some(expr)),
        Some(token) if token.kind == Kind::RParen => error(token.offset, "unbalanced `)`"),
        Some(token) => error(token.offset, "expected AND, OR or the end of the filter"),
    }
}

struct Parser<'s, S> {
    schema: &'s S,
    tokens: Vec<Token>,
    position: usize,
    depth: usize,
    comparisons: usize,
    /// The input length: the offset reported for "unexpected end".
    end: usize,
}

impl<S: Schema> Parser<'_, S> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn advance(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.position).cloned();
        self.position += usize::from(token.is_some());
        token
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token { kind: Kind::Word(word), .. }) if word == keyword)
    }

    /// The offset of the next token, or of the end.
    fn here(&self) -> usize {
        self.peek().map_or(self.end, |token| token.offset)
    }

    fn expression(&mut self) -> Result<Expr<S::Comparison>, ParseError> {
        let mut parts = vec![self.sequence()?];
        while self.at_keyword("AND") {
            self.advance();
            parts.push(self.sequence()?);
        }
        Ok(combine(parts, Expr::And))
    }

    fn sequence(&mut self) -> Result<Expr<S::Comparison>, ParseError> {
        let mut parts = vec![self.factor()?];
        // Another term follows unless the next token ends this sequence.
        while self.peek().is_some_and(|token| token.kind != Kind::RParen)
            && !self.at_keyword("AND")
            && !self.at_keyword("OR")
        {
            parts.push(self.factor()?);
        }
        Ok(combine(parts, Expr::And))
    }

    fn factor(&mut self) -> Result<Expr<S::Comparison>, ParseError> {
        let mut parts = vec![self.term()?];
        while self.at_keyword("OR") {
            self.advance();
            parts.push(self.term()?);
        }
        Ok(combine(parts, Expr::Or))
    }

    fn term(&mut self) -> Result<Expr<S::Comparison>, ParseError> {
        let negated =
            self.at_keyword("NOT") || matches!(self.peek(), Some(t) if t.kind == Kind::Minus);
        if negated {
            self.advance();
            return Ok(Expr::Not(Box::new(self.simple()?)));
        }
        self.simple()
    }

    fn simple(&mut self) -> Result<Expr<S::Comparison>, ParseError> {
        let Some(token) = self.peek().cloned() else {
            return error(
                self.end,
                "expected a comparison, found the end of the filter",
            );
        };
        match &token.kind {
            Kind::LParen => {
                if self.depth == MAX_DEPTH {
                    return error(
                        token.offset,
                        format!("parentheses nest deeper than {MAX_DEPTH}"),
                    );
                }
                self.depth += 1;
                self.advance();
                let inner = self.expression()?;
                match self.advance() {
                    Some(Token {
                        kind: Kind::RParen, ..
                    }) => {}
                    Some(other) => {
                        return error(other.offset, "expected `)` or AND, OR");
                    }
                    None => {
                        return error(
                            self.end,
                            format!("missing `)` for the `(` at byte {}", token.offset),
                        );
                    }
                }
                self.depth -= 1;
                Ok(inner)
            }
            Kind::Word(word) if !matches!(word.as_str(), "AND" | "OR" | "NOT") => self.comparison(),
            Kind::Word(keyword) => error(
                token.offset,
                format!("expected a comparison, found the keyword {keyword}"),
            ),
            _ => error(token.offset, "expected a comparison or `(`"),
        }
    }

    fn comparison(&mut self) -> Result<Expr<S::Comparison>, ParseError> {
        let Some(Token {
            kind: Kind::Word(name),
            offset,
            ..
        }) = self.advance()
        else {
            return error(self.here(), "expected a field name");
        };
        self.comparisons += 1;
        if self.comparisons > MAX_COMPARISONS {
            return error(offset, format!("more than {MAX_COMPARISONS} comparisons"));
        }
        let field = self
            .schema
            .field(&name)
            .map_err(|message| ParseError { offset, message })?;
        let operator = match self.advance() {
            Some(Token {
                kind: Kind::Operator(operator),
                offset,
                ..
            }) => {
                self.schema
                    .check_operator(field, operator)
                    .map_err(|message| ParseError { offset, message })?;
                operator
            }
            Some(token) => {
                return error(token.offset, format!("expected an operator after `{name}`"));
            }
            None => {
                return error(self.end, format!("expected an operator after `{name}`"));
            }
        };
        let (text, quoted, value_offset) = self.value()?;
        let comparison = self
            .schema
            .comparison(
                field,
                operator,
                RawValue {
                    text: &text,
                    quoted,
                },
            )
            .map_err(|message| ParseError {
                offset: value_offset,
                message,
            })?;
        Ok(Expr::Compare(comparison))
    }

    /// The value's text, whether it was quoted, and its offset.
    fn value(&mut self) -> Result<(String, bool, usize), ParseError> {
        let Some(token) = self.advance() else {
            return error(self.end, "expected a value, found the end of the filter");
        };
        match token.kind {
            Kind::Str(text) => Ok((text, true, token.offset)),
            Kind::Word(word) if !matches!(word.as_str(), "AND" | "OR" | "NOT") => {
                Ok((word, false, token.offset))
            }
            // A negative number: `-` directly followed by a word.
            Kind::Minus => match self.peek() {
                Some(Token {
                    kind: Kind::Word(word),
                    offset,
                    ..
                }) if *offset == token.end => {
                    let text = format!("-{word}");
                    self.advance();
                    Ok((text, false, token.offset))
                }
                _ => error(token.offset, "expected a value"),
            },
            _ => error(token.offset, "expected a value"),
        }
    }
}

/// One part as itself, several joined by `join`.
fn combine<C>(mut parts: Vec<Expr<C>>, join: fn(Vec<Expr<C>>) -> Expr<C>) -> Expr<C> {
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        join(parts)
    }
}
