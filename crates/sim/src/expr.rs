//! Parameter references (`$name`) and expressions (`${...}`) as OpenSCENARIO 1.1+
//! defines them: numbers, parameters, `+ - * / % **`, unary minus, comparisons,
//! `not`/`and`/`or`, parentheses and the standard functions (round, floor, ceil,
//! sqrt, pow, sin, cos, tan, asin, acos, atan, sign, abs, max, min). Booleans are
//! 1 and 0 inside arithmetic, as the standard's conversion rules say.

/// Deepest nesting of parentheses/unary operators in one expression; the
/// recursive-descent evaluator recurses once per level.
const MAX_EXPRESSION_DEPTH: usize = 64;

/// Where and why an expression failed; the caller adds the file position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExprError {
    pub(crate) offset: usize,
    pub(crate) message: String,
}

/// Evaluates `text` (the part between `${` and `}`); `lookup` gives a parameter's
/// value as written (a number or `true`/`false`).
pub(crate) fn evaluate(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<f64, ExprError> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        index: 0,
        lookup,
        depth: 0,
        end: text.chars().count(),
    };
    let value = parser.or()?;
    if let Some((offset, token)) = parser.tokens.get(parser.index) {
        return Err(ExprError {
            offset: *offset,
            message: format!("unexpected {token:?} after a complete expression"),
        });
    }
    if !value.is_finite() {
        return Err(ExprError {
            offset: 0,
            message: format!("result {value} is not a finite number"),
        });
    }
    Ok(value)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(f64),
    Parameter(String),
    Identifier(String),
    Symbol(&'static str),
}

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let literal: String = chars[start..i].iter().collect();
            let value = literal.parse::<f64>().map_err(|_| ExprError {
                offset: start,
                message: format!("`{literal}` is not a number"),
            })?;
            tokens.push((start, Token::Number(value)));
            continue;
        }
        if c == '$' || c.is_alphabetic() || c == '_' {
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if let Some(name) = word.strip_prefix('$') {
                if name.is_empty() {
                    return Err(ExprError {
                        offset: start,
                        message: "`$` without a parameter name".into(),
                    });
                }
                tokens.push((start, Token::Parameter(name.to_string())));
            } else {
                tokens.push((start, Token::Identifier(word)));
            }
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let symbol = match two.as_str() {
            "**" => Some("**"),
            "==" => Some("=="),
            "!=" => Some("!="),
            "<=" => Some("<="),
            ">=" => Some(">="),
            "&&" => Some("and"),
            "||" => Some("or"),
            _ => None,
        };
        if let Some(symbol) = symbol {
            tokens.push((start, Token::Symbol(symbol)));
            i += 2;
            continue;
        }
        let symbol = match c {
            '+' => "+",
            '-' => "-",
            '*' => "*",
            '/' => "/",
            '%' => "%",
            '(' => "(",
            ')' => ")",
            ',' => ",",
            '<' => "<",
            '>' => ">",
            '!' => "not",
            _ => {
                return Err(ExprError {
                    offset: start,
                    message: format!(
                        "unexpected character `{c}`; allowed are numbers, $parameters, + - * / % ** ( ) , comparisons, not/and/or and functions"
                    ),
                });
            }
        };
        tokens.push((start, Token::Symbol(symbol)));
        i += 1;
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: Vec<(usize, Token)>,
    index: usize,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    depth: usize,
    end: usize,
}

