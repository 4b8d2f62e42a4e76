//! Exact predicates on `f64` inputs of any magnitude, for clipping polygons whose vertices lie
//! anywhere (up to `±1.8e308`): a floating-point filter, and exact integer arithmetic where the
//! filter cannot decide.

use std::cmp::Ordering;

/// The sign of `(b - a) x (c - a)`, exactly: `Greater` when `c` lies to the left of `a -> b` in a
/// y-up frame (to the right in image coordinates, y down), `Equal` when the three are collinear.
pub fn orient(a: (f64, f64), b: (f64, f64), c: (f64, f64)) -> Ordering {
    // Filter: with every input zero or within [2^-400, 2^400], nothing below overflows or loses
    // bits to underflow, and the classic bound decides most cases.
    let safe = |v: f64| v == 0.0 || (1e-120..1e120).contains(&v.abs());
    if [a.0, a.1, b.0, b.1, c.0, c.1].into_iter().all(safe) {
        let l = (b.0 - a.0) * (c.1 - a.1);
        let r = (b.1 - a.1) * (c.0 - a.0);
        let det = l - r;
        let bound = (3.0 + 16.0 * f64::EPSILON) * f64::EPSILON / 2.0 * (l.abs() + r.abs());
        if det > bound {
            return Ordering::Greater;
        }
        if -det > bound {
            return Ordering::Less;
        }
    }
    let [ax, ay, bx, by, cx, cy] = [a.0, a.1, b.0, b.1, c.0, c.1].map(Int::from_f64);
    let l = bx.sub(&ax).mul(&cy.sub(&ay));
    let r = by.sub(&ay).mul(&cx.sub(&ax));
    l.cmp(&r)
}

/// `floor(y · scale)` and whether it is exact (`y · scale` an integer), where `y` is the second
/// coordinate at which the segment `u -> v` (first coordinates differing) crosses the line
/// `first = at`; the answer is known to lie in `[lo, hi]` (`scale` a positive integer, at most
/// `2^40`).
pub fn crossing_floor(
    u: (f64, f64),
    v: (f64, f64),
    at: f64,
    scale: i64,
    (lo, hi): (i64, i64),
) -> (i64, bool) {
    let [u0, u1, v0, v1, b] = [u.0, u.1, v.0, v.1, at].map(Int::from_f64);
    // y = (u1 (v0 - b) + v1 (b - u0)) / (v0 - u0); every factor carries 2^1074.
    let mut num = u1.mul(&v0.sub(&b)).add(&v1.mul(&b.sub(&u0)));
    let mut den = v0.sub(&u0).mul(&Int::from_f64(1.0));
    if den.neg {
        (num.neg, den.neg) = (!num.neg && !num.mag.is_empty(), false);
    }
    let rhs = num.mul(&Int::from_i64(scale));
    let at_most = |q: i64| Int::from_i64(q).mul(&den).cmp(&rhs);
    // The greatest q in [lo, hi] with q · den <= num · scale.
    let (mut a, mut b) = (lo, hi);
    debug_assert!(at_most(a) != Ordering::Greater);
    while a < b {
        let m = a + (b - a + 1) / 2;
        if at_most(m) != Ordering::Greater {
            a = m;
        } else {
            b = m - 1;
        }
    }
    (a, at_most(a) == Ordering::Equal)
}

/// A signed integer of any size, little-endian 64-bit limbs; just what [`orient`] needs.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Int {
    neg: bool,
    mag: Vec<u64>,
}

impl Int {
    /// `v * 2^1074`, an integer for every finite `v`.
    fn from_f64(v: f64) -> Int {
        debug_assert!(v.is_finite());
        let bits = v.to_bits();
        let exp = ((bits >> 52) & 0x7ff) as u32;
        let frac = bits & ((1 << 52) - 1);
        // v = m * 2^(e - 1074) with e >= 0.
        let (m, shift) = if exp == 0 {
            (frac, 0)
        } else {
            (frac | 1 << 52, exp - 1)
        };
        let mut mag = vec![0u64; (shift / 64) as usize + 2];
        let (word, bit) = ((shift / 64) as usize, shift % 64);
        mag[word] = m << bit;
        if bit > 0 {
            mag[word + 1] = m >> (64 - bit);
        }
        let mut out = Int { neg: v < 0.0, mag };
        out.trim();
        out
    }

    fn from_i64(v: i64) -> Int {
        let mut out = Int {
            neg: v < 0,
            mag: vec![v.unsigned_abs()],
        };
        out.trim();
        out
    }

    fn add(&self, o: &Int) -> Int {
        let minus = Int {
            neg: !o.neg && !o.mag.is_empty(),
            mag: o.mag.clone(),
        };
        self.sub(&minus)
    }

    fn trim(&mut self) {
        while self.mag.last() == Some(&0) {
            self.mag.pop();
        }
        if self.mag.is_empty() {
            self.neg = false;
        }
    }

    fn cmp_mag(a: &[u64], b: &[u64]) -> Ordering {
        a.len()
            .cmp(&b.len())
            .then_with(|| a.iter().rev().cmp(b.iter().rev()))
    }

