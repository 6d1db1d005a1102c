//! Plan-view geometry of a road's reference line: line, arc, clothoid spiral, cubic
//! polynomial (`poly3`) and parametric cubic (`paramPoly3`), each evaluated at a
//! distance `ds` from its start, plus the numerical tools they need: Fresnel
//! integrals (power series near zero, a continued fraction for the complementary
//! error function further out) and arc-length tables for the polynomial curves,
//! whose own parameter is not arc length while OpenDRIVE's s is.

use std::f64::consts::PI;

/// Nodes of 10-point Gauss–Legendre quadrature on [-1, 1] (the positive half; the
/// rule is symmetric). Exact for polynomials up to degree 19.
const GAUSS_NODES: [f64; 5] = [
    0.148_874_338_981_631_2,
    0.433_395_394_129_247_2,
    0.679_409_568_299_024_4,
    0.865_063_366_688_984_5,
    0.973_906_528_517_171_7,
];
/// Weights belonging to [`GAUSS_NODES`].
const GAUSS_WEIGHTS: [f64; 5] = [
    0.295_524_224_714_752_9,
    0.269_266_719_309_996_3,
    0.219_086_362_515_982,
    0.149_451_349_150_580_6,
    0.066_671_344_308_688_1,
];

/// ∫ f over [a, b] by one 10-point Gauss–Legendre panel.
pub(crate) fn gauss<F: Fn(f64) -> f64>(f: &F, a: f64, b: f64) -> f64 {
    let half = 0.5 * (b - a);
    let mid = 0.5 * (a + b);
    let mut sum = 0.0;
    for (node, weight) in GAUSS_NODES.iter().zip(GAUSS_WEIGHTS) {
        sum += weight * (f(mid - half * node) + f(mid + half * node));
    }
    sum * half
}

/// Fresnel integrals C(x) = ∫₀ˣ cos(πt²/2) dt and S(x) = ∫₀ˣ sin(πt²/2) dt.
///
/// Below |x| = 1.5 the Maclaurin series of ∫₀ˣ exp(iπt²/2) dt converges fast and
/// without cancellation (largest term < 8). Above, C + iS is obtained from the
/// complementary error function, erfc(z) with z = (√π/2)(1 − i)x, whose continued
/// fraction converges quickly for large |z| and is evaluated with the modified
/// Lentz method. Both branches reach about 1e-15 absolute accuracy.
pub fn fresnel(x: f64) -> (f64, f64) {
    let magnitude = x.abs();
    let (c, s) = if magnitude < 1.5 {
        fresnel_series(magnitude)
    } else {
        fresnel_continued_fraction(magnitude)
    };
    // C and S are odd functions.
    if x < 0.0 { (-c, -s) } else { (c, s) }
}

/// The series Σₖ (iπ/2)ᵏ x²ᵏ⁺¹ / (k! (2k+1)); even k feed C, odd k feed S.
fn fresnel_series(x: f64) -> (f64, f64) {
    // Beyond ~40 terms every term is below 1e-30 for x < 1.5; the bound guards the loop.
    const MAX_TERMS: usize = 60;
    let half_pi_x2 = 0.5 * PI * x * x;
    let mut power = x; // (π/2 · x²)ᵏ · x / k!
    let mut c = 0.0;
    let mut s = 0.0;
    for k in 0..MAX_TERMS {
        let term = power / (2 * k + 1) as f64;
        // i^k cycles through 1, i, -1, -i.
        match k % 4 {
            0 => c += term,
            1 => s += term,
            2 => c -= term,
            _ => s -= term,
        }
        if term.abs() < 1e-18 * (c.abs() + s.abs() + 1e-300) {
            break;
        }
        power *= half_pi_x2 / (k + 1) as f64;
    }
    (c, s)
}

#[derive(Clone, Copy, Debug)]
struct Complex {
    re: f64,
    im: f64,
}

