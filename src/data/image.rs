//! Image inputs: IDX files (MNIST style, with an optional IDX label file), folders of PNG/JPEG
//! files (recursive; the sub-folder is the label), and the [`ImageShape`] that tells how a row
//! of pixels is laid out. Every loader returns pixels scaled to [0, 1], channel-major
//! (`channels × height × width`), one image per row.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::DynamicImage;
use serde::{Deserialize, Serialize};

use crate::data::idx::read_idx;
use crate::data::{Matrix, Prepared};
use crate::error::{Result, VaeError};

/// How a row of pixels is laid out: `channels × height × width`, channel-major.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageShape {
    /// 1 (grayscale) or 3 (RGB).
    pub channels: usize,
    /// Rows of pixels.
    pub height: usize,
    /// Columns of pixels.
    pub width: usize,
}

impl ImageShape {
    /// A shape from its three sizes.
    pub fn new(channels: usize, height: usize, width: usize) -> Self {
        Self {
            channels,
            height,
            width,
        }
    }

    /// Pixels per image (`channels · height · width`).
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Always false for a parsed shape (kept for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `CxHxW`, the form `--image-shape` takes.
    pub fn name(&self) -> String {
        format!("{}x{}x{}", self.channels, self.height, self.width)
    }
}

impl std::fmt::Display for ImageShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl std::str::FromStr for ImageShape {
    type Err = String;
    /// `HxW` (grayscale) or `CxHxW`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let parts: Option<Vec<usize>> = s
            .split(['x', 'X'])
            .map(|p| p.trim().parse::<usize>().ok().filter(|&v| v > 0))
            .collect();
        let shape = match parts.as_deref() {
            Some(&[h, w]) => Self::new(1, h, w),
            Some(&[c, h, w]) => Self::new(c, h, w),
            _ => {
                return Err(format!(
                    "'{s}' is not an image shape (expected HxW or CxHxW, e.g. 28x28 or 3x32x32)"
                ))
            }
        };
        let pixels = shape
            .channels
            .checked_mul(shape.height)
            .and_then(|p| p.checked_mul(shape.width));
        if pixels.is_none_or(|p| p > crate::model::MAX_INPUTS) {
            return Err(format!(
                "'{s}': more pixels than a model can take (at most {})",
                crate::model::MAX_INPUTS
            ));
        }
        if !matches!(shape.channels, 1 | 3) {
            return Err(format!(
                "'{s}': images have 1 (grayscale) or 3 (RGB) channels, not {}",
                shape.channels
            ));
        }
        Ok(shape)
    }
}

/// Images read from IDX or a folder, ready to become model inputs.
#[derive(Debug, Clone)]
pub struct ImageSet {
    /// Where they came from (for messages).
    pub source: PathBuf,
    /// Shape of every image.
    pub shape: ImageShape,
    /// One image per row, pixels in [0, 1], channel-major.
    pub x: Matrix,
    /// Name of the id column in outputs (`path` for folders, `index` for IDX).
    pub id_name: String,
    /// Ids: the path inside the folder, or the index in the IDX file.
    pub ids: Vec<String>,
    /// Labels: the sub-folder name, or the IDX label file's values.
    pub labels: Option<Vec<String>>,
}

impl ImageSet {
    /// The source as printed in messages.
    pub fn source_name(&self) -> String {
        self.source.display().to_string()
    }

    /// The images as model inputs.
    pub fn into_prepared(self) -> Prepared {
        let label_name = self.labels.as_ref().map(|_| "label".to_string());
        Prepared {
            x: self.x,
            id_name: self.id_name,
            ids: self.ids,
            labels: self.labels,
            label_name,
            warnings: Vec::new(),
        }
    }
}

/// True for names of IDX files: `*-ubyte`, `*-ubyte.gz`, `*.idx`, `*.idx.gz`, `*.idx3`….
pub fn looks_like_idx(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    name.ends_with("-ubyte")
        || name.ends_with(".ubyte")
        || name.ends_with(".idx")
        || name.contains(".idx1")
        || name.contains(".idx3")
}

