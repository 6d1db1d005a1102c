//! Plane geometry the runner needs: oriented bounding boxes of entities, their
//! overlap (collisions) and gap (freespace distances), and transition shapes.

use crate::model::Shape;

/// An oriented rectangle in the ground plane.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rect {
    pub(crate) cx: f64,
    pub(crate) cy: f64,
    pub(crate) heading: f64,
    pub(crate) half_length: f64,
    pub(crate) half_width: f64,
}

impl Rect {
    pub(crate) fn corners(&self) -> [(f64, f64); 4] {
        let (s, c) = self.heading.sin_cos();
        let (l, w) = (self.half_length, self.half_width);
        [(l, w), (-l, w), (-l, -w), (l, -w)]
            .map(|(dx, dy)| (self.cx + dx * c - dy * s, self.cy + dx * s + dy * c))
    }

    fn axes(&self) -> [(f64, f64); 2] {
        let (s, c) = self.heading.sin_cos();
        [(c, s), (-s, c)]
    }
}

/// True when the two rectangles overlap (separating axis test; touching counts).
pub(crate) fn overlap(a: &Rect, b: &Rect) -> bool {
    let (ca, cb) = (a.corners(), b.corners());
    for (ax, ay) in a.axes().into_iter().chain(b.axes()) {
        let project = |corners: &[(f64, f64); 4]| {
            corners
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (x, y)| {
                    let p = x * ax + y * ay;
                    (lo.min(p), hi.max(p))
                })
        };
        let (a_lo, a_hi) = project(&ca);
        let (b_lo, b_hi) = project(&cb);
        if a_hi < b_lo || b_hi < a_lo {
            return false;
        }
    }
    true
}

fn point_segment_distance(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let length_squared = dx * dx + dy * dy;
    let t = if length_squared > 0.0 {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / length_squared).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (a.0 + t * dx, a.1 + t * dy);
    ((p.0 - qx).powi(2) + (p.1 - qy).powi(2)).sqrt()
}

/// Shortest distance between two rectangles; 0 when they overlap.
pub(crate) fn gap(a: &Rect, b: &Rect) -> f64 {
    if overlap(a, b) {
        return 0.0;
    }
    let (ca, cb) = (a.corners(), b.corners());
    let mut best = f64::INFINITY;
    for i in 0..4 {
        let (a0, a1) = (ca[i], ca[(i + 1) % 4]);
        let (b0, b1) = (cb[i], cb[(i + 1) % 4]);
        for p in cb {
            best = best.min(point_segment_distance(p, a0, a1));
        }
        for p in ca {
            best = best.min(point_segment_distance(p, b0, b1));
        }
    }
    best
}

/// Shortest distance from a point to a rectangle; 0 inside.
pub(crate) fn point_gap(r: &Rect, x: f64, y: f64) -> f64 {
    let (s, c) = r.heading.sin_cos();
    let (dx, dy) = (x - r.cx, y - r.cy);
    let (u, v) = (dx * c + dy * s, -dx * s + dy * c);
    let ou = (u.abs() - r.half_length).max(0.0);
    let ov = (v.abs() - r.half_width).max(0.0);
    (ou * ou + ov * ov).sqrt()
}

/// The shape's progress (0→1) at normalised time τ in 0..=1.
pub(crate) fn shape_value(shape: Shape, tau: f64) -> f64 {
    let tau = tau.clamp(0.0, 1.0);
    match shape {
        Shape::Step => 1.0,
        Shape::Linear => tau,
        Shape::Cubic => tau * tau * (3.0 - 2.0 * tau),
        Shape::Sinusoidal => (1.0 - (std::f64::consts::PI * tau).cos()) / 2.0,
    }
}

/// Angle wrapped to (−π, π].
pub(crate) fn wrap_angle(angle: f64) -> f64 {
    let two_pi = std::f64::consts::TAU;
    let mut a = angle % two_pi;
    if a <= -std::f64::consts::PI {
        a += two_pi;
    } else if a > std::f64::consts::PI {
        a -= two_pi;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(cx: f64, cy: f64, heading: f64) -> Rect {
        Rect {
            cx,
            cy,
            heading,
            half_length: 2.0,
            half_width: 1.0,
        }
    }

    #[test]
    fn overlap_and_gap() {
        assert!(overlap(&rect(0.0, 0.0, 0.0), &rect(3.9, 0.0, 0.0)));
        assert!(!overlap(&rect(0.0, 0.0, 0.0), &rect(4.1, 0.0, 0.0)));
        assert!((gap(&rect(0.0, 0.0, 0.0), &rect(5.0, 0.0, 0.0)) - 1.0).abs() < 1e-12);
        assert!((gap(&rect(0.0, 0.0, 0.0), &rect(0.0, 3.0, 0.0)) - 1.0).abs() < 1e-12);
        // Rotated by 90°: its half length now extends along y.
        assert!(overlap(
            &rect(0.0, 0.0, 0.0),
            &rect(0.0, 2.9, std::f64::consts::FRAC_PI_2)
        ));
        assert_eq!(gap(&rect(0.0, 0.0, 0.3), &rect(0.5, 0.2, 1.0)), 0.0);
        assert!((point_gap(&rect(0.0, 0.0, 0.0), 4.0, 0.0) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn shapes_start_at_zero_and_end_at_one() {
        for shape in [Shape::Linear, Shape::Cubic, Shape::Sinusoidal] {
            assert!(shape_value(shape, 0.0).abs() < 1e-12);
            assert!((shape_value(shape, 1.0) - 1.0).abs() < 1e-12);
            assert!((shape_value(shape, 0.5) - 0.5).abs() < 1e-12);
        }
        assert_eq!(shape_value(Shape::Step, 0.0), 1.0);
        assert!((wrap_angle(3.0 * std::f64::consts::PI) - std::f64::consts::PI).abs() < 1e-12);
    }
}