impl Complex {
    fn new(re: f64, im: f64) -> Complex {
        Complex { re, im }
    }
    fn add(self, other: Complex) -> Complex {
        Complex::new(self.re + other.re, self.im + other.im)
    }
    fn mul(self, other: Complex) -> Complex {
        Complex::new(
            self.re * other.re - self.im * other.im,
            self.re * other.im + self.im * other.re,
        )
    }
    fn scale(self, factor: f64) -> Complex {
        Complex::new(self.re * factor, self.im * factor)
    }
    fn inverse(self) -> Complex {
        let norm = self.re * self.re + self.im * self.im;
        Complex::new(self.re / norm, -self.im / norm)
    }
    fn abs(self) -> f64 {
        self.re.hypot(self.im)
    }
}

/// C + iS = (1+i)/2 · [1 − exp(iπx²/2) · (1 − i) x · F], where F is the continued
/// fraction 1/(b₀ + a₁/(b₁ + a₂/(…))) with b₀ = 1 − iπx², bₙ = b₀ + 4n and
/// aₙ = −(2n−1)(2n), the even part of the Laplace continued fraction of erfc.
fn fresnel_continued_fraction(x: f64) -> (f64, f64) {
    // For x ≥ 1.5 the fraction converges to machine precision in < 40 steps; the
    // bound guards against a non-converging loop on pathological input.
    const MAX_STEPS: usize = 200;
    const TINY: f64 = 1e-300;
    let pi_x2 = PI * x * x;
    let mut b = Complex::new(1.0, -pi_x2);
    let mut lentz_c = Complex::new(1.0 / TINY, 0.0);
    let mut lentz_d = b.inverse();
    let mut value = lentz_d;
    let mut odd = -1.0_f64;
    for _ in 0..MAX_STEPS {
        odd += 2.0;
        let a = -odd * (odd + 1.0);
        b = b.add(Complex::new(4.0, 0.0));
        lentz_d = lentz_d.scale(a).add(b).inverse();
        lentz_c = b.add(lentz_c.inverse().scale(a));
        let delta = lentz_c.mul(lentz_d);
        value = value.mul(delta);
        if delta.add(Complex::new(-1.0, 0.0)).abs() < 1e-16 {
            break;
        }
    }
    let value = value.mul(Complex::new(x, -x));
    let phase = Complex::new((0.5 * pi_x2).cos(), (0.5 * pi_x2).sin());
    let one_minus = Complex::new(1.0, 0.0).add(phase.mul(value).scale(-1.0));
    let result = Complex::new(0.5, 0.5).mul(one_minus);
    (result.re, result.im)
}

/// How `paramPoly3`'s parameter p runs over the geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamRange {
    /// p runs from 0 to the geometry's length.
    ArcLength,
    /// p runs from 0 to 1.
    Normalized,
}

/// The shape of one plan-view geometry record.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Straight line.
    Line,
    /// Constant curvature (1/m, positive turns left).
    Arc {
        /// Curvature in 1/m.
        curvature: f64,
    },
    /// Clothoid: curvature changes linearly with s.
    Spiral {
        /// Curvature at the start, 1/m.
        curvature_start: f64,
        /// Curvature at the end, 1/m.
        curvature_end: f64,
    },
    /// v(u) = a + b·u + c·u² + d·u³ in the local frame (deprecated in OpenDRIVE 1.6+).
    Poly3 {
        /// Coefficients a, b, c, d.
        coefficients: [f64; 4],
    },
    /// u(p), v(p) cubic in the local frame.
    ParamPoly3 {
        /// aU, bU, cU, dU.
        u: [f64; 4],
        /// aV, bV, cV, dV.
        v: [f64; 4],
        /// How p runs.
        range: ParamRange,
    },
}

/// One `<geometry>` record: a piece of the reference line starting at `s`.
#[derive(Debug, Clone)]
pub struct Geometry {
    /// s at the start of this piece, m.
    pub s: f64,
    /// Start point x, m.
    pub x: f64,
    /// Start point y, m.
    pub y: f64,
    /// Start heading, rad.
    pub heading: f64,
    /// Length along the reference line, m.
    pub length: f64,
    /// The curve.
    pub shape: Shape,
    /// Arc length against curve parameter, for poly3 and paramPoly3.
    table: Option<ArcTable>,
}

