//! `Val`: how a property value is held inside a twin. JSON's `Value` takes 80
//! bytes with ordered objects; most twin values are numbers, booleans and short
//! strings, so they are kept in 24 bytes and turned back into JSON when shown.

use serde_json::{Number, Value};

use crate::twin::Prop;

/// A property value (or a component's values) as a twin holds it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Val {
    Null,
    Bool(bool),
    /// A JSON integer that fits `u64` (serde_json's `PosInt`).
    U64(u64),
    /// A negative JSON integer.
    I64(i64),
    /// A JSON number with a fraction or exponent.
    F64(f64),
    Str(Box<str>),
    /// Objects and arrays stay JSON.
    Json(Box<Value>),
    /// A component: its own properties, each with its update time.
    Component(Box<[Prop]>),
}

impl Val {
    /// Takes a JSON value apart; the inverse of `to_json` for every non-component value.
    pub(crate) fn from_json(value: Value) -> Val {
        match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    Val::U64(u)
                } else if let Some(i) = n.as_i64() {
                    Val::I64(i)
                } else {
                    Val::F64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => Val::Str(s.into_boxed_str()),
            other => Val::Json(Box::new(other)),
        }
    }

    /// The JSON value; a component becomes `Null` here (its JSON needs names, see
    /// `twin::prop_value`).
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Val::Null | Val::Component(_) => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::U64(u) => Value::Number(Number::from(*u)),
            Val::I64(i) => Value::Number(Number::from(*i)),
            Val::F64(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Val::Str(s) => Value::String(s.to_string()),
            Val::Json(v) => (**v).clone(),
        }
    }

    /// Whether this value equals a JSON value (as `Value`'s own equality would).
    pub(crate) fn eq_json(&self, value: &Value) -> bool {
        match (self, value) {
            (Val::Null, Value::Null) => true,
            (Val::Bool(a), Value::Bool(b)) => a == b,
            (Val::Str(a), Value::String(b)) => **a == *b,
            (Val::Json(a), b) => **a == *b,
            (Val::U64(_) | Val::I64(_) | Val::F64(_), Value::Number(_)) => self.to_json() == *value,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_round_trip_exactly() {
        for v in [
            json!(null),
            json!(true),
            json!(0),
            json!(7),
            json!(-7),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(0.5),
            json!(-0.0),
            json!(1e300),
            json!("x"),
            json!([1, "a"]),
            json!({ "b": 1, "a": 2 }),
        ] {
            let val = Val::from_json(v.clone());
            assert_eq!(val.to_json(), v, "{val:?}");
            assert!(val.eq_json(&v));
        }
        assert!(
            !Val::from_json(json!(1)).eq_json(&json!(1.0)),
            "1 and 1.0 differ in JSON, as in serde_json"
        );
    }

    #[test]
    fn values_stay_small() {
        assert_eq!(std::mem::size_of::<Val>(), 24);
        assert!(std::mem::size_of::<Prop>() <= 40);
    }
}
