//! Reading CSV (optionally gzip-compressed, or from stdin as `-`) into a table of raw string
//! cells, remembering each row's line number for error messages.

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use flate2::read::MultiGzDecoder;

use crate::error::{Result, VaeError};

/// How to read a delimited file.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Whether the first record holds column names (otherwise columns are named `c0`, `c1`, …).
    pub has_header: bool,
    /// Field delimiter, `b','` by default.
    pub delimiter: u8,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            has_header: true,
            delimiter: b',',
        }
    }
}

/// A table of raw cells, column-major, with the source line of every row.
#[derive(Debug, Clone)]
pub struct Table {
    /// The file the table came from (`-` for stdin), for error messages.
    pub source: PathBuf,
    /// Column names.
    pub headers: Vec<String>,
    /// `columns[c][r]` is the cell of row `r` in column `c`.
    pub columns: Vec<Vec<String>>,
    /// 1-based line number of each row in the source.
    pub lines: Vec<u64>,
}

impl Table {
    /// Number of data rows.
    pub fn n_rows(&self) -> usize {
        self.lines.len()
    }

    /// Index of the column called `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }

    /// The source as text, for messages.
    pub fn source_name(&self) -> String {
        self.source.display().to_string()
    }
}

fn open(path: &Path) -> Result<Box<dyn Read>> {
    let raw: Box<dyn Read> = if path == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        let f = File::open(path).map_err(|source| VaeError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Box::new(BufReader::new(f))
    };
    let gz = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".gz"));
    Ok(if gz {
        Box::new(MultiGzDecoder::new(raw))
    } else {
        raw
    })
}

/// Records where every line break (`\n` or `\r\n`) that passes through starts and ends, so that
/// a record's byte position maps to its exact line. The csv crate's own line count skips blank
/// lines, and its record position points at the blank lines before a record.
struct LineIndex<R> {
    inner: R,
    offset: u64,
    prev_cr: bool,
    breaks: Rc<RefCell<Vec<(u64, u64)>>>,
}

impl<R: Read> Read for LineIndex<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut br = self.breaks.borrow_mut();
        for (i, &b) in buf[..n].iter().enumerate() {
            let at = self.offset + i as u64;
            if b == b'\n' {
                br.push((if self.prev_cr { at - 1 } else { at }, at));
            }
            self.prev_cr = b == b'\r';
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// The 1-based line of the first record starting at or after `byte`, skipping blank lines.
fn line_at(breaks: &[(u64, u64)], byte: u64) -> u64 {
    let mut b = byte;
    let mut i = breaks.partition_point(|&(_, end)| end < b);
    while i < breaks.len() && breaks[i].0 <= b {
        b = breaks[i].1 + 1;
        i += 1;
    }
    i as u64 + 1
}

/// Reads a whole delimited file into a [`Table`].
///
/// Errors name the file and line: a missing or unreadable file, an empty file, a header
/// without rows, a ragged row, a duplicated column name.
pub fn read_table(path: &Path, opts: &ReadOptions) -> Result<Table> {
    let name = path.display().to_string();
    let breaks = Rc::new(RefCell::new(Vec::new()));
    let reader = LineIndex {
        inner: open(path)?,
        offset: 0,
        prev_cr: false,
        breaks: Rc::clone(&breaks),
    };
    let line_of = |byte: u64| line_at(&breaks.borrow(), byte);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(opts.delimiter)
        .flexible(true)
        .from_reader(reader);
    let mut headers: Option<Vec<String>> = None;
    let mut columns: Vec<Vec<String>> = Vec::new();
    let mut lines = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let more = rdr
            .read_record(&mut record)
            .map_err(|e| csv_error(&name, e, &line_of))?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| line_of(p.byte()));
        if record.len() == 1 && record.get(0).is_some_and(|c| c.trim().is_empty()) {
            continue; // blank line
        }
        match &headers {
            None => {
                let n = record.len();
                if opts.has_header {
                    let h: Vec<String> = record.iter().map(|c| c.trim().to_string()).collect();
                    for (i, a) in h.iter().enumerate() {
                        if h[..i].contains(a) {
                            return Err(VaeError::Input(format!(
                                "{name}: line {line}: column name '{a}' appears twice in the header"
                            )));
                        }
                    }
                    headers = Some(h);
                    columns = vec![Vec::new(); n];
                    continue;
                }
                headers = Some((0..n).map(|i| format!("c{i}")).collect());
                columns = vec![Vec::new(); n];
            }
            Some(h) => {
                if record.len() != h.len() {
                    return Err(VaeError::Input(format!(
                        "{name}: line {line}: expected {} fields like the {}, found {} (ragged row)",
                        h.len(),
                        if opts.has_header { "header" } else { "first row" },
                        record.len()
                    )));
                }
            }
        }
        for (c, cell) in record.iter().enumerate() {
            columns[c].push(cell.trim().to_string());
        }
        lines.push(line);
    }
    let Some(headers) = headers else {
        return Err(VaeError::Input(format!("{name}: the file is empty")));
    };
    if lines.is_empty() {
        return Err(VaeError::Input(format!(
            "{name}: no data rows (only a header)"
        )));
    }
    Ok(Table {
        source: path.to_path_buf(),
        headers,
        columns,
        lines,
    })
}