/// A point of the reference line: position, heading and curvature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinePoint {
    /// x, m.
    pub x: f64,
    /// y, m.
    pub y: f64,
    /// Heading, rad.
    pub heading: f64,
    /// Curvature, 1/m (positive turns left).
    pub curvature: f64,
}

fn cubic(coefficients: &[f64; 4], p: f64) -> f64 {
    let [a, b, c, d] = *coefficients;
    a + p * (b + p * (c + p * d))
}

fn cubic_slope(coefficients: &[f64; 4], p: f64) -> f64 {
    let [_, b, c, d] = *coefficients;
    b + p * (2.0 * c + p * 3.0 * d)
}

fn cubic_curve(coefficients: &[f64; 4], p: f64) -> f64 {
    let [_, _, c, d] = *coefficients;
    2.0 * c + 6.0 * d * p
}

/// Cumulative arc length of a parametric curve at panel boundaries, so that the
/// parameter for a given arc length is found by a table look-up plus Newton steps.
#[derive(Debug, Clone)]
struct ArcTable {
    parameters: Vec<f64>,
    lengths: Vec<f64>,
}

/// Panels per arc-length table. The curves are cubics, so a 10-point Gauss rule
/// per panel is accurate to far below a micrometre with this many panels.
const ARC_TABLE_PANELS: usize = 64;

impl ArcTable {
    fn new<F: Fn(f64) -> f64>(speed: &F, end: f64) -> ArcTable {
        let mut parameters = Vec::with_capacity(ARC_TABLE_PANELS + 1);
        let mut lengths = Vec::with_capacity(ARC_TABLE_PANELS + 1);
        parameters.push(0.0);
        lengths.push(0.0);
        let mut total = 0.0;
        for panel in 1..=ARC_TABLE_PANELS {
            let from = end * (panel - 1) as f64 / ARC_TABLE_PANELS as f64;
            let to = end * panel as f64 / ARC_TABLE_PANELS as f64;
            total += gauss(speed, from, to);
            parameters.push(to);
            lengths.push(total);
        }
        ArcTable {
            parameters,
            lengths,
        }
    }

    fn total(&self) -> f64 {
        self.lengths.last().copied().unwrap_or(0.0)
    }

    /// The parameter at which the arc length equals `target`.
    fn parameter_at<F: Fn(f64) -> f64>(&self, speed: &F, target: f64) -> f64 {
        let last = self.parameters.len() - 1;
        // max/min rather than clamp: a non-finite total (absurd coefficients) must
        // not panic.
        let target = target.max(0.0).min(self.total());
        let panel = match self
            .lengths
            .partition_point(|&length| length <= target)
            .checked_sub(1)
        {
            Some(index) => index.min(last.saturating_sub(1)),
            None => 0,
        };
        let (p0, p1) = (self.parameters[panel], self.parameters[panel + 1]);
        let (l0, l1) = (self.lengths[panel], self.lengths[panel + 1]);
        if l1 <= l0 {
            return p0;
        }
        let mut p = p0 + (target - l0) / (l1 - l0) * (p1 - p0);
        // Newton on A(p) − target; the speed is smooth and positive, so three
        // steps from the linear guess reach round-off.
        for _ in 0..4 {
            let length = l0 + gauss(speed, p0, p);
            let rate = speed(p);
            if rate <= f64::EPSILON {
                break;
            }
            let next = (p - (length - target) / rate).max(p0).min(p1);
            // Newton converges quadratically: after a step below a micrometre of
            // arc the remaining error is of order (1e-6)²·curvature, round-off.
            let done = ((next - p) * rate).abs() < 1e-6;
            p = next;
            if done {
                break;
            }
        }
        p
    }
}

