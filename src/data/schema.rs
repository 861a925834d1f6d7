//! The data schema: which columns are features, how each is parsed, imputed, one-hot encoded
//! and scaled. It is fitted once on the training table ([`Schema::fit`]), stored in the model
//! directory, and applied unchanged to every later file ([`Schema::transform`]).

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{ImageShape, Matrix, Table};
use crate::error::{Result, VaeError};

/// How missing cells are filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Impute {
    /// The column's mean over the training rows.
    Mean,
    /// The column's median over the training rows.
    Median,
}

impl FromStr for Impute {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mean" => Ok(Self::Mean),
            "median" => Ok(Self::Median),
            _ => Err(format!(
                "unknown imputation '{s}' (expected mean or median)"
            )),
        }
    }
}

/// How numeric features are scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// `shared` when the columns share one unit ([`shares_one_unit`]: pixels, counts on one
    /// range), else `standard`. Resolved when the schema is fitted; never stored.
    #[default]
    Auto,
    /// (x − mean) / standard deviation.
    Standard,
    /// (x − mean) / one pooled standard deviation for every column (the root of the columns'
    /// mean variance): centred, but the columns keep their relative spread, so near-constant
    /// ones (a digit's border pixels) stay near-constant instead of being blown up.
    Shared,
    /// (x − median) / interquartile range: robust to outliers.
    Robust,
    /// (x − min) / (max − min), into [0, 1].
    Minmax,
    /// Values as they are.
    None,
}

impl FromStr for Scale {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "shared" => Ok(Self::Shared),
            "standard" => Ok(Self::Standard),
            "robust" => Ok(Self::Robust),
            "minmax" => Ok(Self::Minmax),
            "none" => Ok(Self::None),
            _ => Err(format!(
                "unknown scaling '{s}' (expected auto, standard, shared, robust, minmax or none)"
            )),
        }
    }
}

/// What the user said about the columns of the training file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DataOptions {
    /// Column passed through to every output as the row id.
    pub id_column: Option<String>,
    /// Column holding true labels: never trained on, used for metrics.
    pub label_column: Option<String>,
    /// Columns to leave out.
    pub exclude: Vec<String>,
    /// If set, exactly these columns are the features.
    pub columns: Option<Vec<String>>,
    /// Columns to one-hot encode.
    pub categorical: Vec<String>,
    /// How to fill missing cells (none: missing cells are an error).
    pub impute: Option<Impute>,
    /// How to scale numeric features.
    pub scale: Scale,
}

/// How one input column becomes model inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Feature {
    /// A numeric column: `(value − center) / scale`, missing cells replaced by `fill`.
    Numeric {
        /// Column name.
        name: String,
        /// Fill value for missing cells, if imputation was requested.
        fill: Option<f64>,
        /// Subtracted before scaling.
        center: f64,
        /// Divisor (1 for a constant column).
        scale: f64,
    },
    /// A categorical column, one-hot encoded over the categories seen in training.
    Categorical {
        /// Column name.
        name: String,
        /// Categories in encoding order.
        categories: Vec<String>,
    },
}

impl Feature {
    /// The input column's name.
    pub fn name(&self) -> &str {
        match self {
            Feature::Numeric { name, .. } | Feature::Categorical { name, .. } => name,
        }
    }

    /// How many model inputs the column becomes.
    pub fn width(&self) -> usize {
        match self {
            Feature::Numeric { .. } => 1,
            Feature::Categorical { categories, .. } => categories.len(),
        }
    }
}

/// The fitted schema, stored in the model's `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Id column, if any.
    pub id_column: Option<String>,
    /// Label column, if any.
    pub label_column: Option<String>,
    /// Features in input order.
    pub features: Vec<Feature>,
    /// The scaling used.
    pub scale: Scale,
    /// The imputation used.
    pub impute: Option<Impute>,
    /// For image models: the shape of one image. The features are then its pixels, named
    /// columns of a pixel CSV, or none at all for images read from IDX files or folders.
    #[serde(default)]
    pub image: Option<ImageShape>,
}

/// A table turned into model inputs.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Model inputs, one row per data row.
    pub x: Matrix,
    /// Name of the id column in outputs (`row` when the data has none).
    pub id_name: String,
    /// Row ids.
    pub ids: Vec<String>,
    /// True labels, when the label column is present.
    pub labels: Option<Vec<String>>,
    /// Name of the label column, when present.
    pub label_name: Option<String>,
    /// Warnings for the user (constant columns, unseen categories, …).
    pub warnings: Vec<String>,
}

enum Cell {
    Value(f64),
    Missing,
}

fn parse_cell(table: &Table, col: usize, row: usize) -> Result<Cell> {
    let raw = &table.columns[col][row];
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Cell::Value(v)),
        Ok(_) => Ok(Cell::Missing),
        Err(_) if is_missing_token(raw) => Ok(Cell::Missing),
        Err(_) => Err(VaeError::Input(format!(
            "{}: line {}, column '{}': cannot read \"{}\" as a number \
             (hint: --exclude {} skips the column, --categorical {} one-hot encodes it)",
            table.source_name(),
            table.lines[row],
            table.headers[col],
            raw,
            table.headers[col],
            table.headers[col]
        ))),
    }
}

