//! Data augmentation of training images: each image of a batch moved by a random shift and a
//! small random rotation before the VAE sees it, as DEC-DA trains its autoencoder (Guo, Zhu,
//! Liu & Yin 2018, "Deep Embedded Clustering with Data Augmentation": shifts of up to a tenth
//! of the width and height, rotations of up to 10°). The encoder learns codes that do not
//! move with where a digit sits or how it leans, which is what separates digits of one class
//! from another's. Training batches are transformed, each image by its own draw; embedding
//! and scoring read the images as they are, but for DEC's clusters, which read every image
//! also moved by a few fixed moves ([`ReadMoves`]) and average its soft assignments.
//!
//! The warp is an affine map about the image's centre with bilinear interpolation; points
//! that fall outside the image take the nearest edge pixel (Keras' `fill_mode="nearest"`).

use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{ImageShape, Matrix};
use crate::error::{Result, VaeError};

/// The largest shift, as a fraction of the width or height.
pub const MAX_SHIFT: f64 = 0.5;
/// The largest rotation, in degrees.
pub const MAX_DEGREES: f64 = 180.0;

/// How far training images may be moved: shifts drawn uniformly in `±shift · width` (and
/// height) pixels, rotations uniformly in `±degrees`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Augment {
    /// Largest shift, a fraction of the image's width (and height), in [0, 0.5].
    pub shift: f64,
    /// Largest rotation in degrees, in [0, 180].
    pub degrees: f64,
}

impl Augment {
    /// DEC-DA's augmentation: shifts of up to 10% of the size, rotations of up to 10°.
    pub const IMAGES: Augment = Augment {
        shift: 0.1,
        degrees: 10.0,
    };

    /// Checks both ranges (typed error naming the flag).
    pub fn check(&self) -> Result<()> {
        if !(0.0..=MAX_SHIFT).contains(&self.shift) {
            return Err(VaeError::Usage(format!(
                "--augment: the largest shift must be from 0 to {MAX_SHIFT} (a fraction of the \
                 image's size), got {}",
                self.shift
            )));
        }
        if !(0.0..=MAX_DEGREES).contains(&self.degrees) {
            return Err(VaeError::Usage(format!(
                "--augment: the largest rotation must be from 0 to {MAX_DEGREES} degrees, got {}",
                self.degrees
            )));
        }
        Ok(())
    }

    /// In words, for the training line: "shifts up to 10% of their size, rotations up to
    /// 10°".
    pub fn describe(&self) -> String {
        let round = |v: f64| (v * 1e6).round() / 1e6;
        format!(
            "shifts up to {}% of their size, rotations up to {}°",
            round(self.shift * 100.0),
            round(self.degrees)
        )
    }

    /// Whether it moves anything.
    pub fn is_active(&self) -> bool {
        self.shift > 0.0 || self.degrees > 0.0
    }

    /// Transforms every image of `batch` (rows of `shape.len()` values, channel-major) in
    /// place, each by its own draw from `rng`.
    ///
    /// # Panics
    /// When `batch.len()` is not a multiple of `shape.len()` (a programming error).
    pub fn apply(&self, batch: &mut [f32], shape: ImageShape, rng: &mut impl Rng) {
        let n = shape.len();
        assert!(
            n > 0 && batch.len().is_multiple_of(n),
            "batch is not whole images"
        );
        let mut src = vec![0f32; n];
        for image in batch.chunks_mut(n) {
            let m = self.draw_move(shape, rng);
            src.copy_from_slice(image);
            warp(&src, image, shape, m.degrees.to_radians(), m.dy, m.dx);
        }
    }

    /// One move of an image of `shape`, drawn as [`Augment::apply`] draws each image's.
    pub fn draw_move(&self, shape: ImageShape, rng: &mut impl Rng) -> Move {
        Move {
            degrees: draw(rng, self.degrees),
            dy: draw(rng, self.shift * shape.height as f64),
            dx: draw(rng, self.shift * shape.width as f64),
        }
    }
}

/// One move of an image: a rotation about its centre, then a shift.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Move {
    /// Counter-clockwise rotation on the screen, in degrees.
    pub degrees: f64,
    /// Shift down, in pixels.
    pub dy: f64,
    /// Shift right, in pixels.
    pub dx: f64,
}

/// Fixed moves for reading images at prediction time: every image is read as it is and moved
/// by each of these, the same moves for every image, so that an image's result depends on the
/// image alone, never on the images read beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadMoves {
    /// The layout of the images the moves are for.
    pub shape: ImageShape,
    /// The moves, in pixels and degrees of that layout.
    pub moves: Vec<Move>,
}

impl ReadMoves {
    /// `count` moves drawn from `augment`'s ranges with `rng`.
    pub fn draw(augment: &Augment, shape: ImageShape, count: usize, rng: &mut impl Rng) -> Self {
        Self {
            shape,
            moves: (0..count).map(|_| augment.draw_move(shape, rng)).collect(),
        }
    }