impl Geometry {
    /// A geometry record; builds the arc-length table the polynomial shapes need.
    pub fn new(s: f64, x: f64, y: f64, heading: f64, length: f64, shape: Shape) -> Geometry {
        let table = match &shape {
            Shape::Poly3 { coefficients } => {
                let coefficients = *coefficients;
                // u never exceeds the arc length, so [0, length] covers the curve.
                let speed = move |u: f64| {
                    let slope = cubic_slope(&coefficients, u);
                    (1.0 + slope * slope).sqrt()
                };
                Some(ArcTable::new(&speed, length))
            }
            Shape::ParamPoly3 { u, v, range } => {
                let (u, v) = (*u, *v);
                let end = match range {
                    ParamRange::ArcLength => length,
                    ParamRange::Normalized => 1.0,
                };
                let speed = move |p: f64| {
                    let (du, dv) = (cubic_slope(&u, p), cubic_slope(&v, p));
                    // sqrt rather than hypot: several times faster, and these
                    // derivatives are far from overflow.
                    (du * du + dv * dv).sqrt()
                };
                Some(ArcTable::new(&speed, end))
            }
            _ => None,
        };
        Geometry {
            s,
            x,
            y,
            heading,
            length,
            shape,
            table,
        }
    }

    /// The point at `ds` metres from this piece's start (clamped to the piece).
    pub fn point(&self, ds: f64) -> LinePoint {
        let ds = ds.max(0.0).min(self.length);
        let (local_x, local_y, local_heading, curvature) = self.local(ds);
        let (sin, cos) = self.heading.sin_cos();
        LinePoint {
            x: self.x + local_x * cos - local_y * sin,
            y: self.y + local_x * sin + local_y * cos,
            heading: self.heading + local_heading,
            curvature,
        }
    }

    /// Position, heading and curvature relative to the start frame.
    fn local(&self, ds: f64) -> (f64, f64, f64, f64) {
        match &self.shape {
            Shape::Line => (ds, 0.0, 0.0, 0.0),
            Shape::Arc { curvature } => arc_local(*curvature, ds),
            Shape::Spiral {
                curvature_start,
                curvature_end,
            } => {
                let rate = if self.length > 0.0 {
                    (curvature_end - curvature_start) / self.length
                } else {
                    0.0
                };
                spiral_local(*curvature_start, rate, ds)
            }
            Shape::Poly3 { coefficients } => {
                let coefficients = *coefficients;
                let speed = move |u: f64| {
                    let slope = cubic_slope(&coefficients, u);
                    (1.0 + slope * slope).sqrt()
                };
                let u = match &self.table {
                    Some(table) => table.parameter_at(&speed, ds),
                    None => ds,
                };
                let slope = cubic_slope(&coefficients, u);
                let second = cubic_curve(&coefficients, u);
                let curvature = second / (1.0 + slope * slope).powf(1.5);
                (u, cubic(&coefficients, u), slope.atan(), curvature)
            }
            Shape::ParamPoly3 { u, v, range } => {
                let (u, v) = (*u, *v);
                let end = match range {
                    ParamRange::ArcLength => self.length,
                    ParamRange::Normalized => 1.0,
                };
                let speed = move |p: f64| {
                    let (du, dv) = (cubic_slope(&u, p), cubic_slope(&v, p));
                    // sqrt rather than hypot: several times faster, and these
                    // derivatives are far from overflow.
                    (du * du + dv * dv).sqrt()
                };
                let p = match &self.table {
                    // The record's length is the arc length by definition; scale
                    // the target so the curve ends exactly where its length says,
                    // even when the coefficients were rounded in the file.
                    Some(table) if table.total() > 0.0 && self.length > 0.0 => {
                        table.parameter_at(&speed, ds / self.length * table.total())
                    }
                    _ if self.length > 0.0 => ds / self.length * end,
                    _ => 0.0,
                };
                let (du, dv) = (cubic_slope(&u, p), cubic_slope(&v, p));
                let (ddu, ddv) = (cubic_curve(&u, p), cubic_curve(&v, p));
                let speed_squared = du * du + dv * dv;
                let curvature = if speed_squared > 0.0 {
                    (du * ddv - dv * ddu) / speed_squared.powf(1.5)
                } else {
                    0.0
                };
                let heading = if speed_squared > 0.0 {
                    dv.atan2(du)
                } else {
                    0.0
                };
                (cubic(&u, p), cubic(&v, p), heading, curvature)
            }
        }
    }
}

