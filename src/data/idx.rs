//! A minimal reader for IDX files (the MNIST format, LeCun et al.): a big-endian header of a
//! magic number `0x0000TTNN` (TT = element type, NN = number of dimensions) and one u32 per
//! dimension, then the elements. Unsigned bytes (`0x08`) only: images and labels. `.gz` files are
//! decompressed (recognised by their magic bytes, whatever their name).

use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::data::Matrix;
use crate::error::{Result, VaeError};

/// An IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    /// Dimensions, outermost first (e.g. `[n, 28, 28]`).
    pub dims: Vec<usize>,
    /// Elements in row-major order.
    pub data: Vec<u8>,
}

fn bad(path: &Path, msg: String) -> VaeError {
    VaeError::Input(format!("{}: {msg}", path.display()))
}

/// The most element bytes an IDX file may hold (16 GiB, far beyond any image set vaetool
/// trains on): a header promising more is refused before anything is allocated.
pub const MAX_IDX_BYTES: u64 = 1 << 34;

/// Reads an IDX file of unsigned bytes, streaming: the header is read first, the size it
/// promises checked, and only then the elements (never more than promised, and nothing
/// allocated ahead of what actually arrives — a gzip bomb or a lying header stops early).
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    let read_err = |source| VaeError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::io::BufReader::new(std::fs::File::open(path).map_err(read_err)?);
    let head = std::io::BufRead::fill_buf(&mut file).map_err(read_err)?;
    // gzip is recognised by its magic bytes, whatever the file is called
    let reader: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    parse_idx_from(path, reader)
}

/// Parses IDX bytes (`path` only names the source in errors).
pub fn parse_idx(path: &Path, bytes: &[u8]) -> Result<IdxArray> {
    parse_idx_from(path, bytes)
}

/// Reads as many bytes as `r` gives, up to `buf.len()`; returns how many.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn parse_idx_from(path: &Path, mut r: impl Read) -> Result<IdxArray> {
    let read_err = |source| VaeError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut magic = [0u8; 4];
    if read_up_to(&mut r, &mut magic).map_err(read_err)? < 4 {
        return Err(bad(
            path,
            "not an IDX file (shorter than its 4-byte magic number)".into(),
        ));
    }
    let magic = u32::from_be_bytes(magic);
    let (ty, nd) = ((magic >> 8) & 0xff, (magic & 0xff) as usize);
    if magic >> 16 != 0 || ty != 0x08 || nd == 0 || nd > 4 {
        return Err(bad(
            path,
            format!("not an IDX file of unsigned bytes (magic number 0x{magic:08x}; expected 0x00000801 to 0x00000804)"),
        ));
    }
    let mut header = vec![0u8; 4 * nd];
    if read_up_to(&mut r, &mut header).map_err(read_err)? < header.len() {
        return Err(bad(path, "truncated IDX header".into()));
    }
    let dims: Vec<usize> = header
        .chunks(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    // the whole array and one item (all dimensions but the first) within bounds: with a first
    // dimension of 0 the whole is empty whatever the rest claims
    let size = |ds: &[usize]| {
        ds.iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d as u64))
            .filter(|&n| n <= MAX_IDX_BYTES)
    };
    let n = size(&dims)
        .filter(|_| size(&dims[1..]).is_some())
        .ok_or_else(|| {
            bad(
                path,
                format!(
                    "the IDX header promises {dims:?} elements, more than vaetool reads \
                     ({MAX_IDX_BYTES} bytes at most); the file is corrupt or not an image set"
                ),
            )
        })?;
    let mut data = Vec::new();
    r.take(n).read_to_end(&mut data).map_err(read_err)?;
    if (data.len() as u64) < n {
        return Err(bad(
            path,
            format!(
                "truncated IDX data: the header promises {dims:?} = {n} bytes, the file holds {}",
                data.len()
            ),
        ));
    }
    Ok(IdxArray { dims, data })
}

impl IdxArray {
    /// Images as rows of pixels scaled to [0, 1] (`[n, h, w]` → `n × h·w`).
    pub fn to_matrix(&self) -> Matrix {
        let n = self.dims[0];
        // (a dimension of 0 makes an empty matrix, never a buffer of the wrong length)
        let cols = self.dims[1..].iter().product::<usize>();
        Matrix::new(
            n,
            cols,
            self.data.iter().map(|&v| f32::from(v) / 255.0).collect(),
        )
    }