    fn add_mag(a: &[u64], b: &[u64]) -> Vec<u64> {
        let (a, b) = if a.len() >= b.len() { (a, b) } else { (b, a) };
        let mut out = Vec::with_capacity(a.len() + 1);
        let mut carry = 0u64;
        for (i, &x) in a.iter().enumerate() {
            let (s, c1) = x.overflowing_add(*b.get(i).unwrap_or(&0));
            let (s, c2) = s.overflowing_add(carry);
            out.push(s);
            carry = u64::from(c1) + u64::from(c2);
        }
        out.push(carry);
        out
    }

    /// `a - b` for `a >= b` in magnitude.
    fn sub_mag(a: &[u64], b: &[u64]) -> Vec<u64> {
        let mut out = Vec::with_capacity(a.len());
        let mut borrow = 0u64;
        for (i, &x) in a.iter().enumerate() {
            let (d, b1) = x.overflowing_sub(*b.get(i).unwrap_or(&0));
            let (d, b2) = d.overflowing_sub(borrow);
            out.push(d);
            borrow = u64::from(b1) + u64::from(b2);
        }
        out
    }

    fn sub(&self, o: &Int) -> Int {
        let mut out = if self.neg != o.neg {
            Int {
                neg: self.neg,
                mag: Self::add_mag(&self.mag, &o.mag),
            }
        } else if Self::cmp_mag(&self.mag, &o.mag) != Ordering::Less {
            Int {
                neg: self.neg,
                mag: Self::sub_mag(&self.mag, &o.mag),
            }
        } else {
            Int {
                neg: !self.neg,
                mag: Self::sub_mag(&o.mag, &self.mag),
            }
        };
        out.trim();
        out
    }

    fn mul(&self, o: &Int) -> Int {
        let mut mag = vec![0u64; self.mag.len() + o.mag.len()];
        for (i, &x) in self.mag.iter().enumerate() {
            let mut carry = 0u128;
            for (j, &y) in o.mag.iter().enumerate() {
                let t = u128::from(x) * u128::from(y) + u128::from(mag[i + j]) + carry;
                mag[i + j] = t as u64;
                carry = t >> 64;
            }
            mag[i + o.mag.len()] = carry as u64;
        }
        let mut out = Int {
            neg: self.neg != o.neg,
            mag,
        };
        out.trim();
        out
    }
}

impl PartialOrd for Int {
    fn partial_cmp(&self, o: &Int) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Int {
    fn cmp(&self, o: &Int) -> Ordering {
        match (self.neg, o.neg) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => Self::cmp_mag(&self.mag, &o.mag),
            (true, true) => Self::cmp_mag(&o.mag, &self.mag),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orientation_is_exact_at_any_magnitude() {
        let o = |a, b, c| orient(a, b, c);
        assert_eq!(o((0.0, 0.0), (1.0, 0.0), (0.0, 1.0)), Ordering::Greater);
        assert_eq!(o((0.0, 0.0), (1.0, 0.0), (0.0, -1.0)), Ordering::Less);
        assert_eq!(o((0.0, 0.0), (1.0, 1.0), (2.0, 2.0)), Ordering::Equal);
        // The diagonal through huge points passes exactly through the origin, and just misses
        // points next to it, which the float determinant (all rounding) cannot tell.
        let m = 1e305;
        assert_eq!(o((-m, -m), (m, m), (0.0, 0.0)), Ordering::Equal);
        assert_eq!(o((-m, -m), (m, m), (0.0, 5e-324)), Ordering::Greater);
        assert_eq!(o((-m, -m), (m, m), (1e-300, 0.0)), Ordering::Less);
        assert_eq!(o((-m, -m), (m, m), (-4.25, -4.25)), Ordering::Equal);
        assert_eq!(
            o((-f64::MAX, 0.0), (f64::MAX, 1.0), (0.0, 0.5)),
            Ordering::Equal
        );
        let tiny = 0.1 + 0.2;
        assert_eq!(o((0.0, 0.0), (0.3, 0.3), (tiny, tiny)), Ordering::Equal);
        assert_eq!(o((0.1, 0.2), (0.3, 0.6), (0.2, 0.4)), {
            // Which side (0.2, 0.4) falls on, decided from the exact binary values.
            let f = |v: f64| Int::from_f64(v);
            let l = f(0.3).sub(&f(0.1)).mul(&f(0.4).sub(&f(0.2)));
            let r = f(0.6).sub(&f(0.2)).mul(&f(0.2).sub(&f(0.1)));
            l.cmp(&r)
        });
    }

    #[test]
    fn integers_from_floats() {
        assert_eq!(Int::from_f64(0.0), Int::from_f64(-0.0));
        let one = Int::from_f64(1.0);
        assert_eq!(one.mag.len(), 17); // 2^1074
        assert_eq!(Int::from_f64(5e-324).mag, vec![1]);
        assert!(Int::from_f64(-2.0) < Int::from_f64(1.0));
        assert_eq!(
            Int::from_f64(3.0).sub(&Int::from_f64(1.0)),
            Int::from_f64(2.0)
        );
        assert_eq!(
            Int::from_f64(-3.0).mul(&Int::from_f64(0.5)),
            Int::from_f64(-1.5).mul(&Int::from_f64(1.0))
        );
    }
}