/// Arc of curvature `k` from the origin along +x, at arc length `ds`.
fn arc_local(k: f64, ds: f64) -> (f64, f64, f64, f64) {
    let angle = k * ds;
    if angle.abs() < 1e-9 {
        // Second-order Taylor terms; exact to round-off for such small angles.
        return (ds, 0.5 * k * ds * ds, angle, k);
    }
    ((angle).sin() / k, (1.0 - angle.cos()) / k, angle, k)
}

/// Clothoid from the origin along +x with curvature `k0 + rate·u`, at arc length `ds`.
pub(crate) fn spiral_local(k0: f64, rate: f64, ds: f64) -> (f64, f64, f64, f64) {
    let heading = k0 * ds + 0.5 * rate * ds * ds;
    let curvature = k0 + rate * ds;
    if rate.abs() < 1e-14 {
        let (x, y, _, _) = arc_local(k0, ds);
        return (x, y, heading, curvature);
    }
    // Completing the square, k0·u + rate·u²/2 = rate/2·(u + k0/rate)² − k0²/(2·rate):
    // the curve is a piece of the standard clothoid, turned by −k0²/(2·rate).
    // When that turn is huge (rate tiny against k0) the phase loses digits, so
    // integrate the heading directly instead.
    let turn = k0 * k0 / (2.0 * rate);
    if turn.abs() > 1e6 {
        let (x, y) = integrate_heading(k0, rate, ds);
        return (x, y, heading, curvature);
    }
    let scale = (PI / rate.abs()).sqrt();
    let sign = rate.signum();
    let t0 = k0 / rate / scale;
    let t1 = (ds + k0 / rate) / scale;
    let (c0, s0) = fresnel(t0);
    let (c1, s1) = fresnel(t1);
    let dx = scale * (c1 - c0);
    let dy = sign * scale * (s1 - s0);
    let (sin, cos) = (-turn).sin_cos();
    (dx * cos - dy * sin, dx * sin + dy * cos, heading, curvature)
}