/// Reads IDX images (`[n, height, width]`, or `[n, height, width, channels]` with 1 or 3
/// channels) and, optionally, an IDX label file with one label per image.
pub fn read_idx_images(images: &Path, labels: Option<&Path>) -> Result<ImageSet> {
    let a = read_idx(images)?;
    let bad = |msg: String| VaeError::Input(format!("{}: {msg}", images.display()));
    let shape = match a.dims.as_slice() {
        &[_, h, w] => ImageShape::new(1, h, w),
        &[_, h, w, c] if c == 1 || c == 3 => ImageShape::new(c, h, w),
        d => {
            return Err(bad(format!(
                "an IDX image file holds [n, height, width] or [n, height, width, 1 or 3] \
                 bytes; this one is {d:?}"
            )))
        }
    };
    if shape.height == 0 || shape.width == 0 {
        return Err(bad(format!("images of size {shape} hold no pixels")));
    }
    let n = a.dims[0];
    if n == 0 {
        return Err(bad("the file holds no images".into()));
    }
    let hwc = a.to_matrix();
    let x = if shape.channels == 3 {
        hwc_to_chw(&hwc, &shape)
    } else {
        hwc
    };
    let labels = match labels {
        Some(p) => {
            let l = read_idx(p)?;
            if l.dims.len() != 1 {
                return Err(VaeError::Input(format!(
                    "{}: an IDX label file holds one byte per image ([n]); this one is {:?}",
                    p.display(),
                    l.dims
                )));
            }
            if l.dims[0] != n {
                return Err(VaeError::Input(format!(
                    "{}: holds {} labels, but {} holds {n} images",
                    p.display(),
                    l.dims[0],
                    images.display()
                )));
            }
            Some(l.to_labels())
        }
        None => None,
    };
    Ok(ImageSet {
        source: images.to_path_buf(),
        shape,
        x,
        id_name: "index".into(),
        ids: (0..n).map(|i| i.to_string()).collect(),
        labels,
    })
}

/// Reorders interleaved pixels (`height × width × channels`) to channel-major rows.
fn hwc_to_chw(m: &Matrix, s: &ImageShape) -> Matrix {
    let (c, hw) = (s.channels, s.height * s.width);
    let mut out = vec![0f32; m.data.len()];
    for r in 0..m.rows {
        let (src, dst) = (m.row(r), &mut out[r * m.cols..(r + 1) * m.cols]);
        for p in 0..hw {
            for ch in 0..c {
                dst[ch * hw + p] = src[p * c + ch];
            }
        }
    }
    Matrix::new(m.rows, m.cols, out)
}

/// How to read a folder of images.
#[derive(Debug, Clone, Copy, Default)]
pub struct FolderOptions {
    /// Resize every image to this height and width (otherwise all must share one size).
    pub size: Option<(usize, usize)>,
    /// Convert to this many channels (otherwise grayscale if every image is, else RGB).
    pub channels: Option<usize>,
}

fn is_image_file(p: &Path) -> bool {
    p.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .is_some_and(|e| matches!(e.as_str(), "png" | "jpg" | "jpeg"))
}