fn csv_error(name: &str, e: csv::Error, line_of: &dyn Fn(u64) -> u64) -> VaeError {
    let line = e.position().map(|p| line_of(p.byte()));
    let at = line.map(|l| format!("line {l}: ")).unwrap_or_default();
    match e.into_kind() {
        csv::ErrorKind::Io(source) => VaeError::Read {
            path: PathBuf::from(name),
            source,
        },
        csv::ErrorKind::Utf8 { .. } => {
            VaeError::Input(format!("{name}: {at}the file is not valid UTF-8 text"))
        }
        other => VaeError::Input(format!("{name}: {at}cannot parse CSV: {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn reads_header_rows_and_lines() {
        let d = tempfile::tempdir().unwrap();
        let p = write(&d, "a.csv", "x,y\n1,2\n\n3,4\n\n\n\"5\nx\",6\n7,8");
        let t = read_table(&p, &ReadOptions::default()).unwrap();
        assert_eq!(t.headers, vec!["x", "y"]);
        let crlf = write(&d, "w.csv", "x,y\r\n1,2\r\n\r\n3,4\r\n");
        assert_eq!(
            read_table(&crlf, &ReadOptions::default()).unwrap().lines,
            vec![2, 4]
        );
        assert_eq!(t.columns[1], vec!["2", "4", "6", "8"]);
        assert_eq!(t.lines, vec![2, 4, 7, 9]);
    }

    #[test]
    fn no_header_names_columns() {
        let d = tempfile::tempdir().unwrap();
        let p = write(&d, "a.tsv", "1\t2\n3\t4\n");
        let opts = ReadOptions {
            has_header: false,
            delimiter: b'\t',
        };
        let t = read_table(&p, &opts).unwrap();
        assert_eq!(t.headers, vec!["c0", "c1"]);
        assert_eq!(t.n_rows(), 2);
    }

    #[test]
    fn reads_gzip() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.csv.gz");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&p).unwrap(),
            flate2::Compression::default(),
        );
        enc.write_all(b"a,b\n1,2\n").unwrap();
        enc.finish().unwrap();
        let t = read_table(&p, &ReadOptions::default()).unwrap();
        assert_eq!(t.columns[0], vec!["1"]);
    }

    #[test]
    fn ragged_empty_and_header_only_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = write(&d, "r.csv", "a,b\n1,2\n3\n");
        let e = read_table(&p, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("r.csv: line 3: expected 2 fields like the header, found 1 (ragged row)"),
            "{e}"
        );
        let p = write(&d, "e.csv", "");
        let e = read_table(&p, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("e.csv: the file is empty"), "{e}");
        let p = write(&d, "h.csv", "a,b\n");
        let e = read_table(&p, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("h.csv: no data rows (only a header)"), "{e}");
    }
}