/// ∫₀^ds (cos θ, sin θ) du with θ(u) = k0·u + rate·u²/2, by composite Gauss–Legendre
/// with panels short enough that θ turns less than 0.25 rad in each.
pub(crate) fn integrate_heading(k0: f64, rate: f64, ds: f64) -> (f64, f64) {
    // A road spiral turns at most a few radians; 256 panels stay exact up to 64
    // rad (ten full turns) and bound the work for absurd inputs.
    const MAX_PANELS: f64 = 256.0;
    let total_turn = k0.abs() * ds + 0.5 * rate.abs() * ds * ds;
    let panels = (total_turn / 0.25).ceil().clamp(1.0, MAX_PANELS) as usize;
    let theta = |u: f64| k0 * u + 0.5 * rate * u * u;
    let (mut x, mut y) = (0.0, 0.0);
    for panel in 0..panels {
        let from = ds * panel as f64 / panels as f64;
        let to = ds * (panel + 1) as f64 / panels as f64;
        x += gauss(&|u: f64| theta(u).cos(), from, to);
        y += gauss(&|u: f64| theta(u).sin(), from, to);
    }
    (x, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn fresnel_matches_tables() {
        // Abramowitz & Stegun table 7.7 and Wolfram values, 15 digits.
        let table = [
            (0.5, 0.492_344_225_871_446_3, 0.064_732_432_859_999_3),
            (1.0, 0.779_893_400_376_822_8, 0.438_259_147_390_354_8),
            (1.5, 0.445_261_176_039_821_1, 0.697_504_960_082_093),
            (2.0, 0.488_253_406_075_340_8, 0.343_415_678_363_698_2),
            (3.0, 0.605_720_789_297_685_3, 0.496_312_998_967_375_6),
            (5.0, 0.563_631_188_704_012_2, 0.499_191_381_917_116_9),
        ];
        for (x, c, s) in table {
            let (fc, fs) = fresnel(x);
            assert!(close(fc, c, 1e-13), "C({x}) = {fc}, expected {c}");
            assert!(close(fs, s, 1e-13), "S({x}) = {fs}, expected {s}");
            let (nc, ns) = fresnel(-x);
            assert!(close(nc, -c, 1e-13) && close(ns, -s, 1e-13));
        }
        // Limits: both tend to 1/2, with |C − 1/2| ≤ 1/(πx).
        let (c, s) = fresnel(1e4);
        assert!(close(c, 0.5, 1e-4) && close(s, 0.5, 1e-4));
    }

    #[test]
    fn fresnel_branches_agree_at_switch() {
        for x in [1.45, 1.499, 1.5, 1.501, 1.55] {
            let series = fresnel_series(x);
            let fraction = fresnel_continued_fraction(x);
            assert!(close(series.0, fraction.0, 1e-13), "C at {x}");
            assert!(close(series.1, fraction.1, 1e-13), "S at {x}");
        }
    }

    #[test]
    fn line_end_point() {
        let geometry = Geometry::new(0.0, 1.0, 2.0, PI / 2.0, 10.0, Shape::Line);
        let point = geometry.point(10.0);
        assert!(close(point.x, 1.0, 1e-12) && close(point.y, 12.0, 1e-12));
    }

    #[test]
    fn arc_quarter_circle() {
        // Radius 50 m, a quarter turn to the left from the origin heading +x ends
        // at (50, 50) heading +y.
        let length = 50.0 * PI / 2.0;
        let geometry = Geometry::new(
            0.0,
            0.0,
            0.0,
            0.0,
            length,
            Shape::Arc {
                curvature: 1.0 / 50.0,
            },
        );
        let end = geometry.point(length);
        assert!(close(end.x, 50.0, 1e-9) && close(end.y, 50.0, 1e-9));
        assert!(close(end.heading, PI / 2.0, 1e-12));
        // Right turn, radius 20: a half circle ends at (0, -40) heading −x.
        let geometry = Geometry::new(
            0.0,
            0.0,
            0.0,
            0.0,
            20.0 * PI,
            Shape::Arc { curvature: -0.05 },
        );
        let end = geometry.point(20.0 * PI);
        assert!(close(end.x, 0.0, 1e-9) && close(end.y, -40.0, 1e-9));
    }

    #[test]
    fn spiral_from_zero_matches_fresnel_table() {
        // Curvature 0 → 1/100 over 100 m: rate 1e-4, scale a = √(π/rate) and the
        // end point is a·(C(L/a), S(L/a)).
        let rate: f64 = 1e-4;
        let scale = (PI / rate).sqrt();
        let (c, s) = fresnel(100.0 / scale);
        let geometry = Geometry::new(
            0.0,
            0.0,
            0.0,
            0.0,
            100.0,
            Shape::Spiral {
                curvature_start: 0.0,
                curvature_end: 0.01,
            },
        );
        let end = geometry.point(100.0);
        assert!(close(end.x, scale * c, 1e-9) && close(end.y, scale * s, 1e-9));
        assert!(close(end.heading, 0.5, 1e-12));
        // Clothoid series: x = L − L⁵/(40A⁴), y = L³/(6A²) − L⁷/(336A⁶) with A² = L/k.
        let a2: f64 = 100.0 / 0.01;
        let x = 100.0 - 100f64.powi(5) / (40.0 * a2 * a2) + 100f64.powi(9) / (3456.0 * a2.powi(4))
            - 100f64.powi(13) / (599_040.0 * a2.powi(6));
        let y = 100f64.powi(3) / (6.0 * a2) - 100f64.powi(7) / (336.0 * a2.powi(3))
            + 100f64.powi(11) / (42_240.0 * a2.powi(5));
        assert!(close(end.x, x, 1e-4), "{} vs {x}", end.x);
        assert!(close(end.y, y, 1e-3), "{} vs {y}", end.y);
    }

    #[test]
    fn spiral_with_offset_curvature_matches_quadrature() {
        for (k0, k1, length) in [
            (0.01, 0.03, 80.0),
            (-0.02, 0.015, 120.0),
            (0.05, 0.0, 40.0),
            (0.0, -0.08, 60.0),
            (0.01, 0.010_000_001, 100.0),
        ] {
            let rate = (k1 - k0) / length;
            for ds in [0.0, length * 0.3, length] {
                let (x, y, heading, _) = spiral_local(k0, rate, ds);
                let (qx, qy) = integrate_heading(k0, rate, ds);
                assert!(close(x, qx, 1e-9) && close(y, qy, 1e-9), "{k0} {k1} {ds}");
                assert!(close(heading, k0 * ds + 0.5 * rate * ds * ds, 1e-12));
            }
        }
    }

    #[test]
    fn poly3_arc_length_is_s() {
        // v = 0.01·u²: arc length to u is known in closed form.
        let geometry = Geometry::new(
            0.0,
            0.0,
            0.0,
            0.0,
            30.0,
            Shape::Poly3 {
                coefficients: [0.0, 0.0, 0.01, 0.0],
            },
        );
        let u: f64 = 25.0;
        let q = 0.02 * u; // v'(u)
        let arc = (q * (1.0 + q * q).sqrt() + q.asinh()) / (2.0 * 0.02);
        let point = geometry.point(arc);
        assert!(close(point.x, u, 1e-8), "u {}", point.x);
        assert!(close(point.y, 0.01 * u * u, 1e-8));
        assert!(close(point.heading, q.atan(), 1e-10));
    }

    #[test]
    fn param_poly3_both_ranges() {
        // A straight line written as a paramPoly3: u = 2p (normalized, length 2).
        let normalized = Geometry::new(
            0.0,
            0.0,
            0.0,
            0.0,
            2.0,
            Shape::ParamPoly3 {
                u: [0.0, 2.0, 0.0, 0.0],
                v: [0.0; 4],
                range: ParamRange::Normalized,
            },
        );
        assert!(close(normalized.point(1.5).x, 1.5, 1e-12));
        // A circle approximation with arcLength: u = p − p³/(6R²), v = p²/(2R).
        let radius: f64 = 100.0;
        let length = 20.0;
        let u = [0.0, 1.0, 0.0, -1.0 / (6.0 * radius * radius)];
        let v = [0.0, 0.0, 0.5 / radius, 0.0];
        let arc_length = Geometry::new(
            0.0,
            0.0,
            0.0,
            0.0,
            length,
            Shape::ParamPoly3 {
                u,
                v,
                range: ParamRange::ArcLength,
            },
        );
        let end = arc_length.point(length);
        // The geometry ends where its polynomial ends (p = length)...
        assert!(close(end.x, cubic(&u, length), 1e-9) && close(end.y, cubic(&v, length), 1e-9));
        // ...which is within the approximation's O(p⁴/R³) error of the circle.
        let exact = (
            radius * (length / radius).sin(),
            radius * (1.0 - (length / radius).cos()),
        );
        assert!(close(end.x, exact.0, 1e-2) && close(end.y, exact.1, 1e-2));
        let tangent = cubic_slope(&v, length).atan2(cubic_slope(&u, length));
        assert!(close(end.heading, tangent, 1e-12));
        assert!(close(end.heading, length / radius, 2e-3));
        // Midway in arc length: the point is 10 m of curve from the start, not p = 10.
        let middle = arc_length.point(10.0);
        let chord = middle.x.hypot(middle.y);
        let expected_chord = 2.0 * radius * (10.0 / (2.0 * radius)).sin();
        assert!(
            close(chord, expected_chord, 1e-3),
            "{chord} vs {expected_chord}"
        );
        // The same curve normalized: p' = p / length.
        let scaled = |c: [f64; 4]| {
            [
                c[0],
                c[1] * length,
                c[2] * length.powi(2),
                c[3] * length.powi(3),
            ]
        };
        let normalized = Geometry::new(
            0.0,
            0.0,
            0.0,
            0.0,
            length,
            Shape::ParamPoly3 {
                u: scaled(u),
                v: scaled(v),
                range: ParamRange::Normalized,
            },
        );
        for ds in [0.0, 5.0, 13.0, 20.0] {
            let a = arc_length.point(ds);
            let b = normalized.point(ds);
            assert!(close(a.x, b.x, 1e-9) && close(a.y, b.y, 1e-9), "at {ds}");
        }
    }
}