/// Cells read as missing: empty, `NA`, `N/A`, `null` or `?` (any case).
pub fn is_missing_token(raw: &str) -> bool {
    raw.is_empty()
        || ["na", "n/a", "null", "?"]
            .iter()
            .any(|t| raw.eq_ignore_ascii_case(t))
}

fn missing_error(table: &Table, col: usize, row: usize, training: bool) -> VaeError {
    VaeError::Input(format!(
        "{}: line {}, column '{}': missing or non-finite value \"{}\" (hint: {})",
        table.source_name(),
        table.lines[row],
        table.headers[col],
        &table.columns[col][row],
        if training {
            "--impute mean or --impute median fills missing values"
        } else {
            "the model was trained without --impute; retrain it with --impute mean or median"
        }
    ))
}

fn median(sorted: &[f64]) -> f64 {
    quantile_sorted(sorted, 0.5)
}

/// Linear-interpolated quantile of sorted values (`q` in [0, 1]).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn require_column(table: &Table, name: &str, flag: &str) -> Result<usize> {
    table.column_index(name).ok_or_else(|| {
        VaeError::Usage(format!(
            "{}: {flag} '{name}' is not a column (columns: {})",
            table.source_name(),
            table.headers.join(", ")
        ))
    })
}

impl Schema {
    /// Learns the schema from the training table. Returns the schema and warnings.
    pub fn fit(table: &Table, opts: &DataOptions) -> Result<(Schema, Vec<String>)> {
        let mut warnings = Vec::new();
        let names = feature_names(table, opts)?;
        let mut features = Vec::with_capacity(names.len());
        let mut constant = Vec::new();
        // numeric columns' feature index and values, scaled once all are read
        let mut numeric: Vec<(usize, Vec<f64>)> = Vec::new();
        for name in names {
            let col = table.column_index(&name).expect("checked above");
            if opts.categorical.contains(&name) {
                let mut cats: Vec<String> = table.columns[col].to_vec();
                cats.sort();
                cats.dedup();
                features.push(Feature::Categorical {
                    name,
                    categories: cats,
                });
                continue;
            }
            let mut values = Vec::with_capacity(table.n_rows());
            let mut first_missing = None;
            for r in 0..table.n_rows() {
                match parse_cell(table, col, r)? {
                    Cell::Value(v) => values.push(v),
                    Cell::Missing => {
                        first_missing.get_or_insert(r);
                    }
                }
            }
            if values.is_empty() {
                return Err(VaeError::Input(format!(
                    "{}: column '{name}' has no numeric values (all cells are empty, NaN or \
                     infinite; hint: --exclude {name})",
                    table.source_name()
                )));
            }
            let fill = match (first_missing, opts.impute) {
                (Some(r), None) => return Err(missing_error(table, col, r, true)),
                (Some(_), Some(imp)) | (None, Some(imp)) => {
                    let mut sorted = values.clone();
                    sorted.sort_by(f64::total_cmp);
                    Some(match imp {
                        Impute::Mean => mean_std(&values).0,
                        Impute::Median => median(&sorted),
                    })
                }
                (None, None) => None,
            };
            if let Some(f) = fill {
                values.resize(table.n_rows(), f);
            }
            numeric.push((features.len(), values));
            features.push(Feature::Numeric {
                name,
                fill,
                center: 0.0,
                scale: 1.0,
            });
        }
        // the scaling, decided on all numeric columns at once
        let scale_kind = match opts.scale {
            Scale::Auto if shares_one_unit(numeric.iter().map(|(_, v)| v.as_slice())) => {
                Scale::Shared
            }
            Scale::Auto => Scale::Standard,
            s => s,
        };
        let pooled = (scale_kind == Scale::Shared).then(|| {
            let vars: Vec<f64> = numeric.iter().map(|(_, v)| mean_std(v).1.powi(2)).collect();
            (vars.iter().sum::<f64>() / vars.len().max(1) as f64).sqrt()
        });
        for (i, mut values) in numeric {
            let Feature::Numeric {
                name,
                center: c,
                scale: s,
                ..
            } = &mut features[i]
            else {
                unreachable!("numeric features are recorded as such")
            };
            let name = name.clone();
            let (center, mut scale) = match pooled {
                Some(p) => (mean_std(&values).0, p),
                None => scale_stats(&mut values, scale_kind),
            };
            if !(center.is_finite() && (scale.is_finite() || scale.is_nan())) {
                let (lo, hi) = values
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                        (a.min(v), b.max(v))
                    });
                return Err(VaeError::Input(format!(
                    "{}: column '{}': its values run from {lo:e} to {hi:e}, a range too wide to \
                     scale (it overflows); rescale the column or --exclude it",
                    table.source_name(),
                    crate::data::clip(&name)
                )));
            }
            if scale.is_nan() || scale <= 1e-12 {
                if scale_kind != Scale::None {
                    constant.push(name.clone());
                }
                scale = 1.0;
            }
            (*c, *s) = (center, scale);
        }
        if !constant.is_empty() {
            warnings.push(format!(
                "{} constant column{} (left unscaled): {}",
                constant.len(),
                if constant.len() == 1 { "" } else { "s" },
                constant.join(", ")
            ));
        }
        Ok((
            Schema {
                id_column: opts.id_column.clone(),
                label_column: opts.label_column.clone(),
                features,
                scale: scale_kind,
                impute: opts.impute,
                image: None,
            },
            warnings,
        ))
    }

    /// Number of model inputs (one-hot columns expanded).
    pub fn input_dim(&self) -> usize {
        match self.image {
            Some(s) if self.features.is_empty() => s.len(),
            _ => self.features.iter().map(Feature::width).sum(),
        }
    }

    /// Each feature with the index of its first model input (a categorical column spans
    /// [`Feature::width`] inputs from there), in order.
    pub fn features_at(&self) -> impl Iterator<Item = (usize, &Feature)> {
        self.features.iter().scan(0, |at, f| {
            let start = *at;
            *at += f.width();
            Some((start, f))
        })
    }

    /// The schema of images read from IDX files or folders: no columns, just the shape.
    pub fn for_images(shape: ImageShape) -> Schema {
        Schema {
            id_column: None,
            label_column: None,
            features: Vec::new(),
            scale: Scale::None,
            impute: None,
            image: Some(shape),
        }
    }

    /// Learns the schema of a CSV of pixels (`--image-shape`): every feature column is one
    /// pixel, channel-major; values in [0, 1] are kept, values up to 255 are divided by
    /// [`pixel_divisor`] (255, or the pixels' common maximum, such as 16 for the 8×8 digits).
    /// Returns the schema and the training images.
    pub fn fit_pixels(
        table: &Table,
        opts: &DataOptions,
        shape: ImageShape,
    ) -> Result<(Schema, Prepared)> {
        if !opts.categorical.is_empty() {
            return Err(VaeError::Usage(
                "--categorical does not apply to a CSV of pixels".into(),
            ));
        }
        let opts = DataOptions {
            scale: Scale::None,
            ..opts.clone()
        };
        let (mut schema, _) = Schema::fit(table, &opts)?;
        if schema.features.len() != shape.len() {
            return Err(VaeError::Input(format!(
                "{}: --image-shape {} needs {} pixel columns, the file has {} feature columns",
                table.source_name(),
                shape,
                shape.len(),
                schema.features.len()
            )));
        }
        let mut p = schema.transform(table)?;
        let d = p.x.cols;
        if let Some(i) = p.x.data.iter().position(|v| !(0.0..=255.0).contains(v)) {
            let (r, c) = (i / d, i % d);
            return Err(VaeError::Input(format!(
                "{}: line {}, column '{}': pixel value {} is outside 0..255",
                table.source_name(),
                table.lines[r],
                schema.features[c].name(),
                p.x.data[i]
            )));
        }
        let divisor = pixel_divisor(&p.x);
        if divisor > 1.0 {
            for f in &mut schema.features {
                if let Feature::Numeric { scale, .. } = f {
                    *scale = divisor;
                }
            }
            let divisor = divisor as f32;
            p.x.data.iter_mut().for_each(|v| *v /= divisor);
        }
        schema.image = Some(shape);
        Ok((schema, p))
    }

    /// Names of the columns [`Schema::inverse_rows`] writes: the feature columns, or the
    /// pixels of images read from IDX files or folders.
    pub fn input_names_of_columns(&self) -> Vec<String> {
        if self.image.is_some() && self.features.is_empty() {
            self.input_names()
        } else {
            self.features.iter().map(|f| f.name().to_string()).collect()
        }
    }

    /// Names of the model inputs (`col=category` for one-hot columns).
    pub fn input_names(&self) -> Vec<String> {
        if let (Some(s), true) = (self.image, self.features.is_empty()) {
            let mut out = Vec::with_capacity(s.len());
            for c in 0..s.channels {
                for y in 0..s.height {
                    for x in 0..s.width {
                        out.push(if s.channels == 1 {
                            format!("pixel_{y}_{x}")
                        } else {
                            format!("pixel_{c}_{y}_{x}")
                        });
                    }
                }
            }
            return out;
        }
        let mut out = Vec::new();
        for f in &self.features {
            match f {
                Feature::Numeric { name, .. } => out.push(name.clone()),
                Feature::Categorical { name, categories } => {
                    out.extend(categories.iter().map(|c| format!("{name}={c}")))
                }
            }
        }
        out
    }

    /// Applies the schema to a table: checks its columns, parses, imputes, encodes, scales.
    pub fn transform(&self, table: &Table) -> Result<Prepared> {
        if let (Some(s), true) = (self.image, self.features.is_empty()) {
            return Err(VaeError::Model(format!(
                "{}: the model was trained on {s} images read from IDX files or a folder; give it \
                 images the same way",
                table.source_name()
            )));
        }
        let mut warnings = Vec::new();
        let missing: Vec<&str> = self
            .features
            .iter()
            .map(Feature::name)
            .filter(|n| table.column_index(n).is_none())
            .collect();
        if !missing.is_empty() {
            let known: Vec<&str> = self
                .features
                .iter()
                .map(Feature::name)
                .chain(self.id_column.as_deref())
                .chain(self.label_column.as_deref())
                .collect();
            let extra: Vec<&str> = table
                .headers
                .iter()
                .map(String::as_str)
                .filter(|h| !known.contains(h))
                .collect();
            return Err(VaeError::Model(format!(
                "{}: the columns do not match the model's schema; missing columns: {}; extra \
                 columns: {}",
                table.source_name(),
                missing.join(", "),
                if extra.is_empty() {
                    "none".to_string()
                } else {
                    extra.join(", ")
                }
            )));
        }
        let n = table.n_rows();
        let d = self.input_dim();
        let mut data = vec![0f32; n * d];
        let mut offset = 0;
        for f in &self.features {
            let col = table.column_index(f.name()).expect("checked above");
            match f {
                Feature::Numeric {
                    fill,
                    center,
                    scale,
                    ..
                } => {
                    for r in 0..n {
                        let v = match parse_cell(table, col, r)? {
                            Cell::Value(v) => v,
                            Cell::Missing => match fill {
                                Some(f) => *f,
                                None => return Err(missing_error(table, col, r, false)),
                            },
                        };
                        let x = ((v - center) / scale) as f32;
                        if !x.is_finite() {
                            return Err(VaeError::Input(format!(
                                "{}: line {}, column '{}': the value {v:e} is out of the range \
                                 the model takes (it becomes {x} after scaling; model inputs \
                                 must stay within ±3.4e38){}",
                                table.source_name(),
                                table.lines[r],
                                crate::data::clip(f.name()),
                                if self.scale == Scale::None {
                                    "; train with --scale standard"
                                } else {
                                    ""
                                }
                            )));
                        }
                        data[r * d + offset] = x;
                    }
                }
                Feature::Categorical { name, categories } => {
                    let mut unseen = 0usize;
                    for r in 0..n {
                        let cell = &table.columns[col][r];
                        match categories.binary_search_by(|c| c.as_str().cmp(cell)) {
                            Ok(k) => data[r * d + offset + k] = 1.0,
                            Err(_) => unseen += 1,
                        }
                    }
                    if unseen > 0 {
                        warnings.push(format!(
                            "column '{name}': {unseen} row{} with a category not seen in \
                             training (encoded as all zeros)",
                            if unseen == 1 { "" } else { "s" }
                        ));
                    }
                }
            }
            offset += f.width();
        }
        let (id_name, ids) = match self
            .id_column
            .as_deref()
            .and_then(|c| table.column_index(c))
        {
            Some(c) => (table.headers[c].clone(), table.columns[c].to_vec()),
            None => ("row".to_string(), (0..n).map(|i| i.to_string()).collect()),
        };
        let label_idx = self
            .label_column
            .as_deref()
            .and_then(|c| table.column_index(c));
        let labels = label_idx.map(|c| table.columns[c].to_vec());
        let label_name = label_idx.map(|c| table.headers[c].clone());
        Ok(Prepared {
            x: Matrix::new(n, d, data),
            id_name,
            ids,
            labels,
            label_name,
            warnings,
        })
    }

    /// Maps model inputs back to rows in the original units: numeric features un-scaled,
    /// one-hot blocks decoded to their most likely category.
    pub fn inverse_rows(&self, x: &Matrix) -> Vec<Vec<String>> {
        if self.image.is_some() && self.features.is_empty() {
            return (0..x.rows)
                .map(|r| x.row(r).iter().map(|v| v.to_string()).collect())
                .collect();
        }
        (0..x.rows)
            .map(|r| {
                let row = x.row(r);
                let mut offset = 0;
                self.features
                    .iter()
                    .map(|f| {
                        let cell = match f {
                            Feature::Numeric { center, scale, .. } => {
                                format!("{}", f64::from(row[offset]) * scale + center)
                            }
                            Feature::Categorical { categories, .. } => {
                                let block = &row[offset..offset + categories.len()];
                                categories[super::argmax(block)].clone()
                            }
                        };
                        offset += f.width();
                        cell
                    })
                    .collect()
            })
            .collect()
    }

    /// Maps model-space values of the numeric features back to the original units.
    pub fn inverse_numeric(&self, feature: usize, value: f64) -> f64 {
        match &self.features[feature] {
            Feature::Numeric { center, scale, .. } => value * scale + center,
            Feature::Categorical { .. } => value,
        }
    }
}

