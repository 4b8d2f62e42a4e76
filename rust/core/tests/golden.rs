//! Golden tests: small frames whose expected output is written out by hand.

use privmask_core::{
    Colour, CompiledMasks, FrameMut, Length, MaskSpec, PixelFormat, PlaneMut, Polygon, Style,
};

/// The rectangle with corners at pixel positions `(x0, y0)`, `(x1, y1)` of a `w` x `h` frame.
/// Coverage is decided for the coordinates as given, and `1 / 6` is a hair under a sixth: each
/// side is rounded inward to a float, so that it covers no sliver of the pixels outside.
fn rect_px(x0: f64, y0: f64, x1: f64, y1: f64, w: f64, h: f64) -> Polygon {
    // The float nearest `v / size` on the side of `up`: exactly `v` or beyond once scaled.
    let inward = |v: f64, size: f64, up: bool| {
        let mut f = v / size;
        // f * size - v, exactly signed (one rounding of the exact value).
        while (f.mul_add(size, -v) < 0.0 && up) || (f.mul_add(size, -v) > 0.0 && !up) {
            let bits = f.to_bits();
            f = f64::from_bits(if (f > 0.0) == up { bits + 1 } else { bits - 1 });
        }
        f
    };
    let (l, r) = (inward(x0, w, true), inward(x1, w, false));
    let (t, b) = (inward(y0, h, true), inward(y1, h, false));
    Polygon::new(vec![(l, t), (r, t), (r, b), (l, b)]).unwrap()
}

fn mask(polygon: Polygon, style: Style) -> MaskSpec {
    MaskSpec {
        polygon,
        style,
        liftable: false,
    }
}

