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

/// Reads an IDX file of unsigned bytes.
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    let read_err = |source| VaeError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = std::fs::read(path).map_err(read_err)?;
    // gzip is recognised by its magic bytes, whatever the file is called
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::new();
        MultiGzDecoder::new(bytes.as_slice())
            .read_to_end(&mut plain)
            .map_err(read_err)?;
        bytes = plain;
    }
    parse_idx(path, &bytes)
}

/// Parses IDX bytes (`path` only names the source in errors).
pub fn parse_idx(path: &Path, bytes: &[u8]) -> Result<IdxArray> {
    if bytes.len() < 4 {
        return Err(bad(
            path,
            "not an IDX file (shorter than its 4-byte magic number)".into(),
        ));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let (ty, nd) = ((magic >> 8) & 0xff, (magic & 0xff) as usize);
    if magic >> 16 != 0 || ty != 0x08 || nd == 0 || nd > 4 {
        return Err(bad(
            path,
            format!("not an IDX file of unsigned bytes (magic number 0x{magic:08x}; expected 0x00000801 to 0x00000804)"),
        ));
    }
    let header = 4 + 4 * nd;
    if bytes.len() < header {
        return Err(bad(path, "truncated IDX header".into()));
    }
    let dims: Vec<usize> = (0..nd)
        .map(|i| {
            let o = 4 + 4 * i;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    let n: usize = dims.iter().product();
    let have = bytes.len() - header;
    if have < n {
        return Err(bad(
            path,
            format!("truncated IDX data: the header promises {dims:?} = {n} bytes, the file holds {have}"),
        ));
    }
    Ok(IdxArray {
        dims,
        data: bytes[header..header + n].to_vec(),
    })
}

impl IdxArray {
    /// Images as rows of pixels scaled to [0, 1] (`[n, h, w]` → `n × h·w`).
    pub fn to_matrix(&self) -> Matrix {
        let n = self.dims[0];
        let cols = self.dims[1..].iter().product::<usize>().max(1);
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