/// Mean and standard deviation of finite values without overflow: computed on the values
/// divided by the largest magnitude (so cells near f64's limit, such as 1e200 or 1e308, give a
/// finite standard deviation rather than an infinite one), then scaled back. Values of
/// ordinary size are not divided, so their statistics are the plain formulas' to the bit.
fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let m = values.iter().fold(0f64, |a, v| a.max(v.abs()));
    let s = if m > 1e150 { m } else { 1.0 };
    let mean = values.iter().map(|v| v / s).sum::<f64>() / n;
    let var = values.iter().map(|v| (v / s - mean).powi(2)).sum::<f64>() / n;
    (mean * s, var.sqrt() * s)
}

/// Whether numeric columns share one unit, so that standardizing each apart would distort
/// them: at least 8 columns, every value a non-negative integer, and at least a quarter of the
/// columns reaching the common maximum — pixel intensities (digits 0–16, MNIST 0–255), binary
/// indicators, counts on one scale. Tables of measurements in different units (iris, wine)
/// fail the test (their columns' maxima differ), and so do real-valued ones that happen to
/// share a range (sonar's band energies in [0, 1], measured better standardized:
/// benches/RESULTS.md).
pub fn shares_one_unit<'a>(columns: impl Iterator<Item = &'a [f64]>) -> bool {
    let maxima: Vec<Option<f64>> = columns
        .map(|c| {
            let (lo, hi) = c
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            let counts = c.iter().all(|v| v.fract() == 0.0);
            (counts && lo >= 0.0 && hi.is_finite()).then_some(hi)
        })
        .collect();
    if maxima.len() < 8 || maxima.iter().any(Option::is_none) {
        return false;
    }
    let top = maxima.iter().flatten().fold(0f64, |a, &b| a.max(b));
    top > 0.0 && maxima.iter().flatten().filter(|&&m| m == top).count() * 4 >= maxima.len()
}

