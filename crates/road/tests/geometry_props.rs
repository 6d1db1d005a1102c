//! Properties every plan-view shape must have, over random parameters: s is arc
//! length (points h apart along s are h apart along the curve, up to the
//! chord's shortfall), the heading is the curve's tangent, and the curvature is
//! the heading's rate of change.

use proptest::prelude::*;
use road::{Geometry, ParamRange, Shape};

fn shape() -> impl Strategy<Value = (Shape, f64)> {
    let curvature = -0.1f64..0.1;
    prop_oneof![
        (1.0f64..300.0).prop_map(|length| (Shape::Line, length)),
        (curvature.clone(), 1.0f64..200.0)
            .prop_map(|(curvature, length)| (Shape::Arc { curvature }, length)),
        (curvature.clone(), curvature.clone(), 1.0f64..200.0).prop_map(|(start, end, length)| {
            (
                Shape::Spiral {
                    curvature_start: start,
                    curvature_end: end,
                },
                length,
            )
        }),
        (
            -0.5f64..0.5,
            -0.01f64..0.01,
            -0.0002f64..0.0002,
            5.0f64..80.0
        )
            .prop_map(|(b, c, d, length)| {
                (
                    Shape::Poly3 {
                        coefficients: [0.0, b, c, d],
                    },
                    length,
                )
            }),
        (
            5.0f64..60.0,
            -10.0f64..10.0,
            -10.0f64..10.0,
            -5.0f64..5.0,
            any::<bool>()
        )
            .prop_map(|(scale, cu, cv, dv, normalized)| {
                // A forward-moving curve: u' stays positive for these ranges.
                let u = [0.0, scale, cu.clamp(-scale / 4.0, scale / 4.0), 0.0];
                let v = [0.0, 0.0, cv, dv];
                // Length: the curve's own arc length over p in [0, 1], by fine
                // summation of chords.
                let point = |p: f64| {
                    let eval = |c: &[f64; 4]| c[0] + p * (c[1] + p * (c[2] + p * c[3]));
                    (eval(&u), eval(&v))
                };
                let steps = 20_000;
                let mut length = 0.0;
                let mut previous = point(0.0);
                for step in 1..=steps {
                    let next = point(step as f64 / steps as f64);
                    length += (next.0 - previous.0).hypot(next.1 - previous.1);
                    previous = next;
                }
                // pRange arcLength runs p over [0, length]: substitute p = q / length.
                let range = if normalized {
                    ParamRange::Normalized
                } else {
                    ParamRange::ArcLength
                };
                let (u, v) = if normalized {
                    (u, v)
                } else {
                    let stretch = |c: [f64; 4]| {
                        [
                            c[0],
                            c[1] / length,
                            c[2] / length.powi(2),
                            c[3] / length.powi(3),
                        ]
                    };
                    (stretch(u), stretch(v))
                };
                (Shape::ParamPoly3 { u, v, range }, length)
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn s_is_arc_length_and_heading_is_tangent(
        (shape, length) in shape(),
        x in -1000.0f64..1000.0,
        y in -1000.0f64..1000.0,
        heading in -7.0f64..7.0,
        fraction in 0.0f64..0.99,
    ) {
        let geometry = Geometry::new(0.0, x, y, heading, length, shape.clone());
        let start = geometry.point(0.0);
        prop_assert!((start.x - x).abs() < 1e-9 && (start.y - y).abs() < 1e-9);
        // Polynomials may start at an angle to the record's heading (atan of
        // their initial slope); the others start along it.
        if matches!(shape, Shape::Line | Shape::Arc { .. } | Shape::Spiral { .. }) {
            prop_assert!((start.heading - heading).sin().abs() < 1e-9);
        }
        let h = 1e-3;
        let s = fraction * (length - h);
        let a = geometry.point(s);
        let b = geometry.point(s + h);
        let chord = (b.x - a.x).hypot(b.y - a.y);
        // A chord of length h on a curve of curvature κ falls short of the arc
        // by about κ²h³/24, negligible here; allow arc-length tables 1e-4 relative.
        prop_assert!((chord - h).abs() < 1e-4 * h + 1e-9, "{shape:?}: chord {chord} for h {h}");
        let direction = (b.y - a.y).atan2(b.x - a.x);
        let middle = geometry.point(s + h / 2.0);
        prop_assert!((direction - middle.heading).sin().abs() < 1e-5, "{shape:?}: tangent {direction} vs heading {}", middle.heading);
        let turn = (b.heading - a.heading).sin();
        prop_assert!((turn / h - middle.curvature).abs() < 1e-4 + 1e-3 * middle.curvature.abs(), "{shape:?}: curvature");
    }
}
