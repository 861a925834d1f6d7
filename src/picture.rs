//! Image grids as PNG: samples, originals over reconstructions, interpolation rows and
//! per-cluster rows are all a [`Grid`] of equally sized images, written through the `image`
//! crate to a temporary file that is renamed into place.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};

use crate::data::image::to_dynamic_image;
use crate::data::ImageShape;
use crate::error::{Result, VaeError};
use crate::output::write_atomic;

/// Pixels of padding between and around the tiles.
pub const PAD: u32 = 2;

/// A layout of `rows × cols` tiles, each an image of `shape` upscaled `scale` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// Tiles per row.
    pub cols: usize,
    /// Rows of tiles.
    pub rows: usize,
    /// Shape of every tile's image.
    pub shape: ImageShape,
    /// Integer upscaling (nearest neighbour) so small images stay visible.
    pub scale: u32,
}

/// The upscaling that brings a tile's longer side to at least 56 pixels (at most 4×).
pub fn default_scale(shape: &ImageShape) -> u32 {
    let side = shape.height.max(shape.width).max(1) as u32;
    56u32.div_ceil(side).clamp(1, 4)
}

impl Grid {
    /// A grid of `n` tiles, `cols` per row.
    pub fn new(n: usize, cols: usize, shape: ImageShape) -> Self {
        let cols = cols.clamp(1, n.max(1));
        Self {
            cols,
            rows: n.div_ceil(cols).max(1),
            shape,
            scale: default_scale(&shape),
        }
    }

    /// The picture's width and height in pixels.
    pub fn size(&self) -> (u32, u32) {
        let tw = self.shape.width as u32 * self.scale;
        let th = self.shape.height as u32 * self.scale;
        (
            self.cols as u32 * (tw + PAD) + PAD,
            self.rows as u32 * (th + PAD) + PAD,
        )
    }

    /// Top-left pixel of tile `i` (row-major).
    pub fn origin(&self, i: usize) -> (u32, u32) {
        let (r, c) = ((i / self.cols) as u32, (i % self.cols) as u32);
        (
            PAD + c * (self.shape.width as u32 * self.scale + PAD),
            PAD + r * (self.shape.height as u32 * self.scale + PAD),
        )
    }

    /// Draws the images (rows of `shape.len()` values in [0, 1]) tile after tile; missing
    /// tiles stay background. The background is mid-gray so that black and white digits both
    /// stand out.
    pub fn render(&self, images: &[&[f32]]) -> RgbImage {
        let tiles: Vec<Option<&[f32]>> = images.iter().map(|&t| Some(t)).collect();
        self.render_tiles(&tiles)
    }

    /// [`Grid::render`] with gaps: `None` tiles stay background.
    pub fn render_tiles(&self, images: &[Option<&[f32]>]) -> RgbImage {
        let (w, h) = self.size();
        let mut out = RgbImage::from_pixel(w, h, Rgb([128, 128, 128]));
        for (i, px) in images.iter().enumerate().take(self.rows * self.cols) {
            let Some(px) = px else { continue };
            let tile = to_dynamic_image(px, &self.shape).to_rgb8();
            let (x0, y0) = self.origin(i);
            for (x, y, p) in tile.enumerate_pixels() {
                for dy in 0..self.scale {
                    for dx in 0..self.scale {
                        out.put_pixel(x0 + x * self.scale + dx, y0 + y * self.scale + dy, *p);
                    }
                }
            }
        }
        out
    }
}

/// Encodes a picture as PNG and writes it atomically.
pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    let mut buf = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(img.clone())
        .write_to(&mut buf, ImageFormat::Png)
        .map_err(|e| VaeError::Write {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
    write_atomic(path, buf.get_ref())
}

/// Checks that an output path for a picture ends in `.png`.
pub fn check_png_path(path: &Path) -> Result<()> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        Ok(())
    } else {
        Err(VaeError::Usage(format!(
            "{}: pictures are written as PNG; name the output *.png",
            path.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_layout_and_size() {
        let s = ImageShape::new(1, 28, 28);
        let g = Grid::new(64, 8, s);
        assert_eq!((g.rows, g.cols, g.scale), (8, 8, 2));
        // 8 tiles of 56 px plus 9 paddings of 2 px
        assert_eq!(g.size(), (8 * 56 + 9 * 2, 8 * 56 + 9 * 2));
        assert_eq!(g.origin(0), (2, 2));
        assert_eq!(g.origin(9), (2 + 58, 2 + 58));
        let g = Grid::new(10, 4, ImageShape::new(3, 64, 32));
        assert_eq!((g.rows, g.cols, g.scale), (3, 4, 1));
        assert_eq!(g.size(), (4 * 34 + 2, 3 * 66 + 2));
        assert_eq!(Grid::new(3, 10, s).cols, 3, "no empty columns");
    }

    #[test]
    fn tiles_land_where_the_layout_says() {
        let s = ImageShape::new(1, 2, 2);
        let mut g = Grid::new(3, 2, s);
        g.scale = 1;
        let black = [0.0f32; 4];
        let white = [1.0f32; 4];
        let img = g.render(&[&black, &white, &black]);
        assert_eq!(img.dimensions(), (2 * 4 + 2, 2 * 4 + 2));
        assert_eq!(img.get_pixel(0, 0).0, [128; 3], "padding");
        assert_eq!(img.get_pixel(2, 2).0, [0; 3], "tile 0");
        assert_eq!(
            img.get_pixel(6, 3).0,
            [255; 3],
            "tile 1, second row of pixels"
        );
        assert_eq!(img.get_pixel(3, 6).0, [0; 3], "tile 2");
        assert_eq!(
            img.get_pixel(6, 6).0,
            [128; 3],
            "missing tile 3 stays background"
        );
    }

    #[test]
    fn pictures_are_png_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("g.png");
        let img = Grid::new(1, 1, ImageShape::new(1, 28, 28)).render(&[&[0.5; 784]]);
        save_png(&img, &p).unwrap();
        let back = image::open(&p).unwrap().to_rgb8();
        assert_eq!(back.dimensions(), (60, 60));
        assert_eq!(back.get_pixel(30, 30).0, [128; 3]);
        let e = check_png_path(Path::new("x.jpg")).unwrap_err().to_string();
        assert_eq!(
            e,
            "x.jpg: pictures are written as PNG; name the output *.png"
        );
    }
}