/// What a CSV of pixels (`rows × pixels`, values in 0..255) is divided by: 1 when every value
/// is in [0, 1]; their common maximum when they have one ([`common_range`]: 16 for the 8×8
/// digits, whose 0..16 divided by 255 would leave every pixel nearly black); 255 otherwise.
pub fn pixel_divisor(x: &Matrix) -> f64 {
    if x.data.iter().all(|&v| v <= 1.0) {
        return 1.0;
    }
    common_range(x).map_or(255.0, f64::from)
}

/// The maximum of a matrix's values when it is above 1 and the columns share one range of
/// whole numbers up to it ([`shares_one_unit`]: a quarter of the columns reach it).
fn common_range(x: &Matrix) -> Option<f32> {
    let top = x.data.iter().fold(0f32, |a, &b| a.max(b));
    if top <= 1.0 {
        return None;
    }
    let mut columns = vec![Vec::with_capacity(x.rows); x.cols];
    for row in x.data.chunks(x.cols.max(1)) {
        for (c, &v) in columns.iter_mut().zip(row) {
            c.push(f64::from(v));
        }
    }
    shares_one_unit(columns.iter().map(Vec::as_slice)).then_some(top)
}

/// The image shape of a table that looks like grayscale pixels: its feature columns (all
/// numeric) number a square of side 8 or more, and they share one range of whole numbers
/// from above 1 to 255 ([`common_range`]), such as the 8×8 digits (0..16) or MNIST as a table
/// of 784 columns (0..255). `None` for anything else (a table whose column count is no such
/// square is never read), and whenever `data` chooses a scaling, one-hot columns or imputation
/// (a table by the user's choice).
pub fn pixel_table_shape(table: &Table, data: &DataOptions) -> Option<ImageShape> {
    if data.scale != Scale::Auto || !data.categorical.is_empty() || data.impute.is_some() {
        return None;
    }
    let d = feature_names(table, data).ok()?.len();
    let side = (d as f64).sqrt().round() as usize;
    if side < 8 || side * side != d {
        return None;
    }
    let opts = DataOptions {
        scale: Scale::None,
        ..data.clone()
    };
    let (schema, _) = Schema::fit(table, &opts).ok()?;
    let x = schema.transform(table).ok()?.x;
    common_range(&x)
        .filter(|&top| top <= 255.0)
        .map(|_| ImageShape::new(1, side, side))
}

