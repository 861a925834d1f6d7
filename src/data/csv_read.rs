//! Reading CSV (optionally gzip-compressed, or from stdin as `-`) into a table of raw string
//! cells, remembering each row's line number for error messages.

use std::cell::RefCell;
use std::collections::VecDeque;
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

/// One column of raw cells, stored as one text buffer and the end offset of every cell: no
/// allocation per cell (a million rows of 20 columns would otherwise be 20 million strings).
/// `column[r]` is row `r`'s cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Column {
    text: String,
    ends: Vec<usize>,
}

impl Column {
    /// Appends a cell.
    pub fn push(&mut self, cell: &str) {
        self.text.push_str(cell);
        self.ends.push(self.text.len());
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the column has no cells.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The cells in row order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(move |r| &self[r])
    }

    /// The cells as owned strings.
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_string).collect()
    }
}

impl std::ops::Index<usize> for Column {
    type Output = str;
    fn index(&self, r: usize) -> &str {
        let start = if r == 0 { 0 } else { self.ends[r - 1] };
        &self.text[start..self.ends[r]]
    }
}

impl<'a> FromIterator<&'a str> for Column {
    fn from_iter<I: IntoIterator<Item = &'a str>>(cells: I) -> Self {
        let mut c = Column::default();
        for cell in cells {
            c.push(cell);
        }
        c
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
    pub columns: Vec<Column>,
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

/// Where the line breaks (`\n` or `\r\n`) seen so far start and end, so that a record's byte
/// position maps to its exact line. The csv crate's own line count skips blank lines, and its
/// record position points at the blank lines before a record. Breaks before the latest record
/// are folded into a count, so memory stays bounded however long the file.
#[derive(Default)]
struct LineBreaks {
    before: u64,
    breaks: VecDeque<(u64, u64)>,
}

impl LineBreaks {
    /// The 1-based line of the first record starting at or after `byte`, skipping blank
    /// lines; forgets the breaks before it.
    fn line_at(&mut self, byte: u64) -> u64 {
        let mut b = byte;
        let mut i = self.breaks.partition_point(|&(_, end)| end < b);
        while i < self.breaks.len() && self.breaks[i].0 <= b {
            b = self.breaks[i].1 + 1;
            i += 1;
        }
        let line = self.before + i as u64 + 1;
        let drop = self.breaks.partition_point(|&(_, end)| end < byte);
        self.breaks.drain(..drop);
        self.before += drop as u64;
        line
    }
}

struct LineIndex<R> {
    inner: R,
    offset: u64,
    prev_cr: bool,
    breaks: Rc<RefCell<LineBreaks>>,
}

impl<R: Read> Read for LineIndex<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut br = self.breaks.borrow_mut();
        for (i, &b) in buf[..n].iter().enumerate() {
            let at = self.offset + i as u64;
            if b == b'\n' {
                br.breaks
                    .push_back((if self.prev_cr { at - 1 } else { at }, at));
            }
            self.prev_cr = b == b'\r';
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// Reads a delimited file in chunks of rows: the whole file at once ([`read_table`]) or a
/// bounded number of rows at a time for files larger than memory.
pub struct TableReader {
    source: PathBuf,
    name: String,
    rdr: csv::Reader<LineIndex<Box<dyn Read>>>,
    breaks: Rc<RefCell<LineBreaks>>,
    headers: Vec<String>,
    has_header: bool,
    pending: Option<(csv::StringRecord, u64)>,
    rows_read: usize,
}

impl TableReader {
    /// Opens the file and reads its header (or, without one, its first row).
    pub fn open(path: &Path, opts: &ReadOptions) -> Result<TableReader> {
        let name = path.display().to_string();
        let breaks = Rc::new(RefCell::new(LineBreaks::default()));
        let reader = LineIndex {
            inner: open(path)?,
            offset: 0,
            prev_cr: false,
            breaks: Rc::clone(&breaks),
        };
        let rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .delimiter(opts.delimiter)
            .flexible(true)
            .from_reader(reader);
        let mut t = TableReader {
            source: path.to_path_buf(),
            name,
            rdr,
            breaks,
            headers: Vec::new(),
            has_header: opts.has_header,
            pending: None,
            rows_read: 0,
        };
        let Some((first, line)) = t.next_record()? else {
            return Err(VaeError::Input(format!("{}: the file is empty", t.name)));
        };
        if opts.has_header {
            let h: Vec<String> = first.iter().map(|c| c.trim().to_string()).collect();
            for (i, a) in h.iter().enumerate() {
                if h[..i].contains(a) {
                    return Err(VaeError::Input(format!(
                        "{}: line {line}: column name '{a}' appears twice in the header",
                        t.name
                    )));
                }
            }
            t.headers = h;
        } else {
            t.headers = (0..first.len()).map(|i| format!("c{i}")).collect();
            t.pending = Some((first, line));
        }
        Ok(t)
    }

    /// Column names.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    fn next_record(&mut self) -> Result<Option<(csv::StringRecord, u64)>> {
        let mut record = csv::StringRecord::new();
        loop {
            let more = self.rdr.read_record(&mut record).map_err(|e| {
                let breaks = Rc::clone(&self.breaks);
                csv_error(&self.name, e, &|b| breaks.borrow_mut().line_at(b))
            })?;
            if !more {
                return Ok(None);
            }
            let line = record
                .position()
                .map_or(0, |p| self.breaks.borrow_mut().line_at(p.byte()));
            if record.len() == 1 && record.get(0).is_some_and(|c| c.trim().is_empty()) {
                continue; // blank line
            }
            return Ok(Some((record, line)));
        }
    }

    /// The next at most `max_rows` rows, or `None` at the end of the file.
    pub fn next_chunk(&mut self, max_rows: usize) -> Result<Option<Table>> {
        let n_cols = self.headers.len();
        let mut columns: Vec<Column> = vec![Column::default(); n_cols];
        let mut lines = Vec::new();
        while lines.len() < max_rows {
            let next = match self.pending.take() {
                Some(p) => Some(p),
                None => self.next_record()?,
            };
            let Some((record, line)) = next else { break };
            if record.len() != n_cols && record.iter().any(|f| f.contains('\n')) {
                // a field that swallowed line ends: a quote opened and never closed
                return Err(VaeError::Input(format!(
                    "{}: line {line}: a quoted field opened on this line is never closed (an \
                     unterminated \" runs to the end of the file or of the row)",
                    self.name
                )));
            }
            if record.len() != n_cols {
                return Err(VaeError::Input(format!(
                    "{}: line {line}: expected {n_cols} fields like the {}, found {} (ragged row)",
                    self.name,
                    if self.has_header {
                        "header"
                    } else {
                        "first row"
                    },
                    record.len()
                )));
            }
            for (c, cell) in record.iter().enumerate() {
                columns[c].push(cell.trim());
            }
            lines.push(line);
        }
        if lines.is_empty() {
            if self.rows_read == 0 {
                return Err(VaeError::Input(format!(
                    "{}: no data rows (only a header)",
                    self.name
                )));
            }
            return Ok(None);
        }
        self.rows_read += lines.len();
        Ok(Some(Table {
            source: self.source.clone(),
            headers: self.headers.clone(),
            columns,
            lines,
        }))
    }
}

/// Reads a whole delimited file into a [`Table`].
///
/// Errors name the file and line: a missing or unreadable file, an empty file, a header
/// without rows, a ragged row, a duplicated column name.
pub fn read_table(path: &Path, opts: &ReadOptions) -> Result<Table> {
    let mut r = TableReader::open(path, opts)?;
    Ok(r.next_chunk(usize::MAX)?
        .expect("at least one row, or an error"))
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
    fn column_keeps_cells_in_one_buffer() {
        let mut c: Column = ["1.5", "", "abc"].into_iter().collect();
        c.push("né");
        assert_eq!(c.len(), 4);
        assert_eq!((&c[0], &c[1], &c[2], &c[3]), ("1.5", "", "abc", "né"));
        assert_eq!(c.iter().collect::<Vec<_>>(), vec!["1.5", "", "abc", "né"]);
        assert_eq!(c.to_vec(), vec!["1.5", "", "abc", "né"]);
        assert!(Column::default().is_empty());
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
        assert_eq!(t.columns[1].to_vec(), vec!["2", "4", "6", "8"]);
        assert_eq!(t.lines, vec![2, 4, 7, 9]);
    }

    #[test]
    fn chunks_cover_the_file_with_exact_lines() {
        let d = tempfile::tempdir().unwrap();
        let p = write(&d, "c.csv", "a\n1\n2\n\n3\n4\n5\n");
        let mut r = TableReader::open(&p, &ReadOptions::default()).unwrap();
        let mut got = Vec::new();
        while let Some(t) = r.next_chunk(2).unwrap() {
            assert!(t.n_rows() <= 2);
            got.extend(
                t.columns[0]
                    .iter()
                    .map(str::to_string)
                    .zip(t.lines.iter().copied()),
            );
        }
        let want: Vec<(String, u64)> = [("1", 2), ("2", 3), ("3", 5), ("4", 6), ("5", 7)]
            .iter()
            .map(|&(v, l)| (v.to_string(), l))
            .collect();
        assert_eq!(got, want);
        // a ragged row in a later chunk still names its line
        let p = write(&d, "r.csv", "a,b\n1,2\n3,4\n5\n");
        let mut r = TableReader::open(&p, &ReadOptions::default()).unwrap();
        assert_eq!(r.next_chunk(2).unwrap().unwrap().n_rows(), 2);
        let e = r.next_chunk(2).unwrap_err().to_string();
        assert!(
            e.ends_with("r.csv: line 4: expected 2 fields like the header, found 1 (ragged row)"),
            "{e}"
        );
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
        assert_eq!(t.columns[0].to_vec(), vec!["1"]);
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
