//! RGB to Y'CbCr conversion for solid masks (ITU-R BT.601 and BT.709, limited or full range).

/// The Y'CbCr matrix a frame was encoded with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Matrix {
    /// ITU-R BT.601 (standard definition).
    Bt601,
    /// ITU-R BT.709 (high definition).
    Bt709,
}

impl Matrix {
    /// The usual default: BT.709 for frames 720 rows or taller, else BT.601.
    pub fn for_height(height: u32) -> Self {
        if height >= 720 {
            Matrix::Bt709
        } else {
            Matrix::Bt601
        }
    }

    /// Luma weights `(Kr, Kb)`.
    fn weights(self) -> (f64, f64) {
        match self {
            Matrix::Bt601 => (0.299, 0.114),
            Matrix::Bt709 => (0.2126, 0.0722),
        }
    }
}

/// How a frame's samples are coded: which matrix, and whether full (0-255) or limited range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ColourSpace {
    /// The Y'CbCr matrix.
    pub matrix: Matrix,
    /// Full range (`yuvj*`, JPEG) rather than limited (16-235 luma, 16-240 chroma).
    pub full_range: bool,
}

/// Converts gamma-encoded RGB (0-255 each) to 8-bit Y'CbCr, rounding to nearest and clamping.
pub fn rgb_to_yuv(rgb: [u8; 3], space: ColourSpace) -> [u8; 3] {
    rgb_to_yuv_depth(rgb, space, 8).map(|v| v as u8)
}

/// Converts gamma-encoded RGB (0-255 each) to Y'CbCr samples of `depth` bits (8 or 10), computed
/// at full precision: limited range scales 16-235/240 by `2^(depth-8)`, full range uses the whole
/// `0..2^depth` scale.
pub fn rgb_to_yuv_depth(rgb: [u8; 3], space: ColourSpace, depth: u32) -> [u32; 3] {
    let (kr, kb) = space.matrix.weights();
    let [r, g, b] = rgb.map(|c| f64::from(c) / 255.0);
    let y = kr * r + (1.0 - kr - kb) * g + kb * b;
    let pb = (b - y) / (2.0 * (1.0 - kb));
    let pr = (r - y) / (2.0 * (1.0 - kr));
    let top = f64::from((1u32 << depth) - 1);
    let half = f64::from(1u32 << (depth - 1));
    let scale = f64::from(1u32 << (depth - 8));
    let (ys, cs, yo) = if space.full_range {
        (top, top, 0.0)
    } else {
        (219.0 * scale, 224.0 * scale, 16.0 * scale)
    };
    let q = |v: f64| (v + 0.5).floor().clamp(0.0, top) as u32;
    [q(yo + ys * y), q(half + cs * pb), q(half + cs * pr)]
}

/// Converts 8-bit Y'CbCr back to RGB (0-255 each), rounding to nearest and clamping; used when a
/// raw `yuv=` colour meets a packed RGB frame.
pub fn yuv_to_rgb(yuv: [u8; 3], space: ColourSpace) -> [u8; 3] {
    let (kr, kb) = space.matrix.weights();
    let [y, u, v] = yuv.map(f64::from);
    let (ey, pb, pr) = if space.full_range {
        (y / 255.0, (u - 128.0) / 255.0, (v - 128.0) / 255.0)
    } else {
        ((y - 16.0) / 219.0, (u - 128.0) / 224.0, (v - 128.0) / 224.0)
    };
    let r = ey + 2.0 * (1.0 - kr) * pr;
    let b = ey + 2.0 * (1.0 - kb) * pb;
    let g = (ey - kr * r - kb * b) / (1.0 - kr - kb);
    [r, g, b].map(|c| (c * 255.0 + 0.5).floor().clamp(0.0, 255.0) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITED_601: ColourSpace = ColourSpace {
        matrix: Matrix::Bt601,
        full_range: false,
    };
    const LIMITED_709: ColourSpace = ColourSpace {
        matrix: Matrix::Bt709,
        full_range: false,
    };
    const FULL_601: ColourSpace = ColourSpace {
        matrix: Matrix::Bt601,
        full_range: true,
    };

    #[test]
    fn reference_colours() {
        assert_eq!(rgb_to_yuv([0, 0, 0], LIMITED_601), [16, 128, 128]);
        assert_eq!(rgb_to_yuv([255, 255, 255], LIMITED_709), [235, 128, 128]);
        assert_eq!(rgb_to_yuv([0, 0, 0], FULL_601), [0, 128, 128]);
        // Pure red, BT.601 limited: Y 81, Cb 90, Cr 240 (the textbook values).
        assert_eq!(rgb_to_yuv([255, 0, 0], LIMITED_601), [81, 90, 240]);
        // Pure red, BT.709 limited: Y 63, Cb 102, Cr 240.
        assert_eq!(rgb_to_yuv([255, 0, 0], LIMITED_709), [63, 102, 240]);
    }

    #[test]
    fn ten_bit_and_inverse() {
        assert_eq!(rgb_to_yuv_depth([0, 0, 0], LIMITED_601, 10), [64, 512, 512]);
        assert_eq!(
            rgb_to_yuv_depth([255, 255, 255], LIMITED_709, 10),
            [940, 512, 512]
        );
        assert_eq!(
            rgb_to_yuv_depth([255, 255, 255], FULL_601, 10),
            [1023, 512, 512]
        );
        for rgb in [[255, 0, 0], [12, 200, 99], [0, 0, 0], [255, 255, 255]] {
            let back = yuv_to_rgb(rgb_to_yuv(rgb, FULL_601), FULL_601);
            for (a, b) in back.iter().zip(rgb) {
                assert!(a.abs_diff(b) <= 2, "{rgb:?} -> {back:?}");
            }
        }
    }

    #[test]
    fn default_matrix_by_height() {
        assert_eq!(Matrix::for_height(719), Matrix::Bt601);
        assert_eq!(Matrix::for_height(720), Matrix::Bt709);
    }
}