/// The feature columns `opts` chooses in `table`: `--columns`, or every column but the id,
/// the label and the excluded ones; each named column must exist.
fn feature_names(table: &Table, opts: &DataOptions) -> Result<Vec<String>> {
    if let Some(id) = &opts.id_column {
        require_column(table, id, "--id-column")?;
    }
    if let Some(l) = &opts.label_column {
        require_column(table, l, "--label-column")?;
    }
    for c in opts.exclude.iter().chain(&opts.categorical) {
        require_column(table, c, "column")?;
    }
    let names: Vec<String> = match &opts.columns {
        Some(cols) => {
            for c in cols {
                require_column(table, c, "--columns")?;
            }
            cols.clone()
        }
        None => table
            .headers
            .iter()
            .filter(|h| {
                Some(*h) != opts.id_column.as_ref()
                    && Some(*h) != opts.label_column.as_ref()
                    && !opts.exclude.contains(h)
            })
            .cloned()
            .collect(),
    };
    if names.is_empty() {
        return Err(VaeError::Usage(format!(
            "{}: no feature columns left to train on",
            table.source_name()
        )));
    }
    Ok(names)
}

fn scale_stats(values: &mut [f64], scale: Scale) -> (f64, f64) {
    match scale {
        Scale::Standard | Scale::Auto | Scale::Shared => mean_std(values),
        Scale::Robust => {
            values.sort_by(f64::total_cmp);
            let med = median(values);
            let iqr = quantile_sorted(values, 0.75) - quantile_sorted(values, 0.25);
            // A column whose IQR is zero (mostly one value) falls back to its std.
            if iqr > 1e-12 {
                (med, iqr)
            } else {
                (med, mean_std(values).1)
            }
        }
        Scale::Minmax => {
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (min, max - min)
        }
        Scale::None => (0.0, 1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Column;
    use std::path::PathBuf;

    fn table(headers: &[&str], rows: &[&[&str]]) -> Table {
        let mut columns = vec![Column::default(); headers.len()];
        for r in rows {
            for (c, v) in r.iter().enumerate() {
                columns[c].push(v);
            }
        }
        Table {
            source: PathBuf::from("t.csv"),
            headers: headers.iter().map(|s| s.to_string()).collect(),
            columns,
            lines: (2..2 + rows.len() as u64).collect(),
        }
    }

    /// A table of `cols` columns `p0…` and 4 rows, cell (r, c) = `cell(r, c)`.
    fn grid(cols: usize, cell: impl Fn(usize, usize) -> String) -> Table {
        let headers: Vec<String> = (0..cols).map(|c| format!("p{c}")).collect();
        let rows: Vec<Vec<String>> = (0..4)
            .map(|r| (0..cols).map(|c| cell(r, c)).collect())
            .collect();
        let h: Vec<&str> = headers.iter().map(String::as_str).collect();
        let r: Vec<Vec<&str>> = rows
            .iter()
            .map(|r| r.iter().map(String::as_str).collect())
            .collect();
        let r: Vec<&[&str]> = r.iter().map(Vec::as_slice).collect();
        table(&h, &r)
    }

    #[test]
    fn tables_of_pixels_are_recognized() {
        // 8×8 whole numbers on 0..16, every column reaching 16 in some row: 8x8 images
        let digits =
            |r: usize, c: usize| (if r == c % 4 { 16 } else { (r * 5 + c) % 16 }).to_string();
        let auto = DataOptions::default();
        assert_eq!(
            pixel_table_shape(&grid(64, digits), &auto),
            Some(ImageShape::new(1, 8, 8))
        );
        assert_eq!(
            pixel_table_shape(&grid(100, |r, c| ((r + c) % 4 * 85).to_string()), &auto),
            Some(ImageShape::new(1, 10, 10))
        );
        // not a square of side 8 or more; binary; fractions; negative; over 255
        for (cols, cell) in [
            (63, &digits as &dyn Fn(usize, usize) -> String),
            (49, &digits),
            (64, &|r: usize, c: usize| ((r + c) % 2).to_string()),
            (64, &|r: usize, c: usize| format!("{}.5", (r + c) % 9)),
            (64, &|r: usize, c: usize| format!("-{}", (r + c) % 9)),
            (64, &|r: usize, c: usize| ((r + c) % 4 * 100).to_string()),
        ] {
            assert_eq!(pixel_table_shape(&grid(cols, cell), &auto), None, "{cols}");
        }
        // a table by the user's choice: a scaling, one-hot columns
        let standard = DataOptions {
            scale: Scale::Standard,
            ..DataOptions::default()
        };
        assert_eq!(pixel_table_shape(&grid(64, digits), &standard), None);
        let onehot = DataOptions {
            categorical: vec!["p0".into()],
            ..DataOptions::default()
        };
        assert_eq!(pixel_table_shape(&grid(64, digits), &onehot), None);
        // an id and a label column are not pixels
        let mut with_label = grid(65, digits);
        with_label.headers[64] = "label".into();
        let labelled = DataOptions {
            label_column: Some("label".into()),
            ..DataOptions::default()
        };
        assert_eq!(pixel_table_shape(&with_label, &auto), None);
        assert_eq!(
            pixel_table_shape(&with_label, &labelled),
            Some(ImageShape::new(1, 8, 8))
        );
    }

    #[test]
    fn pixels_are_divided_by_their_range() {
        let m = |cols: usize, f: &dyn Fn(usize, usize) -> f32| {
            Matrix::new(
                4,
                cols,
                (0..4 * cols).map(|i| f(i / cols, i % cols)).collect(),
            )
        };
        // the 8×8 digits' 0..16, 8-bit pixels, values already in [0, 1]
        let sixteen = |r: usize, c: usize| if r == c % 4 { 16 } else { (r * 5 + c) % 16 };
        assert_eq!(pixel_divisor(&m(64, &|r, c| sixteen(r, c) as f32)), 16.0);
        assert_eq!(
            pixel_divisor(&m(64, &|r, c| ((r + c) % 4 * 85) as f32)),
            255.0
        );
        assert_eq!(
            pixel_divisor(&m(64, &|r, c| ((r + c) % 3) as f32 / 2.0)),
            1.0
        );
        // one bright pixel in a dark image set: no common range, so 8-bit
        assert_eq!(
            pixel_divisor(&m(64, &|r, c| if (r, c) == (0, 0) {
                40.0
            } else {
                (c % 3) as f32
            })),
            255.0
        );
        // a CSV of 0..16 pixels with --image-shape: divided by 16
        let t = grid(64, |r, c| sixteen(r, c).to_string());
        let (schema, p) =
            Schema::fit_pixels(&t, &DataOptions::default(), ImageShape::new(1, 8, 8)).unwrap();
        assert_eq!(p.x.data.iter().fold(0f32, |a, &b| a.max(b)), 1.0);
        assert_eq!(p.x.data[1], sixteen(0, 1) as f32 / 16.0);
        assert_eq!(schema.transform(&t).unwrap().x.data, p.x.data);
    }

    #[test]
    fn columns_sharing_one_unit_are_detected() {
        let col = |v: &[f64]| v.to_vec();
        // pixels: 8 columns of 0..16 intensities, most reaching 16, two border ones always 0
        let mut pixels: Vec<Vec<f64>> = (0..6).map(|j| col(&[0., 3., 16., j as f64])).collect();
        pixels.push(col(&[0., 0., 0., 0.]));
        pixels.push(col(&[0., 0., 1., 0.]));
        assert!(shares_one_unit(pixels.iter().map(Vec::as_slice)));
        // binary indicators
        let bits: Vec<Vec<f64>> = (0..10).map(|j| col(&[0., 1., (j % 2) as f64])).collect();
        assert!(shares_one_unit(bits.iter().map(Vec::as_slice)));
        // counts on one range: word counts 0..5 in 12 columns, 3 of them reaching 5
        let counts: Vec<Vec<f64>> = (0..12)
            .map(|j| col(&[0., 1., if j < 3 { 5. } else { 2. }]))
            .collect();
        assert!(shares_one_unit(counts.iter().map(Vec::as_slice)));
        // mixed units: the maxima differ (a quarter must reach the common one)
        let mixed: Vec<Vec<f64>> = (0..10).map(|j| col(&[0., 10f64.powi(j)])).collect();
        assert!(!shares_one_unit(mixed.iter().map(Vec::as_slice)));
        // real values in one range (sonar's energies), negative values, too few columns
        let reals: Vec<Vec<f64>> = (0..10).map(|_| col(&[0.25, 1.0])).collect();
        assert!(!shares_one_unit(reals.iter().map(Vec::as_slice)));
        let negative: Vec<Vec<f64>> = (0..10).map(|_| col(&[-1., 4.])).collect();
        assert!(!shares_one_unit(negative.iter().map(Vec::as_slice)));
        assert!(!shares_one_unit(pixels[..7].iter().map(Vec::as_slice)));
    }

    #[test]
    fn shared_scaling_centres_each_column_and_divides_by_one_pooled_deviation() {
        // 8 count columns: column j holds 0 and 2j (mean j, variance j²), all reaching 14
        // in some column — enough to share a unit; pooled deviation √(mean j²) over j = 0..7
        let headers: Vec<String> = (0..8).map(|j| format!("c{j}")).collect();
        let h: Vec<&str> = headers.iter().map(String::as_str).collect();
        let rows: Vec<Vec<String>> = [0, 1]
            .iter()
            .map(|&r| (0..8).map(|j| (r * 2 * j).to_string()).collect())
            .collect();
        let rows: Vec<Vec<&str>> = rows
            .iter()
            .map(|r| r.iter().map(String::as_str).collect())
            .collect();
        let rows: Vec<&[&str]> = rows.iter().map(Vec::as_slice).collect();
        let t = table(&h, &rows);
        let (schema, _) = Schema::fit(&t, &DataOptions::default()).unwrap();
        // 14 is reached by one column of 8: no shared unit, so auto standardizes
        assert_eq!(schema.scale, Scale::Standard);
        let opts = DataOptions {
            scale: Scale::Shared,
            ..DataOptions::default()
        };
        let (schema, _) = Schema::fit(&t, &opts).unwrap();
        assert_eq!(schema.scale, Scale::Shared);
        let pooled = ((0..8).map(|j| (j * j) as f64).sum::<f64>() / 8.0).sqrt();
        for (j, f) in schema.features.iter().enumerate() {
            let Feature::Numeric { center, scale, .. } = f else {
                panic!("numeric")
            };
            assert_eq!(*center, j as f64);
            assert!((scale - pooled).abs() < 1e-12, "{scale} vs {pooled}");
        }
        let x = schema.transform(&t).unwrap().x;
        // row 1, column 7: (14 − 7) / pooled
        assert!((f64::from(x.row(1)[7]) - 7.0 / pooled).abs() < 1e-6);
    }

    #[test]
    fn missing_tokens_in_any_case() {
        for t in ["", "NA", "na", "N/A", "n/a", "NULL", "Null", "?"] {
            assert!(is_missing_token(t), "{t:?}");
        }
        for t in ["nan?", "n", "none", "0"] {
            assert!(!is_missing_token(t), "{t:?}");
        }
        let t = table(&["a"], &[&["1"], &["NA"], &["nan"], &["Null"], &["2"]]);
        let cells: Vec<bool> = (0..5)
            .map(|r| matches!(parse_cell(&t, 0, r).unwrap(), Cell::Missing))
            .collect();
        assert_eq!(cells, vec![false, true, true, true, false]);
    }

    #[test]
    fn standard_scaling_round_trip() {
        let t = table(&["a", "b"], &[&["1", "10"], &["2", "20"], &["3", "30"]]);
        let (s, w) = Schema::fit(&t, &DataOptions::default()).unwrap();
        assert!(w.is_empty());
        let p = s.transform(&t).unwrap();
        let sd = (2.0f64 / 3.0).sqrt();
        assert!((p.x.data[0] as f64 - (-1.0 / sd)).abs() < 1e-6);
        for r in 0..3 {
            for c in 0..2 {
                let back = s.inverse_numeric(c, p.x.data[r * 2 + c] as f64);
                let orig: f64 = t.columns[c][r].parse().unwrap();
                assert!((back - orig).abs() < 1e-5, "{back} vs {orig}");
            }
        }
    }

    #[test]
    fn robust_and_minmax_scaling() {
        let t = table(&["a"], &[&["0"], &["1"], &["2"], &["3"], &["100"]]);
        let opts = DataOptions {
            scale: Scale::Robust,
            ..Default::default()
        };
        let (s, _) = Schema::fit(&t, &opts).unwrap();
        // median 2, q1 1, q3 3 → IQR 2
        assert_eq!(
            s.features[0],
            Feature::Numeric {
                name: "a".into(),
                fill: None,
                center: 2.0,
                scale: 2.0
            }
        );
        let opts = DataOptions {
            scale: Scale::Minmax,
            ..Default::default()
        };
        let (s, _) = Schema::fit(&t, &opts).unwrap();
        let p = s.transform(&t).unwrap();
        assert_eq!(p.x.data, vec![0.0, 0.01, 0.02, 0.03, 1.0]);
    }

    #[test]
    fn imputation_mean_and_median() {
        let t = table(&["a"], &[&["1"], &[""], &["2"], &["NaN"], &["9"]]);
        let e = Schema::fit(&t, &DataOptions::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv: line 3, column 'a': missing or non-finite value \"\" (hint: --impute mean \
             or --impute median fills missing values)"
        );
        for (imp, want) in [(Impute::Mean, 4.0), (Impute::Median, 2.0)] {
            let opts = DataOptions {
                impute: Some(imp),
                scale: Scale::None,
                ..Default::default()
            };
            let (s, _) = Schema::fit(&t, &opts).unwrap();
            let p = s.transform(&t).unwrap();
            assert_eq!(p.x.data, vec![1.0, want, 2.0, want, 9.0]);
        }
    }

    #[test]
    fn text_in_numeric_column_names_line_and_hint() {
        let t = table(&["a", "b"], &[&["1", "x"], &["2", "oops"]]);
        let opts = DataOptions {
            categorical: vec![],
            ..Default::default()
        };
        let e = Schema::fit(&t, &opts).unwrap_err().to_string();
        assert_eq!(
            e,
            "t.csv: line 2, column 'b': cannot read \"x\" as a number (hint: --exclude b skips \
             the column, --categorical b one-hot encodes it)"
        );
    }

    #[test]
    fn inverse_rows_unscale_and_decode_categories() {
        let t = table(&["a", "c"], &[&["1", "red"], &["3", "blue"]]);
        let opts = DataOptions {
            categorical: vec!["c".into()],
            ..Default::default()
        };
        let (s, _) = Schema::fit(&t, &opts).unwrap();
        let p = s.transform(&t).unwrap();
        let rows = s.inverse_rows(&p.x);
        assert_eq!(rows, vec![vec!["1", "red"], vec!["3", "blue"]]);
        // soft one-hot values decode to the largest
        let soft = Matrix::new(1, 3, vec![0.0, 0.2, 0.7]);
        assert_eq!(s.inverse_rows(&soft), vec![vec!["2", "red"]]);
    }

    #[test]
    fn categorical_one_hot_and_unseen() {
        let t = table(&["a", "c"], &[&["1", "red"], &["2", "blue"], &["3", "red"]]);
        let opts = DataOptions {
            categorical: vec!["c".into()],
            scale: Scale::None,
            ..Default::default()
        };
        let (s, _) = Schema::fit(&t, &opts).unwrap();
        assert_eq!(s.input_names(), vec!["a", "c=blue", "c=red"]);
        let p = s.transform(&t).unwrap();
        assert_eq!(p.x.data, vec![1., 0., 1., 2., 1., 0., 3., 0., 1.]);
        let t2 = table(&["a", "c"], &[&["1", "green"]]);
        let p = s.transform(&t2).unwrap();
        assert_eq!(p.x.data, vec![1., 0., 0.]);
        assert_eq!(p.warnings.len(), 1);
    }

    #[test]
    fn constant_column_warns_without_dividing_by_zero() {
        let t = table(&["a", "k"], &[&["1", "5"], &["2", "5"]]);
        let (s, w) = Schema::fit(&t, &DataOptions::default()).unwrap();
        assert_eq!(w, vec!["1 constant column (left unscaled): k"]);
        let p = s.transform(&t).unwrap();
        assert!(p.x.data.iter().all(|v| v.is_finite()));
        assert_eq!(p.x.data[1], 0.0);
    }

    #[test]
    fn schema_mismatch_lists_missing_and_extra() {
        let t = table(&["a", "b"], &[&["1", "2"], &["2", "3"]]);
        let (s, _) = Schema::fit(&t, &DataOptions::default()).unwrap();
        let t2 = table(&["a", "z"], &[&["1", "2"]]);
        let e = s.transform(&t2).unwrap_err().to_string();
        assert_eq!(
            e,
            "t.csv: the columns do not match the model's schema; missing columns: b; extra \
             columns: z"
        );
    }

    #[test]
    fn ids_labels_and_exclusions() {
        let t = table(
            &["id", "a", "y", "skip"],
            &[&["r1", "1", "cat", "q"], &["r2", "2", "dog", "w"]],
        );
        let opts = DataOptions {
            id_column: Some("id".into()),
            label_column: Some("y".into()),
            exclude: vec!["skip".into()],
            ..Default::default()
        };
        let (s, _) = Schema::fit(&t, &opts).unwrap();
        assert_eq!(s.input_names(), vec!["a"]);
        let p = s.transform(&t).unwrap();
        assert_eq!(p.ids, vec!["r1", "r2"]);
        assert_eq!(p.labels.unwrap(), vec!["cat", "dog"]);
        assert_eq!(p.id_name, "id");
    }
}