impl Parser<'_> {
    fn peek_symbol(&self, symbol: &str) -> bool {
        match self.tokens.get(self.index) {
            Some((_, Token::Symbol(s))) => *s == symbol,
            Some((_, Token::Identifier(word))) => word == symbol,
            _ => false,
        }
    }

    fn offset(&self) -> usize {
        self.tokens.get(self.index).map_or(self.end, |(o, _)| *o)
    }

    fn or(&mut self) -> Result<f64, ExprError> {
        let mut left = self.and()?;
        while self.peek_symbol("or") {
            self.index += 1;
            let right = self.and()?;
            left = f64::from(u8::from(left != 0.0 || right != 0.0));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<f64, ExprError> {
        let mut left = self.not()?;
        while self.peek_symbol("and") {
            self.index += 1;
            let right = self.not()?;
            left = f64::from(u8::from(left != 0.0 && right != 0.0));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<f64, ExprError> {
        if self.peek_symbol("not") {
            self.index += 1;
            self.enter()?;
            let value = self.not()?;
            self.depth -= 1;
            return Ok(f64::from(u8::from(value == 0.0)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<f64, ExprError> {
        let left = self.additive()?;
        for symbol in ["==", "!=", "<=", ">=", "<", ">"] {
            if self.peek_symbol(symbol) {
                self.index += 1;
                let right = self.additive()?;
                let result = match symbol {
                    "==" => left == right,
                    "!=" => left != right,
                    "<=" => left <= right,
                    ">=" => left >= right,
                    "<" => left < right,
                    _ => left > right,
                };
                return Ok(f64::from(u8::from(result)));
            }
        }
        Ok(left)
    }

    fn additive(&mut self) -> Result<f64, ExprError> {
        let mut left = self.multiplicative()?;
        loop {
            if self.peek_symbol("+") {
                self.index += 1;
                left += self.multiplicative()?;
            } else if self.peek_symbol("-") {
                self.index += 1;
                left -= self.multiplicative()?;
            } else {
                return Ok(left);
            }
        }
    }

    fn multiplicative(&mut self) -> Result<f64, ExprError> {
        let mut left = self.unary()?;
        loop {
            let operator = ["*", "/", "%"].into_iter().find(|s| self.peek_symbol(s));
            let Some(operator) = operator else {
                return Ok(left);
            };
            let at = self.offset();
            self.index += 1;
            let right = self.unary()?;
            left = match operator {
                "*" => left * right,
                _ if right == 0.0 => {
                    return Err(ExprError {
                        offset: at,
                        message: format!("division by zero (`{operator}` with a right side of 0)"),
                    });
                }
                "/" => left / right,
                // The standard's modulo is the remainder with the dividend's sign (C fmod).
                _ => left % right,
            };
        }
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_EXPRESSION_DEPTH {
            return Err(ExprError {
                offset: self.offset(),
                message: format!("nested deeper than {MAX_EXPRESSION_DEPTH} levels"),
            });
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<f64, ExprError> {
        if self.peek_symbol("-") {
            self.index += 1;
            self.enter()?;
            let value = self.unary()?;
            self.depth -= 1;
            return Ok(-value);
        }
        if self.peek_symbol("+") {
            self.index += 1;
            self.enter()?;
            let value = self.unary()?;
            self.depth -= 1;
            return Ok(value);
        }
        let base = self.primary()?;
        if self.peek_symbol("**") {
            self.index += 1;
            self.enter()?;
            let exponent = self.unary()?;
            self.depth -= 1;
            return Ok(base.powf(exponent));
        }
        Ok(base)
    }

    fn expect(&mut self, symbol: &str) -> Result<(), ExprError> {
        if self.peek_symbol(symbol) {
            self.index += 1;
            Ok(())
        } else {
            Err(ExprError {
                offset: self.offset(),
                message: format!("expected `{symbol}`"),
            })
        }
    }

    fn primary(&mut self) -> Result<f64, ExprError> {
        let offset = self.offset();
        let Some((_, token)) = self.tokens.get(self.index).cloned() else {
            return Err(ExprError {
                offset,
                message: "expression ends where a value was expected".into(),
            });
        };
        self.index += 1;
        match token {
            Token::Number(value) => Ok(value),
            Token::Parameter(name) => {
                let raw = (self.lookup)(&name).ok_or_else(|| ExprError {
                    offset,
                    message: format!("parameter `${name}` is not declared"),
                })?;
                scalar(&raw).ok_or_else(|| ExprError {
                    offset,
                    message: format!(
                        "parameter `${name}` has value `{raw}`, which is not a number or boolean"
                    ),
                })
            }
            Token::Symbol("(") => {
                self.enter()?;
                let value = self.or()?;
                self.depth -= 1;
                self.expect(")")?;
                Ok(value)
            }
            // `pi` is not in the standard's grammar, but esmini scenarios use it.
            Token::Identifier(word) if word == "pi" => Ok(std::f64::consts::PI),
            Token::Identifier(word) if word == "true" => Ok(1.0),
            Token::Identifier(word) if word == "false" => Ok(0.0),
            Token::Identifier(function) => {
                self.expect("(")?;
                let mut arguments = Vec::new();
                if !self.peek_symbol(")") {
                    loop {
                        self.enter()?;
                        arguments.push(self.or()?);
                        self.depth -= 1;
                        if self.peek_symbol(",") {
                            self.index += 1;
                        } else {
                            break;
                        }
                    }
                }
                self.expect(")")?;
                call(&function, &arguments).map_err(|message| ExprError { offset, message })
            }
            Token::Symbol(symbol) => Err(ExprError {
                offset,
                message: format!("unexpected `{symbol}` where a value was expected"),
            }),
        }
    }
}

fn call(function: &str, arguments: &[f64]) -> Result<f64, String> {
    let one = |f: fn(f64) -> f64| match arguments {
        [x] => Ok(f(*x)),
        _ => Err(format!(
            "{function}() takes one argument, got {}",
            arguments.len()
        )),
    };
    let two = |f: fn(f64, f64) -> f64| match arguments {
        [x, y] => Ok(f(*x, *y)),
        _ => Err(format!(
            "{function}() takes two arguments, got {}",
            arguments.len()
        )),
    };
    let value = match function {
        // OpenSCENARIO rounds half away from zero, like Rust's f64::round.
        "round" => one(f64::round),
        "floor" => one(f64::floor),
        "ceil" => one(f64::ceil),
        "sqrt" => match arguments {
            [x] if *x < 0.0 => Err(format!("sqrt() of negative number {x}")),
            _ => one(f64::sqrt),
        },
        "sin" => one(f64::sin),
        "cos" => one(f64::cos),
        "tan" => one(f64::tan),
        "asin" => one(f64::asin),
        "acos" => one(f64::acos),
        "atan" => one(f64::atan),
        "abs" => one(f64::abs),
        "sign" => one(|x| {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        }),
        "pow" => two(f64::powf),
        "max" => two(f64::max),
        "min" => two(f64::min),
        _ => Err(format!(
            "unknown function `{function}`; known: round floor ceil sqrt pow sin cos tan asin acos atan sign abs max min"
        )),
    }?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(format!("{function}() gives {value} for these arguments"))
    }
}

/// A parameter value as a number: numbers as written, `true`/`false` as 1/0.
pub(crate) fn scalar(raw: &str) -> Option<f64> {
    match raw.trim() {
        "true" => Some(1.0),
        "false" => Some(0.0),
        other => other.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

/// Formats a computed value the way it substitutes back into an attribute:
/// integers without a fraction so integer-typed attributes accept them.
pub(crate) fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str) -> Result<f64, ExprError> {
        evaluate(text, &|name| match name {
            "Speed" => Some("30".into()),
            "Flag" => Some("true".into()),
            "Name" => Some("car".into()),
            _ => None,
        })
    }

    #[test]
    fn arithmetic_follows_precedence() {
        assert_eq!(eval("1 + 2 * 3").unwrap(), 7.0);
        assert_eq!(eval("(1 + 2) * 3").unwrap(), 9.0);
        assert_eq!(eval("-2 ** 2").unwrap(), -4.0);
        assert_eq!(eval("$Speed / 2 * 3").unwrap(), 45.0);
        assert_eq!(eval("7 % 4 - -1").unwrap(), 4.0);
        assert_eq!(eval("-7 % 4").unwrap(), -3.0);
        assert_eq!(eval("1.5e1 + .5").unwrap(), 15.5);
        assert_eq!(
            eval("max(2, min(5, $Speed)) + round(2.5) + sign(-3)").unwrap(),
            7.0
        );
    }

    #[test]
    fn booleans_and_comparisons() {
        assert_eq!(eval("$Speed > 20 and not $Flag == false").unwrap(), 1.0);
        assert_eq!(eval("1 < 0 or 2 <= 1").unwrap(), 0.0);
        assert_eq!(eval("true + true").unwrap(), 2.0);
        assert_eq!(eval("pi / 2").unwrap(), std::f64::consts::FRAC_PI_2);
    }

    #[test]
    fn errors_carry_offsets() {
        assert_eq!(eval("1 / (2 - 2)").unwrap_err().offset, 2);
        assert!(
            eval("1 / (2 - 2)")
                .unwrap_err()
                .message
                .contains("division by zero")
        );
        assert_eq!(eval("3 % 0").unwrap_err().offset, 2);
        assert_eq!(eval("$Missing + 1").unwrap_err().offset, 0);
        assert!(
            eval("$Name + 1")
                .unwrap_err()
                .message
                .contains("not a number")
        );
        assert!(eval("1 +").is_err());
        assert!(eval("(1").is_err());
        assert!(eval("1 2").is_err());
        assert!(eval("foo(1)").is_err());
        assert!(eval("sqrt(-1)").is_err());
        assert!(eval("1 # 2").is_err());
        assert!(eval("").is_err());
        assert!(eval(&"(".repeat(200)).is_err());
        assert!(eval(&"-".repeat(200)).is_err());
    }
}