/// Applies `masks` to contiguous planes of the given format and returns them.
fn run(
    format: PixelFormat,
    w: u32,
    h: u32,
    masks: &[MaskSpec],
    mut planes: Vec<Vec<u8>>,
) -> Vec<Vec<u8>> {
    let compiled = CompiledMasks::compile(masks, w, h, format, None).unwrap();
    {
        let mut views: [Option<PlaneMut<'_>>; 3] = [None, None, None];
        for (i, p) in planes.iter_mut().enumerate() {
            let (_, rows) = format.plane_samples(i, w, h);
            let row_bytes = format.plane_row_len(i, w, h);
            views[i] = Some(PlaneMut::new(p, row_bytes, rows as usize, row_bytes).unwrap());
        }
        let mut frame = FrameMut::new(format, w, h, views).unwrap();
        compiled.apply(&mut frame, false).unwrap();
    }
    planes
}

#[test]
fn solid_on_yuv420p_covers_cosited_chroma() {
    // 6x4 frame; the rectangle covers luma columns 1..4 of rows 1..3. Chroma is 3x2: each
    // chroma sample co-sites a 2x2 luma block, so chroma columns 0..2 of both rows are covered.
    let m = mask(
        rect_px(1.0, 1.0, 4.0, 3.0, 6.0, 4.0),
        Style::Solid(Colour::Yuv([9, 7, 5])),
    );
    let out = run(
        PixelFormat::Yuv420p,
        6,
        4,
        &[m],
        vec![vec![100; 24], vec![50; 6], vec![60; 6]],
    );
    #[rustfmt::skip]
    let luma = vec![
        100, 100, 100, 100, 100, 100,
        100,   9,   9,   9, 100, 100,
        100,   9,   9,   9, 100, 100,
        100, 100, 100, 100, 100, 100,
    ];
    assert_eq!(out[0], luma);
    assert_eq!(out[1], vec![7, 7, 50, 7, 7, 50]);
    assert_eq!(out[2], vec![5, 5, 60, 5, 5, 60]);
}

#[test]
fn solid_on_nv21_writes_v_then_u() {
    let m = mask(
        rect_px(0.0, 0.0, 2.0, 2.0, 4.0, 2.0),
        Style::Solid(Colour::Yuv([1, 2, 3])),
    );
    let out = run(PixelFormat::Nv21, 4, 2, &[m], vec![vec![0; 8], vec![0; 4]]);
    assert_eq!(out[0], vec![1, 1, 0, 0, 1, 1, 0, 0]);
    assert_eq!(out[1], vec![3, 2, 0, 0]);
}

#[test]
fn mosaic_takes_rounded_means_of_covered_samples_only() {
    // Gray 4x4, blocks of 2. The triangle below the anti-diagonal x + y < 4 (in pixels) leaves
    // the bottom-right pixels of the grid uncovered.
    let tri = Polygon::new(vec![(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)]).unwrap();
    let m = mask(tri, Style::Mosaic(Length::Pixels(2.0)));
    #[rustfmt::skip]
    let input = vec![
        10, 20, 30, 41,
        50, 60, 70, 80,
         1,  2,  3,  4,
         5,  6,  7,  8,
    ];
    // Covered: row 0 all, row 1 x<3, row 2 x<2, row 3 x<1.
    // Block (0,0): 10 20 50 60 -> 35. Block (1,0): 30 41 70 -> 141/3 = 47.
    // Block (0,1): 1 2 5 -> 8/3 = 2.67 -> 3. Block (1,1): none covered.
    #[rustfmt::skip]
    let want = vec![
        35, 35, 47, 47,
        35, 35, 47, 80,
         3,  3,  3,  4,
         3,  6,  7,  8,
    ];
    assert_eq!(
        run(PixelFormat::Gray, 4, 4, &[m], vec![input]).remove(0),
        want
    );
}

#[test]
fn mosaic_rounds_half_up() {
    let m = mask(
        rect_px(0.0, 0.0, 2.0, 1.0, 2.0, 1.0),
        Style::Mosaic(Length::Pixels(2.0)),
    );
    assert_eq!(
        run(PixelFormat::Gray, 2, 1, &[m], vec![vec![1, 2]]).remove(0),
        vec![2, 2]
    );
}

#[test]
fn blur_interpolates_smoothed_cell_means() {
    // Gray 4x2, sigma 2 px: cells of 2 px, sigma 1 cell. Cell means 10 and 30.
    // Smoothed: F0 = (10 + 30 e^-1/2) / (1 + e^-1/2) = 17.551, F1 = 22.449.
    // Sample centres in cell units: -0.25, 0.25, 0.75, 1.25 -> 17.55, 18.78, 21.22, 22.45.
    let m = mask(
        rect_px(0.0, 0.0, 4.0, 2.0, 4.0, 2.0),
        Style::Blur(Length::Pixels(2.0)),
    );
    let out = run(
        PixelFormat::Gray,
        4,
        2,
        &[m],
        vec![vec![10, 10, 30, 30, 10, 10, 30, 30]],
    );
    assert_eq!(out[0], vec![18, 19, 21, 22, 18, 19, 21, 22]);
}

#[test]
fn later_masks_read_earlier_results_and_lifted_skips_liftable_only() {
    let first = MaskSpec {
        polygon: rect_px(0.0, 0.0, 2.0, 1.0, 4.0, 1.0),
        style: Style::Solid(Colour::Yuv([100, 0, 0])),
        liftable: true,
    };
    let second = mask(
        rect_px(1.0, 0.0, 3.0, 1.0, 4.0, 1.0),
        Style::Mosaic(Length::Pixels(2.0)),
    );
    let masks = [first, second];
    // Mosaic blocks: [0,2) and [2,4). Second covers x 1..3: block 0 {x1} = 100, block 1 {x2} = 3.
    assert_eq!(
        run(PixelFormat::Gray, 4, 1, &masks, vec![vec![1, 2, 3, 4]]).remove(0),
        vec![100, 100, 3, 4]
    );
    let compiled = CompiledMasks::compile(&masks, 4, 1, PixelFormat::Gray, None).unwrap();
    let mut data: Vec<u8> = vec![1, 2, 3, 4];
    {
        let plane = PlaneMut::new(&mut data, 4, 1, 4).unwrap();
        let mut frame = FrameMut::new(PixelFormat::Gray, 4, 1, [Some(plane), None, None]).unwrap();
        compiled.apply(&mut frame, true).unwrap();
    }
    assert_eq!(data, vec![1, 2, 3, 4]);
}

#[test]
fn rgb_colours_follow_the_frame_height() {
    let red = Style::Solid(Colour::Rgb([255, 0, 0]));
    let full = |w: u32, h: u32| {
        mask(
            rect_px(0.0, 0.0, w as f64, h as f64, w as f64, h as f64),
            red,
        )
    };
    // 2x2 is standard definition: BT.601, Y 81.
    let sd = run(PixelFormat::Gray, 2, 2, &[full(2, 2)], vec![vec![0; 4]]);
    assert_eq!(sd[0], vec![81; 4]);
    // 720 rows: BT.709, Y 63.
    let hd = run(
        PixelFormat::Gray,
        1,
        720,
        &[full(1, 720)],
        vec![vec![0; 720]],
    );
    assert!(hd[0].iter().all(|&v| v == 63));
}

#[test]
fn wrong_geometry_is_refused_before_anything_is_written() {
    let m = mask(
        rect_px(0.0, 0.0, 2.0, 2.0, 2.0, 2.0),
        Style::Solid(Colour::Yuv([0, 0, 0])),
    );
    let compiled = CompiledMasks::compile(&[m], 2, 2, PixelFormat::Gray, None).unwrap();
    let mut data = vec![7u8; 6];
    let plane = PlaneMut::new(&mut data, 3, 2, 3).unwrap();
    let mut frame = FrameMut::new(PixelFormat::Gray, 3, 2, [Some(plane), None, None]).unwrap();
    let err = compiled.apply(&mut frame, false).unwrap_err();
    assert!(err.to_string().contains("compiled for 2x2"), "{err}");
    assert_eq!(data, vec![7u8; 6]);
}

#[test]
fn weak_styles_are_refused_at_compile_time() {
    let m = mask(
        rect_px(0.0, 0.0, 2.0, 2.0, 2.0, 2.0),
        Style::Mosaic(Length::Pixels(1.0)),
    );
    let err = CompiledMasks::compile(&[m], 2, 2, PixelFormat::Gray, None).unwrap_err();
    assert!(err.to_string().starts_with("masks[0].style"), "{err}");
}

#[test]
fn fill_pulls_and_pushes_from_the_visible_neighbours() {
    // Gray 5x1, x 1..4 covered; visible 10 on the left and 40 on the right.
    // Pull: [10 _ _ _ 40] -> [10 _ 40] -> [10 40] -> [25]; push back with bilinear upsampling:
    // level 1 middle = 0.75*10 + 0.25*40 = 17.5; level 0 at 1, 2, 3 = 11.875, 15.625, 23.125.
    let m = mask(rect_px(1.0, 0.0, 4.0, 1.0, 5.0, 1.0), Style::Fill(None));
    let out = run(
        PixelFormat::Gray,
        5,
        1,
        &[m],
        vec![vec![10, 99, 250, 3, 40]],
    );
    assert_eq!(out[0], vec![10, 12, 16, 23, 40]);
}

#[test]
fn fill_of_the_whole_frame_is_mid_grey_and_outline_marks_the_border() {
    let all = mask(rect_px(0.0, 0.0, 3.0, 2.0, 3.0, 2.0), Style::Fill(None));
    assert_eq!(
        run(
            PixelFormat::Gray,
            3,
            2,
            &[all],
            vec![vec![1, 2, 3, 4, 5, 6]]
        )[0],
        vec![128; 6]
    );
    // 5x5 gray, 3x3 cover in the middle, outline 0: the ring is outlined, the centre is filled
    // from the visible frame around it (all 50 here).
    let boxed = mask(
        rect_px(1.0, 1.0, 4.0, 4.0, 5.0, 5.0),
        Style::Fill(Some(Colour::Yuv([0, 0, 0]))),
    );
    let mut input = vec![50u8; 25];
    input[12] = 255;
    #[rustfmt::skip]
    let want = vec![
        50, 50, 50, 50, 50,
        50,  0,  0,  0, 50,
        50,  0, 50,  0, 50,
        50,  0,  0,  0, 50,
        50, 50, 50, 50, 50,
    ];
    assert_eq!(run(PixelFormat::Gray, 5, 5, &[boxed], vec![input])[0], want);
}
