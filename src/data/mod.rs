//! Data input: reading delimited text into a [`Table`] of raw cells ([`csv_read`]), and the
//! [`schema::Schema`] that turns a table into a numeric [`Matrix`] with the preprocessing
//! learned at training time. Images (IDX files, folders of PNG/JPEG) are read by [`image`].

pub mod csv_read;
pub mod idx;
pub mod image;
pub mod input;
pub mod schema;

pub use csv_read::{read_table, Column, ReadOptions, Table, TableReader};
pub use image::{ImageSet, ImageShape};
pub use schema::{pixel_table_shape, DataOptions, Impute, Prepared, Scale, Schema};

/// The longest value (in characters) that messages echo whole.
pub const MESSAGE_VALUE_CHARS: usize = 80;

/// A user's value (a cell, a column name) as a message shows it: whole up to
/// [`MESSAGE_VALUE_CHARS`] characters, else its start and how long it is.
pub fn clip(s: &str) -> std::borrow::Cow<'_, str> {
    clip_to(s, MESSAGE_VALUE_CHARS)
}

fn clip_to(s: &str, chars: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(chars) {
        None => s.into(),
        Some((cut, _)) => format!("{}… ({} characters)", &s[..cut], s.chars().count()).into(),
    }
}

/// A message with every over-long word (a run of over 300 characters without white space, such
/// as a value echoed inside quotes, but not a path of ordinary length) cut as [`clip`] does:
/// the binary's last line of defence, so that no error message repeats a 100,000-character
/// cell or column name.
pub fn clip_message(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len().min(4096));
    let mut word = String::new();
    for c in msg.chars().chain(std::iter::once(' ')) {
        if c.is_whitespace() {
            out.push_str(&clip_to(&word, 300));
            word.clear();
            out.push(c);
        } else {
            word.push(c);
        }
    }
    out.pop();
    out
}

/// Index of the largest value (the first on ties; NaNs skipped; 0 for an empty slice).
pub fn argmax<T: PartialOrd + Copy>(v: &[T]) -> usize {
    let mut best: Option<(usize, T)> = None;
    for (i, &x) in v.iter().enumerate() {
        #[allow(clippy::eq_op)] // x != x only for NaN
        let better = best.map_or(x == x, |(_, b)| x > b);
        if better {
            best = Some((i, x));
        }
    }
    best.map_or(0, |(i, _)| i)
}

/// A dense row-major matrix of `f32`: the one buffer every batch is cut from.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// `rows * cols` values, row after row.
    pub data: Vec<f32>,
}

impl Matrix {
    /// A matrix from its row-major values.
    ///
    /// # Panics
    /// When `data.len() != rows * cols` (a programming error, never user input).
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Self {
        assert_eq!(
            data.len(),
            rows * cols,
            "matrix buffer has the wrong length"
        );
        Self { rows, cols, data }
    }

    /// Row `i` as a slice.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Copies the rows named by `idx` into one contiguous buffer (a batch).
    pub fn gather_rows(&self, idx: &[usize]) -> Vec<f32> {
        let mut out = Vec::with_capacity(idx.len() * self.cols);
        for &i in idx {
            out.extend_from_slice(self.row(i));
        }
        out
    }

    /// The columns named by `cols`, in that order, as a matrix of the same rows.
    ///
    /// # Panics
    /// When a column index is out of range (a programming error, never user input).
    pub fn select_columns(&self, cols: &[usize]) -> Matrix {
        let mut out = Vec::with_capacity(self.rows * cols.len());
        for i in 0..self.rows {
            let row = self.row(i);
            out.extend(cols.iter().map(|&c| row[c]));
        }
        Matrix::new(self.rows, cols.len(), out)
    }
}