/// Collects the image files under `dir`. Each folder is entered once, by its canonical path,
/// so a link back up the tree (`ln -s .. imgs/0/loop`) is not followed round and round.
fn walk(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    seen: &mut std::collections::HashSet<PathBuf>,
) -> Result<()> {
    let read_err = |source| VaeError::Read {
        path: dir.to_path_buf(),
        source,
    };
    if !seen.insert(dir.canonicalize().map_err(read_err)?) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .map_err(read_err)?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out, seen)?;
        } else if is_image_file(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Reads every PNG and JPEG file under `dir` (recursively, in path order). The id of an image
/// is its path inside `dir`; its label is the name of the folder it lies in, when every image
/// lies in a sub-folder.
pub fn read_image_folder(dir: &Path, opts: &FolderOptions) -> Result<ImageSet> {
    let mut files = Vec::new();
    walk(dir, &mut files, &mut Default::default())?;
    if files.is_empty() {
        return Err(VaeError::Input(format!(
            "{}: no PNG or JPEG files in the folder or its sub-folders",
            dir.display()
        )));
    }
    let mut images = Vec::with_capacity(files.len());
    for f in &files {
        let img = image::ImageReader::open(f)
            .map_err(|source| VaeError::Read {
                path: f.clone(),
                source,
            })?
            .with_guessed_format()
            .map_err(|source| VaeError::Read {
                path: f.clone(),
                source,
            })?
            .decode()
            .map_err(|e| {
                VaeError::Input(format!("{}: cannot decode the image: {e}", f.display()))
            })?;
        images.push(img);
    }
    let channels = opts.channels.unwrap_or_else(|| {
        if images.iter().all(|i| !i.color().has_color()) {
            1
        } else {
            3
        }
    });
    let (height, width) = match opts.size {
        Some(s) => s,
        None => {
            let (w0, h0) = (images[0].width(), images[0].height());
            if let Some((i, img)) = images
                .iter()
                .enumerate()
                .find(|(_, i)| (i.width(), i.height()) != (w0, h0))
            {
                return Err(VaeError::Input(format!(
                    "{}: the image is {}x{} pixels, but {} is {w0}x{h0}: images must share one \
                     size (hint: --image-size N resizes them all to N×N)",
                    files[i].display(),
                    img.width(),
                    img.height(),
                    files[0].display()
                )));
            }
            (h0 as usize, w0 as usize)
        }
    };
    let shape = ImageShape::new(channels, height, width);
    let mut data = Vec::with_capacity(files.len() * shape.len());
    for img in images {
        let img = if (img.height() as usize, img.width() as usize) != (height, width) {
            img.resize_exact(width as u32, height as u32, FilterType::Triangle)
        } else {
            img
        };
        push_pixels(&img, channels, &mut data);
    }
    let rel: Vec<PathBuf> = files
        .iter()
        .map(|f| f.strip_prefix(dir).unwrap_or(f).to_path_buf())
        .collect();
    let labels = rel.iter().all(|r| r.components().count() > 1).then(|| {
        rel.iter()
            .map(|r| {
                r.parent()
                    .and_then(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect()
    });
    Ok(ImageSet {
        source: dir.to_path_buf(),
        shape,
        x: Matrix::new(files.len(), shape.len(), data),
        id_name: "path".into(),
        ids: rel
            .iter()
            .map(|r| r.to_string_lossy().replace('\\', "/"))
            .collect(),
        labels,
    })
}

/// Appends an image's pixels in [0, 1], channel-major.
fn push_pixels(img: &DynamicImage, channels: usize, out: &mut Vec<f32>) {
    if channels == 1 {
        out.extend(img.to_luma32f().into_raw());
    } else {
        let rgb = img.to_rgb32f();
        let hw = (rgb.width() * rgb.height()) as usize;
        let raw = rgb.into_raw();
        for c in 0..3 {
            out.extend((0..hw).map(|p| raw[p * 3 + c]));
        }
    }
}

/// One image (a row of `shape.len()` values in [0, 1], channel-major) as an 8-bit picture.
pub fn to_dynamic_image(pixels: &[f32], shape: &ImageShape) -> DynamicImage {
    let (w, h) = (shape.width as u32, shape.height as u32);
    let q = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    if shape.channels == 1 {
        DynamicImage::ImageLuma8(
            image::GrayImage::from_raw(w, h, pixels.iter().map(|&v| q(v)).collect())
                .expect("buffer matches the shape"),
        )
    } else {
        let hw = shape.height * shape.width;
        let mut raw = Vec::with_capacity(hw * 3);
        for p in 0..hw {
            for c in 0..3 {
                raw.push(q(pixels[c * hw + p]));
            }
        }
        DynamicImage::ImageRgb8(image::RgbImage::from_raw(w, h, raw).expect("buffer matches"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_parse() {
        assert_eq!(
            "28x28".parse::<ImageShape>(),
            Ok(ImageShape::new(1, 28, 28))
        );
        assert_eq!(
            "3x32x32".parse::<ImageShape>(),
            Ok(ImageShape::new(3, 32, 32))
        );
        assert_eq!(
            "28".parse::<ImageShape>().unwrap_err(),
            "'28' is not an image shape (expected HxW or CxHxW, e.g. 28x28 or 3x32x32)"
        );
        assert!("2x8x8".parse::<ImageShape>().unwrap_err().contains("not 2"));
        assert_eq!(ImageShape::new(3, 4, 5).len(), 60);
    }

    #[test]
    fn idx_names_are_recognised() {
        for n in [
            "t10k-images-idx3-ubyte",
            "train-images-idx3-ubyte.gz",
            "x.idx",
            "a.IDX3.gz",
        ] {
            assert!(looks_like_idx(Path::new(n)), "{n}");
        }
        assert!(!looks_like_idx(Path::new("data.csv")));
    }

    fn write_png(path: &Path, w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3], gray: bool) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        if gray {
            image::GrayImage::from_fn(w, h, |x, y| image::Luma([f(x, y)[0]]))
                .save(path)
                .unwrap();
        } else {
            image::RgbImage::from_fn(w, h, |x, y| image::Rgb(f(x, y)))
                .save(path)
                .unwrap();
        }
    }

    #[test]
    fn folders_give_pixels_ids_and_labels() {
        let d = tempfile::tempdir().unwrap();
        write_png(
            &d.path().join("cat/a.png"),
            3,
            2,
            |x, y| [(x * 51 + y * 100) as u8; 3],
            true,
        );
        write_png(&d.path().join("dog/b.png"), 3, 2, |_, _| [255; 3], true);
        std::fs::write(d.path().join("notes.txt"), "ignored").unwrap();
        let s = read_image_folder(d.path(), &FolderOptions::default()).unwrap();
        assert_eq!(s.shape, ImageShape::new(1, 2, 3));
        assert_eq!(s.ids, vec!["cat/a.png", "dog/b.png"]);
        assert_eq!(s.labels, Some(vec!["cat".to_string(), "dog".to_string()]));
        assert_eq!(s.id_name, "path");
        let want = [0.0, 51.0, 102.0, 100.0, 151.0, 202.0].map(|v| v / 255.0);
        for (a, b) in s.x.row(0).iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        assert_eq!(s.x.row(1), &[1.0; 6]);
    }

    #[test]
    fn rgb_is_channel_major_and_round_trips() {
        let d = tempfile::tempdir().unwrap();
        write_png(
            &d.path().join("a.png"),
            2,
            1,
            |x, _| [10, 20 + x as u8, 30],
            false,
        );
        let s = read_image_folder(d.path(), &FolderOptions::default()).unwrap();
        assert_eq!(s.shape, ImageShape::new(3, 1, 2));
        assert_eq!(s.labels, None, "images at the top level have no label");
        let px: Vec<u8> =
            s.x.row(0)
                .iter()
                .map(|v| (v * 255.0).round() as u8)
                .collect();
        assert_eq!(px, vec![10, 10, 20, 21, 30, 30]);
        let img = to_dynamic_image(s.x.row(0), &s.shape).to_rgb8();
        assert_eq!(img.get_pixel(1, 0).0, [10, 21, 30]);
    }

    #[test]
    fn mixed_sizes_need_resizing() {
        let d = tempfile::tempdir().unwrap();
        write_png(&d.path().join("a.png"), 4, 4, |_, _| [0; 3], true);
        write_png(&d.path().join("b.png"), 6, 5, |_, _| [255; 3], true);
        let e = read_image_folder(d.path(), &FolderOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("b.png: the image is 6x5 pixels, but "), "{e}");
        assert!(e.contains("--image-size N"), "{e}");
        let s = read_image_folder(
            d.path(),
            &FolderOptions {
                size: Some((4, 4)),
                channels: None,
            },
        )
        .unwrap();
        assert_eq!(s.shape, ImageShape::new(1, 4, 4));
        assert_eq!(s.x.row(1), &[1.0; 16]);
    }

    #[test]
    fn corrupt_images_name_the_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("bad.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
        let e = read_image_folder(d.path(), &FolderOptions::default()).unwrap_err();
        assert!(matches!(e, VaeError::Input(_)));
        let e = e.to_string();
        assert!(e.contains("bad.png: cannot decode the image"), "{e}");
    }

    #[test]
    fn idx_labels_must_match_the_images() {
        let d = tempfile::tempdir().unwrap();
        let img = d.path().join("i-images-idx3-ubyte");
        let mut b = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
        b.extend([0, 255, 255, 0]);
        std::fs::write(&img, &b).unwrap();
        let lab = d.path().join("l-labels-idx1-ubyte");
        std::fs::write(&lab, [0, 0, 8, 1, 0, 0, 0, 2, 3, 4]).unwrap();
        let s = read_idx_images(&img, Some(&lab)).unwrap();
        assert_eq!(s.shape, ImageShape::new(1, 1, 2));
        assert_eq!(s.x.row(1), &[1.0, 0.0]);
        assert_eq!(s.labels, Some(vec!["3".to_string(), "4".to_string()]));
        assert_eq!(s.ids, vec!["0", "1"]);
        std::fs::write(&lab, [0, 0, 8, 1, 0, 0, 0, 3, 3, 4, 5]).unwrap();
        let e = read_idx_images(&img, Some(&lab)).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{}: holds 3 labels, but {} holds 2 images",
                lab.display(),
                img.display()
            )
        );
    }
}