    /// Labels as strings (a 1-dimensional array).
    pub fn to_labels(&self) -> Vec<String> {
        self.data.iter().map(|v| v.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images() -> Vec<u8> {
        let mut b = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3];
        b.extend([0, 51, 102, 153, 204, 255, 255, 0, 0, 0, 0, 1]);
        b
    }

    #[test]
    fn reads_images_and_labels() {
        let a = parse_idx(Path::new("x"), &images()).unwrap();
        assert_eq!(a.dims, vec![2, 2, 3]);
        let m = a.to_matrix();
        assert_eq!((m.rows, m.cols), (2, 6));
        assert_eq!(m.row(0), &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        let l = parse_idx(Path::new("y"), &[0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]).unwrap();
        assert_eq!(l.to_labels(), vec!["7", "2", "1"]);
    }

    #[test]
    fn reads_gzip_files() {
        use std::io::Write;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t-images-idx3-ubyte.gz");
        let mut e = flate2::write::GzEncoder::new(
            std::fs::File::create(&p).unwrap(),
            flate2::Compression::default(),
        );
        e.write_all(&images()).unwrap();
        e.finish().unwrap();
        assert_eq!(read_idx(&p).unwrap().dims, vec![2, 2, 3]);
    }

    #[test]
    fn a_zero_dimension_gives_an_empty_matrix() {
        // found by the fuzzer (fuzz/corpus/idx/regression-zero-dim): dims [512, 0, 2^25]
        // once panicked building the matrix
        let b = include_bytes!("../../fuzz/corpus/idx/regression-zero-dim");
        let a = parse_idx(Path::new("z"), b).unwrap();
        assert_eq!(a.dims, vec![512, 0, 1 << 25]);
        let m = a.to_matrix();
        assert_eq!((m.rows, m.cols, m.data.len()), (512, 0, 0));
    }

    #[test]
    fn an_item_size_past_the_bound_is_refused_even_with_no_items() {
        // found by the fuzzer (fuzz/corpus/idx/regression-item-overflow): dims [0, 49,
        // 0x30ffffff, 0xffffffc2] — an empty array whose item size overflows 64 bits
        let b = include_bytes!("../../fuzz/corpus/idx/regression-item-overflow");
        let e = parse_idx(Path::new("o"), b).unwrap_err().to_string();
        assert!(e.contains("the IDX header promises [0, 49,"), "{e}");
    }

    #[test]
    fn a_header_promising_too_much_is_refused_before_allocating() {
        // 2^22 × 2^21 × 2^21 wraps to 0 in 64 bits: once accepted as an empty array
        let mut b = vec![0, 0, 8, 3];
        for d in [1u32 << 22, 1 << 21, 1 << 21] {
            b.extend(d.to_be_bytes());
        }
        let e = parse_idx(Path::new("h.idx"), &b).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "h.idx: the IDX header promises [4194304, 2097152, 2097152] elements, more than \
                 vaetool reads ({MAX_IDX_BYTES} bytes at most); the file is corrupt or not an \
                 image set"
            )
        );
        // large but representable, with few bytes behind it: truncated, nothing preallocated
        let mut b = vec![0, 0, 8, 3];
        for d in [1u32 << 20, 1 << 10, 1 << 3] {
            b.extend(d.to_be_bytes());
        }
        b.extend([1, 2, 3]);
        let e = parse_idx(Path::new("h.idx"), &b).unwrap_err().to_string();
        assert!(e.ends_with("= 8589934592 bytes, the file holds 3"), "{e}");
    }

    #[test]
    fn wrong_magic_and_truncation_are_clear_errors() {
        let mut b = images();
        b[2] = 0x0d; // float elements
        let e = parse_idx(Path::new("f.idx"), &b).unwrap_err().to_string();
        assert_eq!(
            e,
            "f.idx: not an IDX file of unsigned bytes (magic number 0x00000d03; expected 0x00000801 to 0x00000804)"
        );
        let b = images();
        let e = parse_idx(Path::new("f.idx"), &b[..b.len() - 2])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "f.idx: truncated IDX data: the header promises [2, 2, 3] = 12 bytes, the file holds 10"
        );
        let e = parse_idx(Path::new("f.idx"), &b[..10])
            .unwrap_err()
            .to_string();
        assert_eq!(e, "f.idx: truncated IDX header");
    }
}