    /// `x` (rows of images of [`ReadMoves::shape`]) moved by each move in turn: one matrix a
    /// move, made as the iterator is read.
    ///
    /// # Errors
    /// When the rows are not images of the moves' shape.
    pub fn copies<'a>(&'a self, x: &'a Matrix) -> Result<impl Iterator<Item = Matrix> + 'a> {
        let n = self.shape.len();
        if x.cols != n || n == 0 {
            return Err(VaeError::Model(format!(
                "the stored moves are for images of {} values, the rows have {}",
                n, x.cols
            )));
        }
        Ok(self.moves.iter().map(move |m| {
            let mut out = x.data.clone();
            out.par_chunks_mut(n)
                .zip(x.data.par_chunks(n))
                .for_each(|(dst, src)| {
                    warp(src, dst, self.shape, m.degrees.to_radians(), m.dy, m.dx)
                });
            Matrix::new(x.rows, x.cols, out)
        }))
    }
}

impl std::str::FromStr for Augment {
    type Err = String;
    /// `none`, or `SHIFT,DEGREES` (e.g. `0.1,10`); ranges are checked by [`Augment::check`].
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s == "none" {
            return Ok(Augment {
                shift: 0.0,
                degrees: 0.0,
            });
        }
        let number = |v: &str| v.trim().parse::<f64>().ok().filter(|v| v.is_finite());
        match s.split_once(',').map(|(a, b)| (number(a), number(b))) {
            Some((Some(shift), Some(degrees))) => Ok(Augment { shift, degrees }),
            _ => Err(format!(
                "expected none or SHIFT,DEGREES (e.g. 0.1,10), got '{}'",
                crate::data::clip(s)
            )),
        }
    }
}

/// Uniform in [−half, half] (0 without a draw when `half` is 0, so that a zero range leaves
/// the random stream as it was).
fn draw(rng: &mut impl Rng, half: f64) -> f64 {
    if half > 0.0 {
        rng.gen_range(-half..=half)
    } else {
        0.0
    }
}

