//! The IDX parser on any bytes (and the same bytes gzipped as a file): an array or an error,
//! never a panic or an allocation the data does not back.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use vaetool::data::idx::{parse_idx, read_idx};

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz.idx");
    if let Ok(a) = parse_idx(path, data) {
        let n: usize = a.dims.iter().product();
        assert_eq!(a.data.len(), n);
        if a.dims.len() > 1 {
            let m = a.to_matrix();
            assert_eq!(m.rows * m.cols, n);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("f-idx3-ubyte.gz");
    let mut e = flate2_writer(&gz);
    e.write_all(data).unwrap();
    drop(e);
    let _ = read_idx(&gz);
});

fn flate2_writer(p: &std::path::Path) -> impl Write {
    // a plain gzip member written by hand (stored blocks), so the target needs no flate2
    struct Gz {
        f: std::fs::File,
        buf: Vec<u8>,
    }
    impl Write for Gz {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.buf.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Drop for Gz {
        fn drop(&mut self) {
            let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
            let chunks: Vec<&[u8]> = if self.buf.is_empty() {
                vec![&[]]
            } else {
                self.buf.chunks(65535).collect()
            };
            for (i, c) in chunks.iter().enumerate() {
                out.push(u8::from(i + 1 == chunks.len()));
                out.extend((c.len() as u16).to_le_bytes());
                out.extend((!(c.len() as u16)).to_le_bytes());
                out.extend_from_slice(c);
            }
            out.extend(crc32(&self.buf).to_le_bytes());
            out.extend((self.buf.len() as u32).to_le_bytes());
            let _ = self.f.write_all(&out);
        }
    }
    fn crc32(b: &[u8]) -> u32 {
        let mut c = !0u32;
        for &x in b {
            c ^= u32::from(x);
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ 0xedb8_8320 } else { c >> 1 };
            }
        }
        !c
    }
    Gz {
        f: std::fs::File::create(p).unwrap(),
        buf: Vec::new(),
    }
}