/// `dst` = `src` rotated by `angle` (radians, counter-clockwise on the screen) about its
/// centre, then moved `dy` pixels down and `dx` right; bilinear, edges extended.
fn warp(src: &[f32], dst: &mut [f32], shape: ImageShape, angle: f64, dy: f64, dx: f64) {
    let (h, w) = (shape.height, shape.width);
    let (cy, cx) = ((h as f64 - 1.0) / 2.0, (w as f64 - 1.0) / 2.0);
    let (sin, cos) = angle.sin_cos();
    let plane = h * w;
    for r in 0..h {
        for c in 0..w {
            // the inverse map: undo the shift, then the rotation
            let (y, x) = (r as f64 - cy - dy, c as f64 - cx - dx);
            let sy = (cos * y + sin * x + cy).clamp(0.0, (h - 1) as f64);
            let sx = (-sin * y + cos * x + cx).clamp(0.0, (w - 1) as f64);
            // (truncation is the floor of these non-negative values, without a libm call)
            let (y0, x0) = (sy as usize, sx as usize);
            let (y1, x1) = ((y0 + 1).min(h - 1), (x0 + 1).min(w - 1));
            let (fy, fx) = ((sy - y0 as f64) as f32, (sx - x0 as f64) as f32);
            for ch in 0..shape.channels {
                let p = &src[ch * plane..(ch + 1) * plane];
                let top = p[y0 * w + x0] * (1.0 - fx) + p[y0 * w + x1] * fx;
                let bottom = p[y1 * w + x0] * (1.0 - fx) + p[y1 * w + x1] * fx;
                dst[ch * plane + r * w + c] = top * (1.0 - fy) + bottom * fy;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn shape(h: usize, w: usize) -> ImageShape {
        ImageShape::new(1, h, w)
    }

    #[test]
    fn no_movement_is_the_identity() {
        let src: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let mut dst = vec![0.0; 12];
        warp(&src, &mut dst, shape(3, 4), 0.0, 0.0, 0.0);
        assert_eq!(dst, src);
    }

    #[test]
    fn a_whole_pixel_shift_moves_the_image_and_extends_the_edge() {
        // 3×3, one lit pixel in the centre; one pixel right and one down
        let mut src = vec![0.0; 9];
        src[4] = 1.0;
        let mut dst = vec![0.0; 9];
        warp(&src, &mut dst, shape(3, 3), 0.0, 1.0, 1.0);
        assert_eq!(dst, vec![0., 0., 0., 0., 0., 0., 0., 0., 1.]);
        // a left edge column of ones, moved right: the edge is extended into the gap
        let src = vec![1., 0., 0., 1., 0., 0., 1., 0., 0.];
        warp(&src, &mut dst, shape(3, 3), 0.0, 0.0, 1.0);
        assert_eq!(dst, vec![1., 1., 0., 1., 1., 0., 1., 1., 0.]);
    }

    #[test]
    fn a_half_pixel_shift_interpolates() {
        let src = vec![0.0, 1.0, 0.0, 1.0];
        let mut dst = vec![0.0; 4];
        warp(&src, &mut dst, shape(1, 4), 0.0, 0.0, 0.5);
        // column c reads the source at c − 0.5 (clamped at 0)
        assert_eq!(dst, vec![0.0, 0.5, 0.5, 0.5]);
    }

    #[test]
    fn a_quarter_turn_rotates_about_the_centre() {
        // 3×3 with the top-middle pixel lit: a quarter turn counter-clockwise lights the
        // middle of the left column
        let mut src = vec![0.0; 9];
        src[1] = 1.0;
        let mut dst = vec![0.0; 9];
        warp(
            &src,
            &mut dst,
            shape(3, 3),
            std::f64::consts::FRAC_PI_2,
            0.0,
            0.0,
        );
        let lit: Vec<usize> = (0..9).filter(|&i| dst[i] > 0.999).collect();
        assert_eq!(lit, vec![3]);
        assert!(dst.iter().sum::<f32>() > 0.999 && dst.iter().sum::<f32>() < 1.001);
    }

    #[test]
    fn channels_move_together_and_draws_are_seeded() {
        let s = ImageShape::new(2, 4, 4);
        let img: Vec<f32> = (0..32).map(|v| (v % 16) as f32).collect();
        let mut a = img.repeat(3);
        let mut b = a.clone();
        Augment::IMAGES.apply(&mut a, s, &mut Xoshiro256PlusPlus::seed_from_u64(7));
        Augment::IMAGES.apply(&mut b, s, &mut Xoshiro256PlusPlus::seed_from_u64(7));
        assert_eq!(a, b);
        for image in a.chunks(32) {
            // both channels held the same picture, so they still do
            assert_eq!(image[..16], image[16..]);
        }
        // three images, three draws: not all the same
        assert!(a[..32] != a[32..64] || a[32..64] != a[64..]);
        // values stay inside the source's range (bilinear, edges extended)
        assert!(a.iter().all(|&v| (0.0..=15.0).contains(&v)));
    }

    #[test]
    fn read_moves_are_the_draws_of_training_applied_to_every_image() {
        let s = ImageShape::new(1, 5, 6);
        let x = Matrix::new(3, 30, (0..90).map(|v| ((v * 7) % 11) as f32).collect());
        // three moves drawn as a batch of three images draws them, each image moved by its own
        let moves = ReadMoves::draw(
            &Augment::IMAGES,
            s,
            3,
            &mut Xoshiro256PlusPlus::seed_from_u64(5),
        );
        let mut batch = x.data.clone();
        Augment::IMAGES.apply(&mut batch, s, &mut Xoshiro256PlusPlus::seed_from_u64(5));
        let copies: Vec<Matrix> = moves.copies(&x).unwrap().collect();
        assert_eq!(copies.len(), 3);
        for (i, c) in copies.iter().enumerate() {
            // copy i moves every image by move i: image i as the batch moved it
            assert_eq!(c.row(i), &batch[i * 30..(i + 1) * 30], "move {i}");
            // and another image by the same move as that image alone
            let alone = Matrix::new(1, 30, x.row((i + 1) % 3).to_vec());
            let moved = moves.copies(&alone).unwrap().nth(i).unwrap();
            assert_eq!(c.row((i + 1) % 3), moved.row(0));
        }
        assert!(moves
            .moves
            .iter()
            .all(|m| m.degrees.abs() <= 10.0 && m.dy.abs() <= 0.5 && m.dx.abs() <= 0.6));
        let e = moves
            .copies(&Matrix::new(1, 4, vec![0.0; 4]))
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "the stored moves are for images of 30 values, the rows have 4"
        );
    }

    #[test]
    fn describes_itself_in_round_numbers() {
        assert_eq!(
            Augment::IMAGES.describe(),
            "shifts up to 10% of their size, rotations up to 10°"
        );
        let a = Augment {
            shift: 0.05,
            degrees: 7.5,
        };
        assert_eq!(
            a.describe(),
            "shifts up to 5% of their size, rotations up to 7.5°"
        );
    }

    #[test]
    fn parses_none_and_pairs() {
        assert_eq!("0.1,10".parse::<Augment>(), Ok(Augment::IMAGES));
        assert!(!"none".parse::<Augment>().unwrap().is_active());
        assert_eq!(
            "0.1".parse::<Augment>().unwrap_err(),
            "expected none or SHIFT,DEGREES (e.g. 0.1,10), got '0.1'"
        );
        assert!("0.1,x".parse::<Augment>().is_err());
        assert!("nan,1".parse::<Augment>().is_err());
    }

    #[test]
    fn ranges_are_checked() {
        assert!(Augment::IMAGES.check().is_ok());
        let e = Augment {
            shift: 0.6,
            degrees: 0.0,
        }
        .check()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "--augment: the largest shift must be from 0 to 0.5 (a fraction of the image's \
             size), got 0.6"
        );
        assert!(Augment {
            shift: 0.0,
            degrees: -1.0
        }
        .check()
        .is_err());
    }
}
